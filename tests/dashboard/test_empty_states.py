"""What the inbox says when it lists nothing: first run, or a filter too narrow.

Runs on SQLite and PostgreSQL against a live server.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from sayso.dashboard.pages import rating_label
from tests.support.dashboard import Browser, inbox, send
from tests.support.live_server import LiveServer


def test_a_new_project_says_no_feedback_yet_and_links_to_install(
    people: Callable[[str], Browser],
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Brand new")
    page = inbox(ana, client_id).text
    assert "<h2>No feedback yet</h2>" in page
    assert f'<a href="/projects/{client_id}">Install the widget</a>' in page
    assert "No feedback matches" not in page


def test_a_filter_matching_nothing_offers_to_clear_it_keeping_the_environment(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Filtered")
    send(site, client_id, rating=4, environment="staging")
    page = inbox(ana, client_id, "?env=staging&rating=1&q=nothing").text
    assert "<h2>No feedback matches</h2>" in page
    assert "No feedback yet" not in page
    clear = re.search(r'<a href="([^"]+)">Clear filters</a>', page)
    assert clear, page
    assert clear.group(1) == f"/projects/{client_id}/inbox?env=staging"
    # The default tab of a project whose feedback is all in one environment.
    default = inbox(ana, client_id).text
    assert "<h2>No feedback matches</h2>" in default
    assert "Other environments are in the tabs above" in default


def test_row_checkboxes_are_labelled_by_their_comment_not_an_id(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Labels")
    send(site, client_id, rating=2, comment="The export button does nothing " * 5)
    send(site, client_id, rating=4)
    labels = re.findall(
        r'type="checkbox" name="ids" value="\w+" aria-label="([^"]+)"', inbox(ana, client_id).text
    )
    assert len(labels) == 2
    # Newest first: the rating alone, then the comment (cut to 60 characters).
    assert labels[0].startswith(f"Select: {rating_label(4)}, ")
    assert labels[1].startswith("Select: The export button does nothing")
    assert len(labels[1].partition(", 20")[0]) <= len("Select: ") + 60
    assert all(" UTC" in label for label in labels)


def test_the_summary_says_what_the_filters_show(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Summary")
    send(site, client_id, rating=1, comment="export fails", environment="production")
    default = inbox(ana, client_id).text
    assert "Showing all but archived feedback, newest first." in default
    filtered = inbox(
        ana,
        client_id,
        "?env=production&rating=1&rating=2&has=comment&status=new&status=in_progress&q=export",
    ).text
    assert (
        "Showing new or in progress feedback, in production, rated Terrible or Bad, "
        "with a comment, matching \u201cexport\u201d, newest first."
    ) in html.unescape(filtered)
