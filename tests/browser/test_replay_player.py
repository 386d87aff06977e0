"""The dashboard's replay player in Debian's Chromium, against a real Sayso.

A recording is DOM written by whoever visited the customer's site. The first
test crafts a hostile one (scripts, on* handlers, javascript: URLs, srcdoc,
object/embed, meta refresh, <base>, a javascript: form), sends it through the
real ingest API, plays it through and pokes at it: nothing may run, nothing
may navigate, and the frame must be sandboxed without allow-scripts.

The second records a real session with Sayso's own recorder (as in
test_replay_recorder_browser.py), gives feedback through the widget, and
follows "Watch session replay" from the feedback's page: the player must open
just before the feedback, with its marker on the timeline, and without a
single CSP violation or page error.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from sayso.accounts.memberships import create_project
from sayso.accounts.users import create_user
from sayso.settings import Settings
from sayso.store.replays import get_session
from sayso.store.schema import feedback
from tests.support.browser import (
    HOSTILE_CSS,
    host_page,
    host_site,
    ordinary_user_agent,
    recorded_sessions,
)
from tests.support.browser import chromium as launched_chromium
from tests.support.dashboard import start_server
from tests.support.live_server import LiveServer
from tests.support.replay import put_chunk, start_session

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
LEAD_IN_MS = 3000
T0 = 1_795_000_000_000


@pytest.fixture(scope="module")
def sayso(fresh_settings: Callable[..., Settings]) -> Iterator[LiveServer]:
    with start_server(fresh_settings("sqlite")) as live:
        yield live


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with launched_chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    root = tmp_path_factory.mktemp("player-host-site")
    (root / "hostile.css").write_text(HOSTILE_CSS)
    (root / "elsewhere.html").write_text("<!doctype html><title>Elsewhere</title><p>Bye")
    with host_site(root) as url:
        yield root, url


class Member:
    """A signed-in team member in their own browser context, noting every sign of trouble."""

    def __init__(self, browser: Browser, server: LiveServer) -> None:
        self.email = f"ana-{secrets.token_hex(4)}@example.com"
        self.user = create_user(server.app.runtime.engine, self.email, PASSWORD)
        self.server = server
        self.context = browser.new_context(viewport={"width": 1280, "height": 1000})
        self.page: Page = self.context.new_page()
        self.problems: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"pageerror: {error}"))
        self.page.on("dialog", self._dialog)
        self.page.goto(f"{server.url}/login")
        self.page.get_by_label("Email").fill(self.email)
        self.page.get_by_label("Password").fill(PASSWORD)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(f"{server.url}/")

    def project(self, name: str) -> str:
        return create_project(self.server.app.runtime.engine, self.user.id, name).id

    def _console(self, message: Any) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            self.problems.append(f"console {message.type}: {message.text}")

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def member(chromium: Browser, sayso: LiveServer) -> Iterator[Member]:
    member = Member(chromium, sayso)
    yield member
    member.close()


# --- a hostile recording ----------------------------------------------------------

_ids = itertools.count(1)


def el(
    tag: str, attributes: dict[str, str] | None = None, *children: dict[str, Any]
) -> dict[str, Any]:
    """An rrweb-snapshot serialized element (type 2) with a fresh id."""
    return {
        "type": 2,
        "id": next(_ids),
        "tagName": tag,
        "attributes": attributes or {},
        "childNodes": list(children),
    }


def text(value: str) -> dict[str, Any]:
    return {"type": 3, "id": next(_ids), "textContent": value}


def pwn(n: int) -> str:
    """Script that would leave a trace anywhere it ran: the player's page, its frame, a dialog."""
    return f"window.top.__pwned={n};window.parent.__pwned={n};window.__pwned={n};alert({n})"


def hostile_recording() -> list[dict[str, Any]]:
    body = el(
        "body",
        {"onload": pwn(1)},
        el("h1", {}, text("Hostile recording")),
        el("script", {}, text(pwn(2))),
        el("script", {"src": "https://evil.example/x.js"}),
        el("img", {"src": "x", "onerror": pwn(3), "id": "bad-img"}),
        el("svg", {"onload": pwn(4)}),
        el("div", {"id": "clicky", "onclick": pwn(5)}, text("click me")),
        el("a", {"id": "js-link", "href": f"javascript:{pwn(6)}"}, text("a javascript: link")),
        el("iframe", {"id": "srcdoc", "srcdoc": f"<script>{pwn(7)}</script>"}),
        el("object", {"data": f"javascript:{pwn(8)}", "type": "text/html"}),
        el("embed", {"src": f"javascript:{pwn(9)}"}),
        el(
            "form",
            {"id": "js-form", "action": f"javascript:{pwn(10)}"},
            el("input", {"name": "q", "value": "x"}),
            el("button", {"id": "js-submit", "type": "submit"}, text("Send")),
        ),
    )
    head = el(
        "head",
        {},
        el("meta", {"http-equiv": "refresh", "content": "0;url=https://evil.example/"}),
        el("base", {"href": "https://evil.example/"}),
        el("style", {}, text("h1 { color: rebeccapurple }")),
    )
    document = {"type": 0, "id": next(_ids), "childNodes": [el("html", {}, head, body)]}
    body_id = body["id"]
    img_id = body["childNodes"][3]["id"]
    mutations = [
        # later, scripts and handlers arrive through incremental mutations
        {
            "source": 0,
            "texts": [],
            "removes": [],
            "attributes": [{"id": img_id, "attributes": {"src": "y", "onerror": pwn(11)}}],
            "adds": [
                {"parentId": body_id, "nextId": None, "node": el("script", {}, text(pwn(12)))},
                {
                    "parentId": body_id,
                    "nextId": None,
                    "node": el("img", {"src": "z", "onerror": pwn(13), "id": "late-img"}),
                },
                {
                    "parentId": body_id,
                    "nextId": None,
                    "node": el("a", {"id": "late-link", "href": f"javascript:{pwn(14)}"}),
                },
                {
                    "parentId": body_id,
                    "nextId": None,
                    "node": el("iframe", {"srcdoc": f'<img src=x onerror="{pwn(15)}">'}),
                },
            ],
        },
    ]
    return [
        {
            "type": 4,
            "data": {"href": "https://victim.example/", "width": 1000, "height": 700},
            "timestamp": T0,
        },
        {
            "type": 2,
            "data": {"node": document, "initialOffset": {"left": 0, "top": 0}},
            "timestamp": T0 + 1,
        },
        *(
            {"type": 3, "data": mutation, "timestamp": T0 + 1000 * (i + 1)}
            for i, mutation in enumerate(mutations)
        ),
        {
            "type": 5,
            "data": {"tag": "url-change", "payload": {"href": "javascript:alert(16)"}},
            "timestamp": T0 + 1500,
        },
        {
            "type": 3,
            "data": {"source": 1, "positions": [{"x": 5, "y": 5, "id": body_id, "timeOffset": 0}]},
            "timestamp": T0 + 2500,
        },
    ]


def pwned(page: Page) -> Any:
    return page.evaluate(
        """() => {
            const frames = [...document.querySelectorAll('iframe')];
            const inFrames = frames.map(f => f.contentWindow && f.contentWindow.__pwned);
            return window.__pwned ?? window.top.__pwned
                ?? inFrames.find(v => v !== undefined) ?? null;
        }"""
    )


def test_a_hostile_recording_plays_in_a_sandbox_where_nothing_it_carries_can_run(
    member: Member, sayso: LiveServer
) -> None:
    client_id = member.project("Hostile")
    session_id = start_session(sayso, client_id)
    put_chunk(sayso, client_id, session_id, 0, hostile_recording())
    later = [{"type": 3, "data": {"source": 1, "positions": []}, "timestamp": T0 + 4000}]
    put_chunk(sayso, client_id, session_id, 1, later, dropped_before=2)
    page = member.page
    player_url = f"{sayso.url}/projects/{client_id}/replays/{session_id}"
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url))

    page.goto(player_url)
    player = page.locator("#replay-player")
    expect(player).to_have_attribute("data-state", "ready", timeout=20_000)
    frame = page.locator("#replay-player iframe")
    expect(frame).to_have_count(1)
    assert frame.get_attribute("sandbox") == "allow-same-origin"
    expect(page.locator(".player-gap[data-gap='2']")).to_have_attribute(
        "aria-label", "2 chunks lost here, from 0:02 to 0:04"
    )
    page.get_by_label("Speed").select_option("4")
    page.keyboard.press("Space")  # plays from the keyboard
    expect(player).to_have_attribute("data-playing", "true")
    expect(player).to_have_attribute("data-playing", "false", timeout=20_000)  # finished
    assert page.locator("[data-player-seek]").input_value() == page.locator(
        "[data-player-seek]"
    ).get_attribute("max")

    # The recording really is on screen, rebuilt — scripts as inert <noscript>.
    inside = page.frame_locator("#replay-player iframe")
    expect(inside.locator("h1")).to_have_text("Hostile recording")
    expect(inside.locator("#late-img")).to_have_count(1)
    assert inside.locator("script").count() == 0
    for target in ("#clicky", "#js-link", "#late-link", "#js-submit", "#js-form"):
        expect(inside.locator(target)).to_have_count(1)  # or the poking below proves nothing
    # Poke at everything a person could click.
    page.evaluate(
        """() => {
            const doc = document.querySelector('#replay-player iframe').contentDocument;
            for (const id of ['clicky', 'js-link', 'late-link', 'js-submit']) {
                const el = doc.getElementById(id);
                if (el) el.click();
            }
            const form = doc.getElementById('js-form');
            if (form) form.requestSubmit();
        }"""
    )
    page.wait_for_timeout(500)  # let anything that was going to happen, happen

    assert pwned(page) is None
    assert member.dialogs == []
    assert page.url == player_url
    # Frames only ever hold the rebuilt recording (srcdoc inherits the sandbox):
    # the meta refresh, <base>, links and the form took no frame anywhere.
    inert = {"about:blank", "about:srcdoc"}
    assert navigations[0] == player_url
    assert set(navigations[1:]) <= inert, navigations
    assert {f.url for f in page.frames[1:]} <= inert
    # the page URL from the recording is listed as text, never as a link
    pages = page.locator("[data-player-pages]")
    expect(pages).to_contain_text("javascript:alert(16)")
    assert pages.locator("a").count() == 0


# --- a real recording, from feedback to the player ------------------------------


def wait_for(what: Callable[[], Any], timeout: float = 20, message: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = what()
        if value or time.monotonic() > deadline:
            assert value, message or "timed out"
            return value
        time.sleep(0.1)


def feedback_row(sayso: LiveServer, page_url: str) -> dict[str, Any] | None:
    with sayso.app.runtime.engine.connect() as conn:
        row = (
            conn.execute(select(feedback).where(feedback.c.page_url == page_url)).mappings().first()
        )
    return dict(row) if row else None


@pytest.fixture
def visitor(chromium: Browser) -> Iterator[BrowserContext]:
    agent = ordinary_user_agent(chromium)
    context = chromium.new_context(viewport={"width": 1200, "height": 800}, user_agent=agent)
    yield context
    context.close()


def test_watch_session_replay_opens_the_player_just_before_the_feedback_with_its_marker(
    member: Member,
    visitor: BrowserContext,
    sayso: LiveServer,
    host: tuple[Path, str],
    artifacts_dir: Path,
) -> None:
    engine = sayso.app.runtime.engine
    client_id = member.project("Recorded shop")
    root, base = host
    name = f"shop-{secrets.token_hex(4)}.html"
    html = host_page(sayso.url, client_id, extra_attributes="data-replay")
    (root / name).write_text(
        html.replace(
            '<button id="own-button"',
            '<form><label for="q">Search</label> <input id="q"></form><button id="own-button"',
        )
    )
    url = f"{base}/{name}"

    shop = visitor.new_page()
    shop.goto(url)
    session = wait_for(
        lambda: next(iter(recorded_sessions(engine, client_id)), None), message="no session"
    )
    shop.locator("#q").press_sequentially("red shoes", delay=30)
    shop.get_by_role("button", name="The app's own button").click()
    shop.wait_for_timeout(3200)  # the recorder sends a chunk every 3 s
    wait_for(lambda: (s := get_session(engine, session.id)) and s.chunk_count >= 1)
    shop.get_by_role("button", name="Give feedback").click()
    form = shop.get_by_role("dialog", name="Send feedback")
    form.get_by_role("radio", name="Bad").click()
    form.get_by_role("textbox", name="Tell us more").fill("Search shows nothing")
    form.get_by_role("button", name="Send").click()
    expect(form.get_by_text("Thank you!")).to_be_visible(timeout=20_000)
    row = wait_for(lambda: feedback_row(sayso, url), message="no feedback")
    assert row["session_replay_id"] == session.id
    offset = int(row["replay_offset_ms"])
    shop.goto(f"{base}/elsewhere.html")  # flush and finalise
    wait_for(lambda: (s := get_session(engine, session.id)) and s.closed_reason == "finalised")

    page = member.page
    page.goto(f"{sayso.url}/projects/{client_id}/feedback/{row['id']}")
    page.get_by_role("link", name="Watch session replay").click()
    player = page.locator("#replay-player")
    expect(player).to_have_attribute("data-state", "ready", timeout=20_000)

    assert page.url == f"{sayso.url}/projects/{client_id}/replays/{session.id}?feedback={row['id']}"
    expected = max(offset - LEAD_IN_MS, 0)
    assert abs(int(player.get_attribute("data-current-ms") or -1) - expected) <= 100
    assert abs(int(page.locator("[data-player-seek]").input_value()) - expected) <= 100
    marker = page.locator(f".player-marker[data-feedback-id='{row['id']}']")
    expect(marker).to_have_count(1)
    expect(marker).to_have_class("player-marker current")
    expect(page.locator("[data-player-pages] li").first).to_contain_text(url)
    frame = page.locator("#replay-player iframe")
    assert frame.get_attribute("sandbox") == "allow-same-origin"
    expect(page.frame_locator("#replay-player iframe").locator("h1")).to_have_text("Customer app")

    # clicking the marker after moving away jumps back to the feedback's moment
    page.locator("[data-player-seek]").focus()
    page.keyboard.press("Home")
    expect(player).to_have_attribute("data-current-ms", "0")
    marker.click()
    assert abs(int(player.get_attribute("data-current-ms") or -1) - offset) <= 100

    # The recording fits above the controls, Tab never walks into it, no internals shown.
    toggle = page.locator("[data-player-toggle]")
    stage = page.locator("[data-player-stage]").bounding_box()
    assert stage is not None
    assert stage["height"] <= 1000 * 0.6 + 4, stage  # its border
    toggle.focus()
    for _ in range(6):
        page.keyboard.press("Shift+Tab")
        inside = page.evaluate(
            "() => !!document.activeElement?.closest('[data-player-stage]')"
            " || document.activeElement?.tagName === 'IFRAME'"
        )
        assert not inside, "Tab reached the recording"
    assert "Chunks" not in page.content()

    page.screenshot(path=str(artifacts_dir / "dashboard-player.png"), full_page=True)
    assert member.problems == [], member.problems
    assert member.dialogs == []
    shop.close()
