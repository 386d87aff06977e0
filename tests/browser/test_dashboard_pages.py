"""Every dashboard page in Debian's Chromium, light and dark, desktop and phone.

axe-core finds no serious or critical violation (contrast included) on any
page in either theme, and no page is wider than a 390 px phone. Screenshots
of each page in each theme and size go to ``test-artifacts/pages/``.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from sayso.accounts.memberships import add_member
from sayso.accounts.users import create_user, find_user_by_email
from sayso.settings import Settings
from sayso.store.clients import create_client
from tests.support.browser import AXE
from tests.support.browser import chromium as launched_chromium
from tests.support.dashboard import PASSWORD, send, start_server
from tests.support.live_server import LiveServer
from tests.support.replay import start_session

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def site(fresh_settings: Any) -> Iterator[tuple[LiveServer, str, list[str]]]:
    """A server with one busy project: its pages, and the email of its owner."""
    settings: Settings = fresh_settings("sqlite")
    with start_server(settings) as live:
        engine = live.app.runtime.engine
        email = f"owner-{secrets.token_hex(3)}@example.com"
        user = create_user(engine, email, PASSWORD)
        client_id = create_client(engine, "Pages").id
        add_member(engine, client_id, user.id, "owner")
        session_id = start_session(live, client_id)
        items = [
            send(
                live,
                client_id,
                rating=1 + i % 4,
                comment=f"Comment number {i}: the export button does nothing on this page",
                userEmail=f"person{i % 3}@example.com",
                pageUrl=f"https://shop.example/page/{i}",
                environment="production" if i % 2 else None,
                sessionReplayId=session_id if i == 0 else None,
            )
            for i in range(20)
        ]
        base = f"/projects/{client_id}"
        pages = [
            "/",
            base,
            f"{base}/inbox",
            f"{base}/feedback/{items[0]}",
            f"{base}/overview",
            f"{base}/people",
            f"{base}/replays",
            f"{base}/replays/{session_id}",
            f"{base}/settings",
            f"{base}/audit",
        ]
        yield live, email, pages


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with launched_chromium() as browser:
        yield browser


def signed_in(browser: Browser, server: LiveServer, email: str, **options: Any) -> Page:
    # axe is injected as an inline script, which the dashboard's CSP rightly refuses.
    page = browser.new_context(bypass_csp=True, **options).new_page()
    page.goto(f"{server.url}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.url}/")
    return page


def axe_problems(page: Page) -> list[dict[str, Any]]:
    page.add_script_tag(content=AXE.read_text())
    found: list[dict[str, Any]] = page.evaluate(
        """async () => {
            const r = await axe.run(document, { resultTypes: ['violations'] });
            return r.violations
                .filter(v => v.impact === 'serious' || v.impact === 'critical')
                .map(v => ({ id: v.id, help: v.help,
                             nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ')) }));
        }"""
    )
    return found


def own_project(server: LiveServer, email: str, name: str) -> str:
    """A new project ``email`` owns; its client id."""
    engine = server.app.runtime.engine
    user = find_user_by_email(engine, email)
    assert user is not None
    client_id = create_client(engine, name).id
    add_member(engine, client_id, user.id, "owner")
    return client_id


def shot_name(path: str) -> str:
    """A stable file name: the project's and items' ids left out."""
    stable = re.sub(r"/[0-9a-z]{26}\b", "/one", re.sub(r"client_\w+", "project", path))
    return stable.strip("/").replace("/", "_") or "home"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_passes_axe_in_both_themes(
    chromium: Browser,
    site: tuple[LiveServer, str, list[str]],
    scheme: str,
    artifacts_dir: Path,
) -> None:
    server, email, pages = site
    page = signed_in(chromium, server, email, viewport=DESKTOP, color_scheme=scheme)
    folder = artifacts_dir / "pages"
    folder.mkdir(exist_ok=True)
    problems = {}
    for path in pages:
        page.goto(server.url + path)
        page.screenshot(path=str(folder / f"{shot_name(path)}-desktop-{scheme}.png"))
        if found := axe_problems(page):
            problems[path] = found
    page.context.close()
    assert problems == {}, json.dumps(problems, indent=2)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_page_is_wider_than_a_phone(
    chromium: Browser,
    site: tuple[LiveServer, str, list[str]],
    scheme: str,
    artifacts_dir: Path,
) -> None:
    server, email, pages = site
    page = signed_in(chromium, server, email, viewport=PHONE, color_scheme=scheme, is_mobile=True)
    folder = artifacts_dir / "pages"
    folder.mkdir(exist_ok=True)
    wide = {}
    for path in pages:
        page.goto(server.url + path)
        page.screenshot(path=str(folder / f"{shot_name(path)}-phone-{scheme}.png"), full_page=True)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            wide[path] = width
    page.context.close()
    assert wide == {}


def test_the_install_page_turns_green_when_the_first_widget_feedback_arrives(
    chromium: Browser, site: tuple[LiveServer, str, list[str]]
) -> None:
    server, email, _ = site
    client_id = own_project(server, email, "First run")
    page = signed_in(chromium, server, email, viewport=DESKTOP)
    page.goto(f"{server.url}/projects/{client_id}")
    expect(page.get_by_role("heading", name="Waiting for your first feedback")).to_be_visible()
    # The widget tag sets an environment: the first feedback is still found from here.
    send(server, client_id, rating=4, environment="production")
    expect(page.get_by_role("heading", name="Your first feedback arrived")).to_be_visible(
        timeout=15_000
    )
    page.get_by_role("link", name="Open the inbox").click()
    page.wait_for_url(f"{server.url}/projects/{client_id}/inbox?env=production")
    expect(page.locator("tr.feedback-row")).to_have_count(1)
    page.context.close()


def test_keyboard_triage_keeps_the_cursor_and_the_filters(
    chromium: Browser, site: tuple[LiveServer, str, list[str]]
) -> None:
    server, email, _ = site
    client_id = own_project(server, email, "Keyboard")
    for i in range(6):
        send(server, client_id, rating=1 + i % 2, comment=f"item {i}")
    page = signed_in(chromium, server, email, viewport=DESKTOP)
    listing = f"{server.url}/projects/{client_id}/inbox?rating=1"
    page.goto(listing)
    rows = page.locator("tr.feedback-row")
    expect(rows).to_have_count(3)
    current = page.locator("tr.feedback-row.current")
    for _ in range(5):
        page.keyboard.press("j")
        page.keyboard.press("k")
        page.keyboard.press("j")  # the second row
        second = rows.nth(1).get_attribute("data-feedback-id")
        with page.expect_navigation():
            page.keyboard.press("r")  # resolve: it stays in this view (all but archived)
        expect(current).to_have_attribute("data-feedback-id", second or "")
        assert page.url == listing, "the filters survive the round trip"
        focused = page.evaluate("() => document.activeElement?.closest('tr')?.dataset.feedbackId")
        assert focused == second
        page.keyboard.press("k")
    # archiving moves it out of the view: the cursor lands on the row that took its place
    page.keyboard.press("j")
    gone = rows.nth(1).get_attribute("data-feedback-id")
    after = rows.nth(2).get_attribute("data-feedback-id")
    with page.expect_navigation():
        page.keyboard.press("e")
    expect(rows).to_have_count(2)
    expect(current).to_have_attribute("data-feedback-id", after or "")
    assert gone not in [rows.nth(i).get_attribute("data-feedback-id") for i in range(2)]
    page.context.close()
