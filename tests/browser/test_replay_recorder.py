"""Sayso's session recorder (sdk/src/replay.ts) in Debian's Chromium, against a real Sayso.

A host page on its own origin (strict CSP, hostile CSS) installs the widget with
``data-replay``; the visitor types a secret into a form field, gives feedback
through the widget and leaves. The recording must reach the server, link to the
feedback at the right moment, be finalised on the way out, and contain neither
the secret, nor masked or blocked text, nor the widget's own UI.

Headless Chromium says "HeadlessChrome" in its user agent, which the server
drops as a bot, so the browser context gets an ordinary Chrome user agent.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import Engine, select

from sayso.settings import Settings
from sayso.store.clients import create_client
from sayso.store.replay_views import gaps
from sayso.store.replays import ReplaySession, get_session
from sayso.store.schema import feedback, identities
from tests.support.browser import (
    HOSTILE_CSS,
    host_page,
    host_site,
    ordinary_user_agent,
    recorded_events,
    recorded_sessions,
)
from tests.support.browser import chromium as launched_chromium
from tests.support.live_server import LiveServer, migrated_server

pytestmark = pytest.mark.browser

SECRET = "hunter2-" + secrets.token_hex(4)
MASKED = "masked-" + secrets.token_hex(4)
BLOCKED = "blocked-" + secrets.token_hex(4)
COMMENT = "widget-comment-" + secrets.token_hex(4)

FORM = f"""<form id="checkout">
<label for="card">Card number</label> <input id="card" name="card" autocomplete="off">
<p class="sayso-mask">{MASKED}</p>
<div data-sayso-block><p>{BLOCKED}</p></div>
</form>
"""


@pytest.fixture(scope="module")
def sayso(fresh_settings: Callable[..., Settings]) -> Iterator[tuple[LiveServer, Engine]]:
    with migrated_server(fresh_settings("sqlite")) as (server, engine):
        yield server, engine


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    root = tmp_path_factory.mktemp("replay-host-site")
    (root / "hostile.css").write_text(HOSTILE_CSS)
    (root / "elsewhere.html").write_text("<!doctype html><title>Elsewhere</title><p>Bye")
    with host_site(root) as url:
        yield root, url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_chromium() as browser:
        yield browser


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    agent = ordinary_user_agent(browser)
    context = browser.new_context(viewport={"width": 1280, "height": 800}, user_agent=agent)
    yield context
    context.close()


def write_page(site: tuple[Path, str], sayso_url: str, client_id: str, attributes: str) -> str:
    root, base = site
    name = f"replay-{secrets.token_hex(4)}.html"
    html = host_page(sayso_url, client_id, extra_attributes=attributes)
    (root / name).write_text(
        html.replace('<button id="own-button"', FORM + '<button id="own-button"')
    )
    return f"{base}/{name}"


def wait_for(what: Callable[[], Any], timeout: float = 20, message: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value or time.monotonic() > deadline:
            assert value, message or "timed out"
            return value
        time.sleep(0.1)


def feedback_rows(engine: Engine, page_url: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        result = conn.execute(select(feedback).where(feedback.c.page_url == page_url)).mappings()
        return [dict(row) for row in result]


def identity_rows(engine: Engine, client_id: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        query = select(identities).where(identities.c.client_id == client_id)
        return [dict(row) for row in conn.execute(query).mappings()]


def chunk_count(engine: Engine, session_id: str) -> int:
    session = get_session(engine, session_id)
    return session.chunk_count if session else 0


def test_a_recorded_session_links_to_feedback_masks_the_secret_and_is_finalised(
    context: BrowserContext, site: tuple[Path, str], sayso: tuple[LiveServer, Engine]
) -> None:
    server, engine = sayso
    client_id = create_client(engine, "replay test").id
    url = write_page(site, server.url, client_id, "data-replay")
    page: Page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    page.on(
        "console",
        lambda m: (
            problems.append(m.text) if m.type == "error" or "Content Security" in m.text else None
        ),
    )

    loaded = time.monotonic()
    page.goto(url)
    session: ReplaySession = wait_for(
        lambda: next(iter(recorded_sessions(engine, client_id)), None), message="no session started"
    )
    assert session.start_url == url
    assert session.anonymous_id
    assert session.sdk_session_id

    page.locator("#card").press_sequentially(SECRET, delay=20)
    # a chunk goes every 3 s (when there are events): wait for the one with the typing
    page.wait_for_timeout(3200)
    wait_for(lambda: chunk_count(engine, session.id) >= 1, message="no chunks stored")

    page.get_by_role("button", name="Give feedback").click()
    form = page.get_by_role("dialog", name="Send feedback")
    form.get_by_role("radio", name="Good").click()
    form.get_by_role("textbox", name="Tell us more").fill(COMMENT)
    form.get_by_role("button", name="Send").click()
    expect(form.get_by_text("Thank you!")).to_be_visible(timeout=20_000)
    elapsed_ms = (time.monotonic() - loaded) * 1000

    [row] = wait_for(lambda: feedback_rows(engine, url), message="no feedback row")
    assert row["session_replay_id"] == session.id
    offset = row["replay_offset_ms"]
    assert isinstance(offset, int)
    assert 3000 <= offset <= elapsed_ms, (offset, elapsed_ms)

    # leaving the page flushes what is left and finalises the session (sendBeacon)
    page.goto(f"{site[1]}/elsewhere.html")
    ended = wait_for(
        lambda: (s := get_session(engine, session.id)) and s.closed_reason == "finalised" and s,
        message="the session was not finalised",
    )
    assert ended.ended_at is not None
    # The page's last chunk may land just after its finalise beacon (the
    # server takes it within a grace period): wait for it.
    wait_for(lambda: chunk_count(engine, session.id) >= 2, message="no chunk after the feedback")
    ended = get_session(engine, session.id)
    assert ended is not None
    assert ended.dropped_chunks == 0

    assert ended.chunk_count >= 2  # before the feedback, and after it
    recorded = recorded_events(server.settings, engine, session.id)
    events = json.loads(recorded)
    text = recorded.decode()
    assert any(e["type"] == 2 for e in events), "a full snapshot"
    assert "Customer app" in text, "the page itself was recorded"
    assert "*" * len(SECRET) in text, "the typing was recorded, masked"
    assert SECRET not in text
    assert SECRET[:6] not in text
    assert MASKED not in text
    assert BLOCKED not in text
    # the widget's own UI (a shadow root under <sayso-feedback>) is never recorded
    assert COMMENT not in text
    assert "Tell us more" not in text
    # events are in time order across chunks, and the feedback falls inside the recording
    stamps = [e["timestamp"] for e in events]
    assert stamps == sorted(stamps)
    assert stamps[0] + offset <= stamps[-1]
    assert problems == [], problems
    page.close()


def test_a_reload_continues_the_same_session(
    context: BrowserContext, site: tuple[Path, str], sayso: tuple[LiveServer, Engine]
) -> None:
    server, engine = sayso
    client_id = create_client(engine, "replay reload").id
    url = write_page(site, server.url, client_id, "data-replay")
    page = context.new_page()
    page.goto(url)
    [first] = wait_for(lambda: recorded_sessions(engine, client_id))
    wait_for(lambda: chunk_count(engine, first.id) >= 1)
    page.reload()
    page.wait_for_timeout(500)
    wait_for(lambda: chunk_count(engine, first.id) >= 2)
    page.wait_for_timeout(3500)
    assert [s.id for s in recorded_sessions(engine, client_id)] == [first.id]
    assert gaps(engine, first.id) == [], "seq continues after the reload"
    page.close()


def two_pages(
    site: tuple[Path, str], sayso: tuple[LiveServer, Engine], client_id: str, page: Page
) -> tuple[str, str, str, ReplaySession]:
    """Two recorded pages of one site, the second marked; ``page`` has recorded the first.

    Returns both URLs, the second page's marker and the session.
    """
    server, engine = sayso
    first_url = write_page(site, server.url, client_id, "data-replay")
    marker = "second-page-" + secrets.token_hex(4)
    second_url = write_page(site, server.url, client_id, "data-replay")
    second = site[0] / second_url.rsplit("/", 1)[1]
    second.write_text(second.read_text().replace("Customer app", marker))
    page.goto(first_url)
    [session] = wait_for(lambda: recorded_sessions(engine, client_id))
    wait_for(lambda: chunk_count(engine, session.id) >= 1, message="no chunk from the first page")
    return first_url, second_url, marker, session


@pytest.mark.parametrize("stay_ms", [300, 1500])
def test_a_short_visit_to_a_second_page_is_in_the_recording(
    context: BrowserContext, site: tuple[Path, str], sayso: tuple[LiveServer, Engine], stay_ms: int
) -> None:
    # Leaving hides the page before pagehide: the chunk cut then must survive
    # the navigation (it used to go out as an ordinary fetch, which the
    # navigation cancelled, and pagehide skipped it as already under way).
    server, engine = sayso
    client_id = create_client(engine, "replay second page").id
    page = context.new_page()
    _, second_url, marker, session = two_pages(site, sayso, client_id, page)

    page.goto(second_url)
    page.locator("#card").press_sequentially("1234", delay=20)
    page.wait_for_timeout(stay_ms)
    page.goto(f"{site[1]}/elsewhere.html")

    wait_for(
        lambda: marker.encode() in recorded_events(server.settings, engine, session.id),
        message="the second page is missing from the recording",
    )
    assert [s.id for s in recorded_sessions(engine, client_id)] == [session.id]
    page.close()


def test_a_page_left_before_its_session_start_was_answered_is_sent_by_the_next_page(
    context: BrowserContext, site: tuple[Path, str], sayso: tuple[LiveServer, Engine]
) -> None:
    server, engine = sayso
    client_id = create_client(engine, "replay unanswered start").id
    page = context.new_page()
    first_url, second_url, marker, session = two_pages(site, sayso, client_id, page)

    # The second page's session start never gets an answer while it is open.
    start = f"{server.url}/api/replay-sessions"
    page.route(start, lambda route: route.abort())
    page.goto(second_url)
    page.locator("#card").press_sequentially("1234", delay=20)
    page.wait_for_timeout(300)
    page.unroute(start)
    page.goto(first_url)

    wait_for(
        lambda: marker.encode() in recorded_events(server.settings, engine, session.id),
        message="what the second page recorded never arrived",
    )
    assert [s.id for s in recorded_sessions(engine, client_id)] == [session.id]
    assert gaps(engine, session.id) == []
    page.close()


def test_a_sampled_out_session_loads_no_rrweb_and_sends_nothing(
    context: BrowserContext, site: tuple[Path, str], sayso: tuple[LiveServer, Engine]
) -> None:
    server, engine = sayso
    client_id = create_client(engine, "replay sampled out").id
    url = write_page(site, server.url, client_id, 'data-replay="0"')
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(url)
    expect(page.get_by_role("button", name="Give feedback")).to_be_visible()
    page.wait_for_timeout(1000)
    to_sayso = [u for u in requests if u.startswith(server.url)]
    assert to_sayso == [f"{server.url}/widget.js", f"{server.url}/widget/replay.js"]
    assert recorded_sessions(engine, client_id) == []
    page.close()


def test_the_init_user_is_identified_and_its_email_reaches_the_session(
    context: BrowserContext, site: tuple[Path, str], sayso: tuple[LiveServer, Engine]
) -> None:
    server, engine = sayso
    client_id = create_client(engine, "replay identify").id
    email = f"visitor-{secrets.token_hex(4)}@example.com"
    root, base = site
    name = f"identify-{secrets.token_hex(4)}"
    # The JS API (the tag has no user attribute); the page's CSP allows no inline script.
    options = {"clientId": client_id, "replay": True, "user": {"email": email, "id": "user-42"}}
    (root / f"{name}.js").write_text(f"window.saysoWidget = Sayso.init({json.dumps(options)});\n")
    tags = f'<script src="{server.url}/widget.js"></script>\n<script src="/{name}.js"></script>'
    html, found = re.subn(
        r"<script src=\"[^\"]*/widget\.js\"[^>]*></script>", tags, host_page(server.url, client_id)
    )
    assert found == 1
    (root / f"{name}.html").write_text(html)
    url = f"{base}/{name}.html"

    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    identify_requests: list[dict[str, Any]] = []
    page.on(
        "request",
        lambda r: (
            identify_requests.append(
                {"method": r.method, "headers": r.headers, "body": r.post_data}
            )
            if r.url == f"{server.url}/api/identify"
            else None
        ),
    )
    page.goto(url)
    session: ReplaySession = wait_for(
        lambda: next(iter(recorded_sessions(engine, client_id)), None), message="no session started"
    )
    assert session.anonymous_id
    # Whichever arrives first, the session ends up with the email.
    wait_for(
        lambda: (s := get_session(engine, session.id)) and s.user_email == email,
        message="the session did not get the user's email",
    )
    [identity] = wait_for(lambda: identity_rows(engine, client_id), message="no identities row")
    assert identity["anonymous_id"] == session.anonymous_id
    assert identity["email"] == email
    assert identity["external_user_id"] == "user-42"
    assert identity["display_name"] is None
    page.wait_for_timeout(100)  # Playwright's sync API delivers page events only in its own calls
    [sent] = identify_requests
    assert sent["method"] == "POST"
    assert sent["headers"]["content-type"].startswith("text/plain")
    assert json.loads(sent["body"]) == {
        "clientId": client_id,
        "anonymousId": session.anonymous_id,
        "externalUserId": "user-42",
        "email": email,
    }

    # identify() on the widget handle reaches the recording: a new person, the same id ...
    other = f"other-{secrets.token_hex(4)}@example.com"
    page.evaluate("email => window.saysoWidget.identify({ email })", other)
    wait_for(
        lambda: [row["email"] for row in identity_rows(engine, client_id)] == [other],
        message="the second identify did not arrive",
    )
    # ... the same person again sends nothing, and a logout rotates the anonymousId.
    page.evaluate("email => window.saysoWidget.identify({ email })", other)
    page.evaluate("() => window.saysoWidget.identify(null)")
    anonymous_id = page.evaluate("() => localStorage.getItem('sayso:anon')")
    assert anonymous_id
    assert anonymous_id != session.anonymous_id
    page.wait_for_timeout(500)
    assert len(identify_requests) == 2
    # The session keeps the first email (only sessions without one are filled).
    stored = get_session(engine, session.id)
    assert stored is not None
    assert stored.user_email == email
    assert problems == [], problems
    page.close()
