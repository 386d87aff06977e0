"""The dashboard end to end in Debian's Chromium: what a team member actually does.

Sign in, create a project, copy its client id, receive feedback through the
public API, find it through filters and search, triage it with the mouse and
the keyboard, tag it, note it, export it, look at its screenshot — and the
attack payloads a visitor can send stay text: no dialog opens, no injected
element exists, no CSP violation is reported. Screenshots of the key pages go
to ``test-artifacts/`` for people to look at.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from sayso.accounts.users import create_user
from sayso.settings import Settings
from sayso.store.schema import feedback
from tests.support.browser import chromium as launched_chromium
from tests.support.dashboard import start_server
from tests.support.images import png_bytes
from tests.support.live_server import LiveServer

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
XSS = '<img src=x onerror="window.__xss=1;alert(1)"><script>window.__xss=2</script>'
XSS_URL = "javascript:window.__xss=3"


@pytest.fixture(scope="module")
def dashboard(fresh_settings: Any) -> Iterator[LiveServer]:
    settings: Settings = fresh_settings("sqlite")
    with start_server(settings) as live:
        yield live


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with launched_chromium() as browser:
        yield browser


class Session:
    """One signed-in person in their own browser context, watching for trouble."""

    def __init__(self, browser: Browser, server: LiveServer, email: str) -> None:
        create_user(server.app.runtime.engine, email, PASSWORD)
        self.server = server
        self.context = browser.new_context(
            viewport={"width": 1280, "height": 900}, accept_downloads=True
        )
        self.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
        self.page: Page = self.context.new_page()
        self.problems: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"pageerror: {error}"))
        self.page.on("dialog", self._dialog)
        self.page.goto(f"{server.url}/login")
        self.page.get_by_label("Email").fill(email)
        self.page.get_by_label("Password").fill(PASSWORD)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(f"{server.url}/")

    def _console(self, message: Any) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            self.problems.append(f"console {message.type}: {message.text}")

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def shoot(self, artifacts: Path, name: str) -> None:
        self.page.screenshot(path=str(artifacts / f"dashboard-{name}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def ana(chromium: Browser, dashboard: LiveServer) -> Iterator[Session]:
    session = Session(chromium, dashboard, f"ana-{secrets.token_hex(4)}@example.com")
    yield session
    session.close()


def send(server: LiveServer, client_id: str, user_agent: str | None = None, **fields: Any) -> str:
    headers = {"User-Agent": user_agent} if user_agent else {}
    response = httpx.post(
        f"{server.url}/api/feedback",
        json={"clientId": client_id, **fields},
        headers=headers,
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["feedbackId"])


def status_of(server: LiveServer, feedback_id: str) -> str:
    with server.app.runtime.engine.connect() as conn:
        query = select(feedback.c.status).where(feedback.c.id == feedback_id)
        return str(conn.execute(query).scalar_one())


def rows(page: Page) -> list[str]:
    ids = page.locator("tr.feedback-row").evaluate_all(
        "rows => rows.map(r => r.dataset.feedbackId)"
    )
    return [str(i) for i in ids]


def injected(page: Page) -> int:
    """Elements or globals that only exist if a payload ran or became markup."""
    return int(
        page.evaluate(
            """() => (window.__xss ? 100 : 0)
              + document.querySelectorAll('img[src="x"], [onerror], [onload]').length
              + [...document.scripts].filter(s => !s.src.includes('/static/build/')).length
              + document.querySelectorAll('a[href^="javascript:"], a[href^="data:"]').length"""
        )
    )


def test_an_owner_creates_a_project_then_finds_triages_and_exports_feedback(
    ana: Session, dashboard: LiveServer, artifacts_dir: Path
) -> None:
    page = ana.page
    page.get_by_label("Name").fill("Checkout app")
    page.get_by_role("button", name="Create project").click()
    client_id = page.locator("#client-id").input_value()
    assert client_id.startswith("client_")
    page.get_by_role("button", name="Copy client id").click()
    assert page.evaluate("navigator.clipboard.readText()") == client_id
    ana.shoot(artifacts_dir, "project")

    slow = send(dashboard, client_id, rating=1, comment="Checkout is slow", userEmail="a@x.io")
    broken = send(dashboard, client_id, rating=1, comment="Payment broken", userEmail="b@x.io")
    happy = send(dashboard, client_id, rating=4, comment="Love the checkout")

    page.get_by_role("link", name="Inbox").first.click()
    assert rows(page) == [happy, broken, slow]
    ana.shoot(artifacts_dir, "inbox")

    # Filters and search, through the form: the URL keeps them.
    page.get_by_label("😞 Terrible").check()
    page.get_by_role("button", name="Filter").click()
    assert rows(page) == [broken, slow]
    assert "rating=1" in page.url
    page.get_by_label("Search comments").fill("checkout")
    page.get_by_role("button", name="Filter").click()
    assert rows(page) == [slow]

    # Keyboard triage: j moves to the first row, e archives it.
    page.goto(f"{dashboard.url}/projects/{client_id}/inbox")
    page.keyboard.press("j")
    expect(page.locator("tr.feedback-row.current")).to_have_attribute("data-feedback-id", happy)
    page.keyboard.press("j")
    page.keyboard.press("e")
    page.wait_for_load_state()
    expect(page.locator("tr.feedback-row")).to_have_count(2)
    assert status_of(dashboard, broken) == "archived"

    # Bulk: select both remaining rows, mark them resolved.
    page.get_by_label("Select all on this page").check()
    page.get_by_role("button", name="Resolved", exact=True).click()
    page.wait_for_load_state()
    assert [status_of(dashboard, i) for i in (happy, slow)] == ["resolved", "resolved"]
    page.get_by_label("Archived").check()
    page.get_by_role("button", name="Filter").click()
    assert rows(page) == [broken]

    # Detail: tag and note.
    page.goto(f"{dashboard.url}/projects/{client_id}/feedback/{slow}")
    page.get_by_label("New tag").fill("Performance")
    page.get_by_role("button", name="Add tag").click()
    expect(page.locator(".tag-list .tag")).to_have_text(["performance"])
    page.get_by_label("Add a note").fill("Reproduced on 3G.")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator(".note-body")).to_have_text(["Reproduced on 3G."])
    ana.shoot(artifacts_dir, "detail")

    # Export what the tag filter shows.
    page.goto(f"{dashboard.url}/projects/{client_id}/inbox?tag=performance&status=resolved")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export CSV").click()
    exported = Path(download_info.value.path()).read_text(encoding="utf-8-sig")
    records = list(csv.DictReader(io.StringIO(exported)))
    assert [r["id"] for r in records] == [slow]
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Export JSON").click()
    assert [r["id"] for r in json.loads(Path(download_info.value.path()).read_text())] == [slow]

    # The overview and People pages draw what came in.
    page.get_by_role("link", name="Overview").click()
    expect(page.locator("svg.chart").first).to_be_visible()
    expect(page.get_by_role("link", name="Overview")).to_have_attribute("aria-current", "page")
    ana.shoot(artifacts_dir, "overview")
    page.get_by_role("link", name="People").click()
    expect(page.get_by_text("a@x.io")).to_be_visible()
    ana.shoot(artifacts_dir, "people")

    assert ana.problems == []
    assert ana.dialogs == []


def test_visitor_payloads_stay_text_in_the_inbox_and_the_detail_page(
    ana: Session, dashboard: LiveServer, artifacts_dir: Path
) -> None:
    page = ana.page
    page.get_by_label("Name").fill("Hostile")
    page.get_by_role("button", name="Create project").click()
    client_id = page.locator("#client-id").input_value()
    item = send(
        dashboard,
        client_id,
        rating=2,
        comment=XSS,
        userEmail="x@example.com",
        pageUrl=XSS_URL,
        pageTitle=XSS,
        referrer="data:text/html,<script>window.__xss=4</script>",
        environment="<b>prod</b>",
        metadata={XSS: XSS, "link": XSS_URL},
        user_agent=XSS,  # stored from the header, shown on the detail page
    )

    for url in (
        f"/projects/{client_id}/inbox?env=%3Cb%3Eprod%3C%2Fb%3E",
        f"/projects/{client_id}/inbox?env=%3Cb%3Eprod%3C%2Fb%3E&q=onerror",
        f"/projects/{client_id}/feedback/{item}",
    ):
        page.goto(dashboard.url + url)
        page.wait_for_load_state("networkidle")
        assert injected(page) == 0, url
    expect(page.locator("dd.comment")).to_have_text(XSS)
    expect(page.locator("dd details code")).to_have_text(XSS)  # the raw user agent, as text
    ana.shoot(artifacts_dir, "xss-detail")
    assert ana.dialogs == []
    assert [p for p in ana.problems if "Content Security Policy" in p] == []


def test_the_screenshot_opens_in_a_lightbox_and_shortcuts_have_a_help_dialog(
    ana: Session, dashboard: LiveServer, artifacts_dir: Path
) -> None:
    page = ana.page
    page.get_by_label("Name").fill("Shots")
    page.get_by_role("button", name="Create project").click()
    client_id = page.locator("#client-id").input_value()
    upload = httpx.post(
        f"{dashboard.url}/api/screenshots",
        data={"clientId": client_id},
        files={"screenshot": ("s.png", png_bytes(640, 400), "image/png")},
        timeout=30,
    )
    item = send(dashboard, client_id, rating=3, screenshots=[upload.json()["screenshot"]])

    page.goto(f"{dashboard.url}/projects/{client_id}/feedback/{item}")
    page.locator("a[data-lightbox]").click()
    lightbox = page.locator("dialog.lightbox")
    expect(lightbox).to_be_visible()
    assert page.evaluate("document.querySelector('dialog.lightbox img').naturalWidth") == 640
    ana.shoot(artifacts_dir, "lightbox")
    page.keyboard.press("Escape")
    expect(lightbox).to_be_hidden()

    page.goto(f"{dashboard.url}/projects/{client_id}/inbox")
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    page.keyboard.press("Escape")
    page.keyboard.press("/")
    expect(page.get_by_label("Search comments")).to_be_focused()
    assert ana.problems == []


def test_the_inbox_is_usable_on_a_phone(
    chromium: Browser, dashboard: LiveServer, artifacts_dir: Path
) -> None:
    session = Session(chromium, dashboard, "phone@example.com")
    try:
        session.page.set_viewport_size({"width": 390, "height": 844})
        page = session.page
        page.get_by_label("Name").fill("Mobile")
        page.get_by_role("button", name="Create project").click()
        client_id = page.locator("#client-id").input_value()
        send(dashboard, client_id, rating=4, comment="Works on my phone", userEmail="p@x.io")
        page.goto(f"{dashboard.url}/projects/{client_id}/inbox")
        width = page.evaluate("document.documentElement.scrollWidth")
        session.shoot(artifacts_dir, "inbox-phone")
        assert width <= 390, "no sideways scrolling"
        assert session.problems == []
    finally:
        session.close()
