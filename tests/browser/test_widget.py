"""The browser widget in Debian's Chromium, against a real running Sayso.

Host pages live on their own origin with a strict Content-Security-Policy and
hostile CSS; the widget is installed with the one-tag snippet. Screenshots of
key states are saved under test-artifacts/.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import Engine, select

from sayso.settings import Settings
from sayso.store.clients import create_client
from sayso.store.schema import feedback
from tests.support.browser import AXE, HOSTILE_CSS, host_page, host_site
from tests.support.browser import chromium as launched_chromium
from tests.support.live_server import LiveServer, migrated_server

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def sayso(fresh_settings: Callable[..., Settings]) -> Iterator[tuple[LiveServer, Engine]]:
    with migrated_server(fresh_settings("sqlite")) as (server, engine):
        yield server, engine


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    root = tmp_path_factory.mktemp("host-site")
    (root / "hostile.css").write_text(HOSTILE_CSS)
    with host_site(root) as url:
        yield root, url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launched_chromium() as browser:
        yield browser


class HostPage:
    """One browser context (fresh storage) on a freshly written host page."""

    def __init__(
        self, browser: Browser, site: tuple[Path, str], sayso_url: str, client_id: str
    ) -> None:
        root, base = site
        name = f"page-{secrets.token_hex(4)}.html"
        (root / name).write_text(host_page(sayso_url, client_id))
        self.url = f"{base}/{name}"
        self.browser = browser
        self.context = browser.new_context(viewport={"width": 1280, "height": 800})
        self.page: Page = self.context.new_page()
        self.problems: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"pageerror: {error}"))
        self.page.on("request", lambda request: self.requests.append(request.url))

    def _console(self, message: Any) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            self.problems.append(f"console {message.type}: {message.text}")

    def open(self) -> Page:
        self.page.goto(self.url)
        return self.page

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def host(
    browser: Browser, site: tuple[Path, str], sayso: tuple[LiveServer, Engine]
) -> Iterator[HostPage]:
    server, engine = sayso
    page = HostPage(browser, site, server.url, create_client(engine, "widget test").id)
    yield page
    page.close()


def rows_for(engine: Engine, page_url: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        result = conn.execute(select(feedback).where(feedback.c.page_url == page_url)).mappings()
        return [dict(row) for row in result]


def wait_for_rows(
    engine: Engine, page_url: str, count: int, timeout: float = 20
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        rows = rows_for(engine, page_url)
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def dialog(page: Page) -> Any:
    return page.get_by_role("dialog", name="Send feedback")


# --- the whole flow ---------------------------------------------------------------


def test_a_visitor_rates_comments_captures_and_submits_from_a_hostile_page(
    host: HostPage, sayso: tuple[LiveServer, Engine], artifacts_dir: Path
) -> None:
    _, engine = sayso
    page = host.open()

    page.get_by_role("button", name="Give feedback").click()
    form = dialog(page)
    expect(form).to_be_visible()
    form.get_by_role("radio", name="Good").click()
    form.get_by_role("textbox", name="Tell us more").fill("The export button does nothing")
    assert host.problems == [], host.problems  # the widget itself runs clean under the CSP
    form.get_by_role("button", name="Capture this page").click()
    expect(form.get_by_role("img", name="Screenshot 1")).to_be_visible(timeout=20_000)
    page.screenshot(path=str(artifacts_dir / "widget-open-hostile-page.png"))
    form.get_by_role("button", name="Send").click()
    expect(form.get_by_text("Thank you!")).to_be_visible(timeout=20_000)
    page.screenshot(path=str(artifacts_dir / "widget-thank-you.png"))

    [row] = wait_for_rows(engine, host.url, 1)
    assert row["rating"] == 3
    assert row["comment"] == "The export button does nothing"
    assert row["page_title"] == "Host page"
    assert row["origin"] == host.url.rsplit("/", 1)[0]
    assert len(row["screenshots"]) == 1
    assert row["screenshots"][0]["mimeType"] == "image/png"
    assert "browser" in row["metadata"]
    # modern-screenshot, while cloning the page, tries to apply one *empty*
    # inline style (the hash is that of ""), which a strict page CSP blocks
    # without affecting the picture. Nothing else may be reported.
    empty_style = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    assert [p for p in host.problems if empty_style not in p] == []


def test_loading_the_widget_makes_no_request_to_sayso_until_the_visitor_interacts(
    host: HostPage, sayso: tuple[LiveServer, Engine]
) -> None:
    server, _ = sayso
    page = host.open()
    expect(page.get_by_role("button", name="Give feedback")).to_be_visible()
    page.wait_for_timeout(500)
    to_sayso = [url for url in host.requests if url.startswith(server.url)]
    assert to_sayso == [f"{server.url}/widget.js"]


def test_the_widget_does_not_touch_the_host_pages_layout(host: HostPage) -> None:
    page = host.open()
    before = page.evaluate("() => [document.body.scrollHeight, document.body.scrollWidth]")
    expect(page.get_by_role("button", name="Give feedback")).to_be_visible()
    after = page.evaluate("() => [document.body.scrollHeight, document.body.scrollWidth]")
    assert before == after
    assert page.evaluate("() => document.styleSheets.length") == 1  # only the page's own


# --- delivery ---------------------------------------------------------------------


def submit_rating(page: Page, rating: str, comment: str) -> None:
    page.get_by_role("button", name="Give feedback").click()
    form = dialog(page)
    form.get_by_role("radio", name=rating).click()
    form.get_by_role("textbox", name="Tell us more").fill(comment)
    form.get_by_role("button", name="Send").click()
    expect(form.get_by_text("Thank you!")).to_be_visible(timeout=20_000)


def test_feedback_given_offline_is_delivered_exactly_once_when_back_online(
    host: HostPage, sayso: tuple[LiveServer, Engine]
) -> None:
    _, engine = sayso
    page = host.open()
    expect(page.get_by_role("button", name="Give feedback")).to_be_visible()
    host.context.set_offline(True)
    submit_rating(page, "Bad", "written on a train")
    assert rows_for(engine, host.url) == []

    host.context.set_offline(False)
    page.evaluate("() => window.dispatchEvent(new Event('online'))")
    rows = wait_for_rows(engine, host.url, 1)
    assert [r["comment"] for r in rows] == ["written on a train"]
    # Delivered as far as the browser knows too: its queue empties once the
    # answer is in (the row can land a moment before that).
    page.wait_for_function(
        "() => ['[]', null].includes(localStorage.getItem('sayso:queue'))", timeout=20_000
    )

    page.reload()  # the next page load must not send it again
    expect(page.get_by_role("button", name="Give feedback")).to_be_visible()
    page.wait_for_timeout(1_000)
    assert len(rows_for(engine, host.url)) == 1


def test_a_lost_response_is_retried_without_creating_a_duplicate(
    host: HostPage, sayso: tuple[LiveServer, Engine]
) -> None:
    _, engine = sayso
    page = host.open()
    lost = {"count": 0}

    def drop_first_response(route: Any) -> None:
        if lost["count"] == 0:
            lost["count"] += 1
            route.fetch()  # the server stores it …
            route.abort("connectionreset")  # … but the answer never arrives
        else:
            route.continue_()

    page.route("**/api/feedback", drop_first_response)
    submit_rating(page, "Amazing", "sent once, answered twice")
    page.unroute("**/api/feedback")
    page.reload()
    page.evaluate("() => window.dispatchEvent(new Event('online'))")
    page.wait_for_timeout(3_000)

    rows = rows_for(engine, host.url)
    assert len(rows) == 1
    assert rows[0]["idempotency_key"]


# --- keyboard and accessibility -------------------------------------------------


def test_the_whole_flow_works_with_the_keyboard_alone(
    host: HostPage, sayso: tuple[LiveServer, Engine]
) -> None:
    _, engine = sayso
    page = host.open()
    launcher = page.get_by_role("button", name="Give feedback")
    expect(launcher).to_be_visible()
    launcher.focus()
    page.keyboard.press("Enter")
    form = dialog(page)
    expect(form).to_be_visible()

    # Focus is inside the dialog; reach the rating group and pick with arrows.
    for _ in range(10):
        if (
            page.evaluate(
                "() => document.activeElement?.shadowRoot?.activeElement?.getAttribute('role')"
            )
            == "radio"
        ):
            break
        page.keyboard.press("Tab")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Space")
    expect(form.get_by_role("radio", name="Good")).to_have_attribute("aria-checked", "true")

    form.get_by_role("textbox", name="Tell us more").focus()
    page.keyboard.type("keyboard only")
    for _ in range(15):
        if (
            page.evaluate("() => document.activeElement?.shadowRoot?.activeElement?.textContent")
            == "Send"
        ):
            break
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(form.get_by_text("Thank you!")).to_be_visible(timeout=20_000)
    assert wait_for_rows(engine, host.url, 1)[0]["comment"] == "keyboard only"

    page.keyboard.press("Escape")
    expect(form).to_be_hidden()
    assert page.evaluate("() => document.activeElement?.tagName") == "SAYSO-FEEDBACK"


def test_escape_closes_and_focus_returns_and_tab_stays_inside(host: HostPage) -> None:
    page = host.open()
    launcher = page.get_by_role("button", name="Give feedback")
    launcher.click()
    form = dialog(page)
    expect(form).to_be_visible()
    for _ in range(25):  # far more Tabs than controls: focus must never leave
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement?.tagName") == "SAYSO-FEEDBACK"
    page.keyboard.press("Escape")
    expect(form).to_be_hidden()
    assert page.evaluate("() => document.activeElement?.tagName") == "SAYSO-FEEDBACK"


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_serious_accessibility_violations(host: HostPage, scheme: str) -> None:
    # axe-core (from sdk/node_modules) is injected as an inline script, which the
    # page's own CSP would rightly block: this one context lifts it.
    context = host.browser.new_context(bypass_csp=True, color_scheme=scheme)  # type: ignore[arg-type]
    page = context.new_page()
    page.goto(host.url)
    page.get_by_role("button", name="Give feedback").click()
    form = dialog(page)
    expect(form).to_be_visible()
    # Send is enabled (axe skips disabled controls' contrast): dark mode's was 3.66:1.
    form.get_by_role("radio", name="Good").click()
    form.get_by_role("textbox", name="Tell us more").fill("Readable?")
    expect(form.get_by_role("button", name="Send")).to_be_enabled()
    page.add_script_tag(content=AXE.read_text())
    result = page.evaluate(
        """async () => {
            const options = { resultTypes: ['violations'] };
            const r = await axe.run({ include: [['sayso-feedback']] }, options);
            return r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help }));
        }"""
    )
    context.close()
    serious = [v for v in result if v["impact"] in ("serious", "critical")]
    assert serious == [], json.dumps(serious, indent=2)


def test_the_headless_core_uploads_and_submits_without_the_ui(
    host: HostPage, sayso: tuple[LiveServer, Engine]
) -> None:
    _, engine = sayso
    page = host.open()
    expect(page.get_by_role("button", name="Give feedback")).to_be_visible()
    result = page.evaluate(
        """async () => {
            const canvas = document.createElement('canvas');
            canvas.width = 120; canvas.height = 80;
            canvas.getContext('2d').fillRect(10, 10, 50, 30);
            const blob = await new Promise(resolve => canvas.toBlob(resolve, 'image/png'));
            const shot = await Sayso.uploadScreenshot(blob);
            const input = { comment: 'from my own form', rating: 4, screenshots: [shot] };
            return await Sayso.submit(input);
        }"""
    )
    assert result["queued"] is False
    [row] = wait_for_rows(engine, host.url, 1)
    assert row["id"] == result["feedbackId"]
    assert row["comment"] == "from my own form"
    assert (row["screenshots"][0]["width"], row["screenshots"][0]["height"]) == (120, 80)
