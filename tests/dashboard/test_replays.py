"""Session replays in the dashboard, through real HTTP against a live server.

Recordings arrive through the public ingest API on the same server (start a
session, PUT gzip chunks), exactly as the SDK sends them; a test that needs
chosen timestamps or an identified person sets them in the database. Runs on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
from sqlalchemy import update

from sayso.dashboard.security import PLAYER_CSP
from sayso.store.replay_views import MAX_GAPS
from sayso.store.schema import replay_sessions
from tests.support.dashboard import (
    CSP,
    Browser,
    db,
    notes,
    send,
)
from tests.support.live_server import LiveServer
from tests.support.replay import put_chunk, start_session

T0 = 1_795_000_000_000  # the first event's timestamp (epoch ms) in made-up recordings
SESSION_ROW = re.compile(r'<tr class="replay-row" data-session-id="(\w+)"')
DATA = re.compile(r'<script type="application/json" id="replay-data">(.*?)</script>', re.S)


def snapshot(at: int, body: str = "Hello") -> list[dict[str, Any]]:
    """A minimal rrweb recording start: Meta (the page) and a full snapshot."""
    return [
        {
            "type": 4,
            "data": {"href": "https://shop.example/", "width": 800, "height": 600},
            "timestamp": at,
        },
        {
            "type": 2,
            "timestamp": at + 1,
            "data": {
                "node": {
                    "type": 0,
                    "id": 1,
                    "childNodes": [
                        {
                            "type": 2,
                            "id": 2,
                            "tagName": "html",
                            "attributes": {},
                            "childNodes": [
                                {
                                    "type": 2,
                                    "id": 3,
                                    "tagName": "head",
                                    "attributes": {},
                                    "childNodes": [],
                                },
                                {
                                    "type": 2,
                                    "id": 4,
                                    "tagName": "body",
                                    "attributes": {},
                                    "childNodes": [{"type": 3, "id": 5, "textContent": body}],
                                },
                            ],
                        }
                    ],
                },
                "initialOffset": {"left": 0, "top": 0},
            },
        },
    ]


def moves(start: int, n: int, step: int = 100) -> list[dict[str, Any]]:
    return [
        {
            "type": 3,
            "data": {"source": 1, "positions": [{"x": i, "y": i, "id": 4, "timeOffset": 0}]},
            "timestamp": start + i * step,
        }
        for i in range(1, n + 1)
    ]


def url_change(at: int, href: str) -> dict[str, Any]:
    return {"type": 5, "data": {"tag": "url-change", "payload": {"href": href}}, "timestamp": at}


def player_data(page: httpx.Response) -> dict[str, Any]:
    match = DATA.search(page.text)
    assert match, "the player page carries its data"
    return dict(json.loads(match.group(1)))


def listed(browser: Browser, client_id: str, query: str = "") -> list[str]:
    page = browser.http.get(f"/projects/{client_id}/replays{query}")
    assert page.status_code == 200, page.text
    return SESSION_ROW.findall(page.text)


def set_session(site: LiveServer, session_id: str, **values: Any) -> None:
    with db(site).begin() as conn:
        conn.execute(
            update(replay_sessions).where(replay_sessions.c.id == session_id).values(**values)
        )


# --- the events endpoint ----------------------------------------------------------


def test_the_events_endpoint_streams_the_sessions_chunks_as_one_array_in_seq_order(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Events")
    session_id = start_session(site, client_id)
    first, second, third = (
        snapshot(T0),
        moves(T0 + 10, 3),
        [url_change(T0 + 900, "https://shop.example/cart")],
    )
    # out of order, as retries deliver them
    put_chunk(site, client_id, session_id, 2, third)
    put_chunk(site, client_id, session_id, 0, first)
    put_chunk(site, client_id, session_id, 1, second)

    response = ana.http.get(f"/projects/{client_id}/replays/{session_id}/events.json")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "private"
    assert response.json() == first + second + third


def test_a_session_without_chunks_has_an_empty_event_array(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Empty")
    session_id = start_session(site, client_id)

    response = ana.http.get(f"/projects/{client_id}/replays/{session_id}/events.json")
    player = ana.http.get(f"/projects/{client_id}/replays/{session_id}")

    assert response.json() == []
    assert "Nothing was recorded in this session yet." in player.text


# --- who may see what -------------------------------------------------------------


def test_non_members_get_404_on_the_list_the_player_and_the_events(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana, ben = people("ana"), people("ben")
    client_id = ana.create_project("Private")
    session_id = start_session(site, client_id)
    put_chunk(site, client_id, session_id, 0, snapshot(T0))
    base = f"/projects/{client_id}/replays"

    for path in (base, f"{base}/{session_id}", f"{base}/{session_id}/events.json"):
        assert ana.http.get(path).status_code == 200, path
        refused = ben.http.get(path)
        assert refused.status_code == 404, path
        assert "Hello" not in refused.text


def test_a_session_of_another_project_is_404_even_to_a_member_of_both(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    mine, theirs = ana.create_project("Mine"), ana.create_project("Theirs")
    session_id = start_session(site, theirs)
    put_chunk(site, theirs, session_id, 0, snapshot(T0, body="their page"))

    for path in (
        f"/projects/{mine}/replays/{session_id}",
        f"/projects/{mine}/replays/{session_id}/events.json",
    ):
        response = ana.http.get(path)
        assert response.status_code == 404, path
        assert "their page" not in response.text
    assert ana.http.get(f"/projects/{mine}/replays/no-such-session").status_code == 404
    assert ana.http.get(f"/projects/{theirs}/replays/{session_id}").status_code == 200


def test_signed_out_visitors_are_sent_to_sign_in_from_every_replay_route(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Signed out")
    session_id = start_session(site, client_id)
    base = f"/projects/{client_id}/replays"
    with httpx.Client(base_url=site.url, timeout=30) as anonymous:
        for path in (base, f"{base}/{session_id}", f"{base}/{session_id}/events.json"):
            response = anonymous.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"] == "/login?next=" + quote(path, safe="")


# --- the player page --------------------------------------------------------------


def test_the_player_opens_before_the_feedback_with_every_linked_feedback_and_the_gaps(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Player")
    session_id = start_session(site, client_id)
    put_chunk(site, client_id, session_id, 0, snapshot(T0) + moves(T0, 10))  # up to T0+1000
    put_chunk(site, client_id, session_id, 1, moves(T0 + 5000, 10), dropped_before=2)
    chosen = send(
        site,
        client_id,
        rating=2,
        comment="Broken <b>cart</b>",
        sessionReplayId=session_id,
        replayOffsetMs=8000,
    )
    other = send(site, client_id, rating=4, sessionReplayId=session_id, replayOffsetMs=1000)
    send(site, client_id, rating=1, comment="another session")

    page = ana.http.get(f"/projects/{client_id}/replays/{session_id}?feedback={chosen}")

    assert page.status_code == 200
    data = player_data(page)
    assert data["eventsUrl"] == f"/projects/{client_id}/replays/{session_id}/events.json"
    assert data["startMs"] == 8000 - 3000
    assert [(f["id"], f["offsetMs"], f["current"]) for f in data["feedback"]] == [
        (other, 1000, False),
        (chosen, 8000, True),
    ]
    assert data["gaps"] == [{"dropped": 2, "after": T0 + 1000, "before": T0 + 5100}]
    # the comment is inert JSON in the page: its markup can't close the <script>
    assert "<b>" not in DATA.search(page.text).group(1)  # type: ignore[union-attr]
    assert "Broken &lt;b&gt;cart&lt;/b&gt;" in page.text
    assert f'href="/projects/{client_id}/feedback/{chosen}">Back to the feedback</a>' in page.text
    assert '<script src="/static/build/player.js' in page.text


def test_a_missing_seq_is_a_gap_too_and_without_feedback_the_player_starts_at_zero(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Missing seq")
    session_id = start_session(site, client_id)
    put_chunk(site, client_id, session_id, 0, snapshot(T0))
    put_chunk(site, client_id, session_id, 3, moves(T0 + 9000, 2))

    data = player_data(ana.http.get(f"/projects/{client_id}/replays/{session_id}?feedback=nope"))

    assert data["startMs"] == 0
    assert data["gaps"] == [{"dropped": 2, "after": T0 + 1, "before": T0 + 9100}]


def test_a_sender_claiming_a_gap_before_every_chunk_gets_at_most_fifty_marked(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    # Gaps are the sender's claim: however many it claims, a view returns at most MAX_GAPS.
    ana = people("ana")
    client_id = ana.create_project("Many gaps")
    session_id = start_session(site, client_id)
    for seq in range(MAX_GAPS + 5):
        put_chunk(site, client_id, session_id, seq * 2, moves(T0 + seq * 1000, 1))

    data = player_data(ana.http.get(f"/projects/{client_id}/replays/{session_id}"))

    assert len(data["gaps"]) == MAX_GAPS
    assert data["gaps"][1] == {"dropped": 1, "after": T0 + 1100, "before": T0 + 2100}


def test_only_the_player_page_relaxes_the_csp_and_scripts_stay_self_only(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("CSP")
    session_id = start_session(site, client_id)

    player = ana.http.get(f"/projects/{client_id}/replays/{session_id}")
    listing = ana.http.get(f"/projects/{client_id}/replays")
    events = ana.http.get(f"/projects/{client_id}/replays/{session_id}/events.json")

    csp = player.headers["content-security-policy"]
    assert csp == PLAYER_CSP
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["default-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert "frame-src" not in directives, "'none', from default-src"
    assert "object-src" not in directives
    assert listing.headers["content-security-policy"] == CSP
    assert events.headers["content-security-policy"] == CSP
    assert player.headers["cache-control"] == "no-store"


def test_the_players_script_and_stylesheet_are_served_with_their_types(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    script = ana.http.get("/static/build/player.js")
    style = ana.http.get("/static/build/player.css")

    assert script.status_code == style.status_code == 200
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert style.headers["content-type"] == "text/css; charset=utf-8"
    assert b".replayer-mouse" in style.content, "rrweb's own styles are bundled"


# --- the feedback detail ----------------------------------------------------------


def test_the_feedback_detail_links_to_the_player_at_that_feedback(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id, elsewhere = ana.create_project("Detail"), ana.create_project("Elsewhere")
    session_id = start_session(site, client_id)
    foreign = start_session(site, elsewhere)
    linked = send(site, client_id, rating=3, sessionReplayId=session_id, replayOffsetMs=4200)
    stray = send(site, client_id, rating=3, sessionReplayId=foreign, replayOffsetMs=10)

    page = ana.http.get(f"/projects/{client_id}/feedback/{linked}").text
    other = ana.http.get(f"/projects/{client_id}/feedback/{stray}").text

    href = f"/projects/{client_id}/replays/{session_id}?feedback={linked}"
    assert f'<a href="{html.escape(href)}" data-replay-link>Watch session replay</a>' in page
    assert "4.2 s into the session" in page
    # a session id of another project is no link into it
    assert "Watch session replay" not in other
    assert f"No recording of this session is stored (<code>{foreign}</code>)" in other


# --- the sessions list ------------------------------------------------------------


def test_the_sessions_list_is_newest_first_with_duration_start_page_person_and_feedback(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("List")
    old = start_session(site, client_id, "https://shop.example/old")
    new = start_session(site, client_id, "https://shop.example/<new>")
    now = datetime.now(UTC)
    set_session(site, old, created_at=now - timedelta(hours=2), user_email="Dee@Example.com")
    put_chunk(site, client_id, new, 0, snapshot(T0) + moves(T0, 5))
    put_chunk(site, client_id, new, 1, moves(T0 + 60_000, 20, step=3000), dropped_before=1)
    send(site, client_id, sessionReplayId=old, replayOffsetMs=5, rating=4)
    send(site, client_id, sessionReplayId=old, replayOffsetMs=9, rating=3)

    page = ana.http.get(f"/projects/{client_id}/replays")

    assert SESSION_ROW.findall(page.text) == [new, old]
    rows = re.findall(r'<tr class="replay-row".*?</tr>', page.text, re.S)
    assert "<td>0:57</td>" in rows[0], "500 ms + 57,000 ms: the chunks' durations"
    assert "https://shop.example/&lt;new&gt;" in rows[0]
    assert "2 (1 lost)" in rows[0]
    assert "anon-" in rows[0]
    assert '<td class="has-feedback">—</td>' in rows[0]
    assert "Dee@Example.com" in rows[1]
    assert '<td class="has-feedback">2</td>' in rows[1]
    assert f'href="/projects/{client_id}/replays"' in page.text, "the project nav links here"


def test_the_sessions_list_filters_by_person_feedback_and_dates_from_the_url(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Filters")
    a, b, c = (start_session(site, client_id) for _ in range(3))
    set_session(
        site, a, created_at=datetime(2026, 11, 1, 12, tzinfo=UTC), user_email="ann@example.com"
    )
    set_session(
        site, b, created_at=datetime(2026, 11, 5, 23, 59, tzinfo=UTC), anonymous_id="anon-bob"
    )
    set_session(site, c, created_at=datetime(2026, 11, 9, 0, 0, tzinfo=UTC))
    send(site, client_id, sessionReplayId=b, replayOffsetMs=1, rating=3)

    assert listed(ana, client_id) == [c, b, a]
    assert listed(ana, client_id, "?person=ANN@example.com") == [a]
    assert listed(ana, client_id, "?person=anon-bob") == [b]
    assert listed(ana, client_id, "?feedback=yes") == [b]
    assert listed(ana, client_id, "?feedback=no") == [c, a]
    assert listed(ana, client_id, "?from=2026-11-02&to=2026-11-05") == [b]
    assert listed(ana, client_id, "?from=2026-11-06") == [c]
    assert listed(ana, client_id, "?to=2026-11-01") == [a]
    assert listed(ana, client_id, "?person=&feedback=&from=&to=") == [c, b, a], "empty = no filter"
    page = ana.http.get(f"/projects/{client_id}/replays?feedback=maybe&from=yesterday")
    assert page.status_code == 200
    assert notes(page) == [
        "Ignored feedback='maybe': use yes or no.",
        "Ignored from='yesterday': use a date such as 2026-11-27.",
    ]
    assert SESSION_ROW.findall(page.text) == [c, b, a]


def test_the_sessions_list_pages_by_keyset_keeping_its_filters(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Pages")
    base = datetime(2026, 10, 1, tzinfo=UTC)
    made = []
    for i in range(53):
        session_id = start_session(site, client_id)
        set_session(site, session_id, created_at=base + timedelta(minutes=i))
        made.append(session_id)
    newest_first = made[::-1]
    for session_id in made[:3]:  # the three oldest have feedback
        send(site, client_id, sessionReplayId=session_id, replayOffsetMs=1, rating=3)

    first = ana.http.get(f"/projects/{client_id}/replays")
    assert SESSION_ROW.findall(first.text) == newest_first[:50]
    older = re.search(r'<a href="([^"]+)" rel="next">Older</a>', first.text)
    assert older
    second = ana.http.get(html.unescape(older.group(1)))
    assert SESSION_ROW.findall(second.text) == newest_first[50:]
    assert 'rel="next"' not in second.text
    assert ">Newest</a>" in second.text
    assert listed(ana, client_id, f"?feedback=yes&before={made[2]}") == [made[1], made[0]]
    ignored = ana.http.get(f"/projects/{client_id}/replays?before=not-a-session")
    assert notes(ignored) == ["Ignored before: no such session in this project."]
