"""A feedback's replay badge and person: what the recording really holds.

The badge means a recording is stored (not just an id the SDK sent), and a
feedback without an email shows the person identify gave its session.
Runs on SQLite and PostgreSQL against a live server.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable

import httpx

from tests.support.dashboard import Browser, inbox, send
from tests.support.live_server import LiveServer
from tests.support.replay import BROWSER_UA, start_session

REPLAY_BADGE = re.compile(r'data-feedback-id="(\w+)".*?</tr>', re.S)


def badges(page: str) -> dict[str, bool]:
    return {m.group(1): '<span class="replay">' in m.group(0) for m in REPLAY_BADGE.finditer(page)}


def test_the_replay_badge_means_a_recording_is_stored(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Badges")
    session_id = start_session(site, client_id)
    recorded = send(site, client_id, rating=3, sessionReplayId=session_id)
    # An id the SDK sent but no recording behind it (seeded data, a refused session).
    phantom = send(site, client_id, rating=3, sessionReplayId="01" + "x" * 24)
    plain = send(site, client_id, rating=3)
    assert badges(inbox(ana, client_id).text) == {recorded: True, phantom: False, plain: False}


def test_a_feedback_without_email_shows_the_person_its_session_was_identified_as(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Person")
    anonymous_id = "anon-" + secrets.token_hex(4)
    session_id = start_session(site, client_id, anonymousId=anonymous_id)
    email = f"dee-{secrets.token_hex(3)}@example.com"
    identified = httpx.post(
        f"{site.url}/api/identify",
        json={"clientId": client_id, "anonymousId": anonymous_id, "email": email},
        headers={"User-Agent": BROWSER_UA},
        timeout=30,
    )
    assert identified.status_code == 200, identified.text
    item = send(site, client_id, rating=2, sessionReplayId=session_id)
    page = ana.http.get(f"/projects/{client_id}/feedback/{item}").text
    person = re.search(r"<dt>Person</dt><dd>(.*?)</dd>", page, re.S)
    assert person, page
    assert f">{email}</a>" in person.group(1)
    assert "identified in the session replay" in person.group(1)
    # With its own email, the feedback's wins and is a link to their feedback.
    own = send(site, client_id, rating=2, sessionReplayId=session_id, userEmail="own@example.com")
    page = ana.http.get(f"/projects/{client_id}/feedback/{own}").text
    person = re.search(r"<dt>Person</dt><dd>(.*?)</dd>", page, re.S)
    assert person, page
    assert 'person=own%40example.com">own@example.com</a>' in person.group(1)
    assert "identified" not in person.group(1)
