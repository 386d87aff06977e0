"""The item page keeps the list it was opened from: back, newer and older within its filters.

Runs on SQLite and PostgreSQL against a live server.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from tests.support.dashboard import Browser, inbox, send
from tests.support.live_server import LiveServer


def links(page: str) -> dict[str, str]:
    nav = re.search(r'<nav class="item-nav" aria-label="Feedback">(.*?)</nav>', page, re.S)
    assert nav, page
    return {
        text: html.unescape(href)
        for href, text in re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', nav.group(1))
    }


def test_an_item_opened_from_a_filtered_list_leads_back_and_on_within_it(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Navigation")
    oldest = send(site, client_id, rating=4, comment="a")
    send(site, client_id, rating=1, comment="not in the list")
    middle = send(site, client_id, rating=4, comment="b")
    newest = send(site, client_id, rating=4, comment="c")
    base = f"/projects/{client_id}"
    listing = inbox(ana, client_id, "?rating=4&q=").text
    assert f'href="{base}/feedback/{middle}?rating=4" data-open' in listing

    page = ana.http.get(f"{base}/feedback/{middle}?rating=4").text
    assert links(page) == {
        "Back to the inbox": f"{base}/inbox?rating=4",
        "Newer": f"{base}/feedback/{newest}?rating=4",
        "Older": f"{base}/feedback/{oldest}?rating=4",
    }
    # the ends of the list have one way on
    assert "Newer" not in links(ana.http.get(f"{base}/feedback/{newest}?rating=4").text)
    assert "Older" not in links(ana.http.get(f"{base}/feedback/{oldest}?rating=4").text)
    # a triage change on the item comes back to the item in its list
    changed = ana.http.post(
        f"{base}/triage",
        data={
            "csrf_token": ana.token,
            "action": "status:resolved",
            "ids": middle,
            "next": f"{base}/feedback/{middle}?rating=4",
        },
    )
    assert changed.headers["location"] == f"{base}/feedback/{middle}?rating=4"


def test_without_filters_the_item_walks_the_default_inbox(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Plain")
    first = send(site, client_id, rating=2)
    second = send(site, client_id, rating=3)
    base = f"/projects/{client_id}"
    assert links(ana.http.get(f"{base}/feedback/{first}").text) == {
        "Back to the inbox": f"{base}/inbox",
        "Newer": f"{base}/feedback/{second}",
    }
