"""The People view, through real HTTP against a live server, on SQLite and PostgreSQL.

People are counted by the ``feedback_people`` rollup, which triggers keep in
step with ``feedback``; these tests submit through the public API (the ingest
writer's raw inserts, ``COPY`` on PostgreSQL) and delete through SQL.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
from markupsafe import escape
from sqlalchemy import delete

from sayso.store.schema import feedback
from tests.support.dashboard import (
    CSP,
    Browser,
    db,
    ids,
    insert_at,
    send,
)
from tests.support.live_server import LiveServer

PERSON = re.compile(
    r'<tr class="person-row"><td><a href="([^"]+)">([^<]+)</a></td><td>(\d+)</td>'
    r"<td>([^<]+)</td><td><time [^>]*>([^<]+)</time></td><td><time [^>]*>([^<]+)</time></td></tr>"
)


def people_page(browser: Browser, client_id: str, query: str = "") -> httpx.Response:
    page = browser.http.get(f"/projects/{client_id}/people{query}")
    assert page.status_code == 200, page.text
    return page


def rows(page: httpx.Response) -> list[tuple[str, str, str, str, str, str]]:
    """(inbox link, email, count, average, first seen, last seen) per person, in page order."""
    return [
        (html.unescape(link), html.unescape(email), n, avg, first, last)
        for link, email, n, avg, first, last in PERSON.findall(page.text)
    ]


def emails(page: httpx.Response) -> list[str]:
    return [row[1] for row in rows(page)]


def test_feedback_is_grouped_by_email_ignoring_case_with_count_average_and_first_and_last_seen(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("People")
    now = datetime.now(UTC).replace(microsecond=0)
    insert_at(site, client_id, now - timedelta(days=3), rating=1, user_email="Bea@Example.com")
    bea = {send(site, client_id, rating=4, userEmail="bea@example.com")}
    send(site, client_id, comment="no rating", userEmail="BEA@EXAMPLE.COM")
    send(site, client_id, rating=2, userEmail="cy@example.com")
    send(site, client_id, rating=3)  # no email: nobody to list

    page = people_page(ana, client_id)

    assert page.headers["content-security-policy"] == CSP
    assert [row[1:4] for row in rows(page)] == [
        ("cy@example.com", "1", "2.00"),
        ("bea@example.com", "3", "2.50"),
    ], "most recently seen first"
    first_seen, last_seen = rows(page)[1][4:6]
    assert first_seen == (now - timedelta(days=3)).strftime("%Y-%m-%d %H:%M UTC")
    seen_last = datetime.strptime(last_seen, "%Y-%m-%d %H:%M UTC").replace(tzinfo=UTC)
    assert seen_last >= now - timedelta(minutes=1), "last seen moved on to the newest"
    link = rows(page)[1][0]
    every_status = "&status=new&status=in_progress&status=resolved&status=archived"
    assert link == f"/projects/{client_id}/inbox?person=bea%40example.com{every_status}"
    listed = set(ids(ana.http.get(link)))
    assert bea <= listed
    assert len(listed) == 3, "the inbox's person filter ignores case too"


def test_people_are_listed_per_environment_and_link_to_that_environments_inbox(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Envs")
    staged = send(site, client_id, rating=4, userEmail="dee@example.com", environment="staging")
    send(site, client_id, rating=2, userEmail="eli@example.com")

    assert emails(people_page(ana, client_id)) == ["eli@example.com"]
    staging = people_page(ana, client_id, "?env=staging")
    assert emails(staging) == ["dee@example.com"]
    assert ids(ana.http.get(rows(staging)[0][0])) == [staged]
    assert "env=staging&amp;person=dee%40example.com" in staging.text


def test_people_sort_by_last_seen_or_by_count_and_search_by_email_prefix(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Sorts")
    now = datetime.now(UTC)
    for _ in range(3):
        insert_at(site, client_id, now - timedelta(days=5), rating=3, user_email="old@example.com")
    send(site, client_id, rating=3, userEmail="new@example.com")
    send(site, client_id, rating=3, userEmail="newer@example.com")

    assert emails(people_page(ana, client_id)) == [
        "newer@example.com",
        "new@example.com",
        "old@example.com",
    ]
    by_count = people_page(ana, client_id, "?sort=count")
    assert emails(by_count) == ["old@example.com", "newer@example.com", "new@example.com"]
    assert emails(people_page(ana, client_id, "?q=NEW&sort=count")) == [
        "newer@example.com",
        "new@example.com",
    ], "ties in reverse email order, like the rest"
    assert emails(people_page(ana, client_id, "?q=%25")) == [], "LIKE wildcards are literal"
    assert "Ignored sort=&#39;sideways&#39;" in people_page(ana, client_id, "?sort=sideways").text


def test_people_come_fifty_to_a_page_with_next_and_previous_links_keeping_the_query(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Many")
    start = datetime.now(UTC) - timedelta(hours=1)
    for n in range(55):
        insert_at(
            site, client_id, start + timedelta(seconds=n), rating=3, user_email=f"p{n:02}@x.example"
        )

    first = people_page(ana, client_id, "?q=p")
    assert emails(first) == [f"p{n:02}@x.example" for n in range(54, 4, -1)]
    link = re.search(r'<a href="([^"]+)" rel="next">', first.text)
    assert link
    assert html.unescape(link.group(1)) == f"/projects/{client_id}/people?q=p&page=2"
    second = people_page(ana, client_id, "?q=p&page=2")
    assert emails(second) == [f"p{n:02}@x.example" for n in range(4, -1, -1)]
    assert 'rel="next"' not in second.text
    assert 'rel="prev"' in second.text


def test_deleting_feedback_updates_the_persons_count_average_and_last_seen(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Deletes")
    now = datetime.now(UTC).replace(microsecond=0)
    insert_at(site, client_id, now - timedelta(days=2), rating=1, user_email="fay@example.com")
    latest = send(site, client_id, rating=4, userEmail="Fay@example.com")
    only = send(site, client_id, rating=4, userEmail="gil@example.com")

    with db(site).begin() as conn:
        conn.execute(delete(feedback).where(feedback.c.id.in_([latest, only])))

    page = people_page(ana, client_id)
    assert [row[1:] for row in rows(page)] == [
        (
            "fay@example.com",
            "1",
            "1.00",
            (now - timedelta(days=2)).strftime("%Y-%m-%d %H:%M UTC"),
            (now - timedelta(days=2)).strftime("%Y-%m-%d %H:%M UTC"),
        )
    ], "gil has no feedback left and is gone"


def test_markup_in_emails_and_environments_is_shown_escaped(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("XSS")
    email = "a&b'{x}=`1`@evil.example"
    environment = "<script>alert(1)</script>"
    send(site, client_id, rating=1, userEmail=email, environment=environment)

    page = people_page(ana, client_id, f"?{httpx.QueryParams(env=environment)}")

    assert environment not in page.text
    assert escape(environment) in page.text
    assert escape(email) in page.text
    assert emails(page) == [email]
    assert 'href="javascript:' not in page.text


def test_someone_who_is_not_a_member_gets_404(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    owner, stranger = people("owner"), people("stranger")
    client_id = owner.create_project("Secret")
    send(site, client_id, rating=4, userEmail="secret@example.com")

    for query in ("", "?sort=count", "?q=secret", "?env=staging&page=2"):
        answer = stranger.http.get(f"/projects/{client_id}/people{query}")
        assert answer.status_code == 404
        assert "secret@example.com" not in answer.text
