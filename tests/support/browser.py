"""Browser-test support: Debian's Chromium driven by Playwright, and host pages on their own origin.

The host pages are served by a separate little HTTP server, so the widget runs
cross-origin exactly as on a customer's site.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright
from sqlalchemy import Engine

from sayso.settings import Settings
from sayso.store.blobs import open_blob_store
from sayso.store.replay_views import SessionFilters, find_sessions
from sayso.store.replays import ReplaySession, get_session, iter_events_json

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-gpu",
    "--no-first-run",
]
SDK = Path(__file__).resolve().parents[2] / "sdk"
AXE = SDK / "node_modules" / "axe-core" / "axe.min.js"


def require_chromium() -> None:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        raise RuntimeError("Debian's chromium is missing: scripts/bootstrap dev installs it")


def ordinary_user_agent(browser: Browser) -> str:
    """Chrome's desktop user agent for this browser's version, without "Headless".

    The server drops HeadlessChrome from session replay as a bot; replay tests
    present the ordinary Chrome it really is.
    """
    return (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/{browser.version} Safari/537.36"
    )


def recorded_sessions(engine: Engine, client_id: str) -> list[ReplaySession]:
    """The client's replay sessions, newest first, as the dashboard's list finds them."""
    rows = find_sessions(engine, client_id, SessionFilters()).rows
    return [s for row in rows if (s := get_session(engine, row.id)) is not None]


def recorded_events(settings: Settings, engine: Engine, session_id: str) -> bytes:
    """A session's events as the player fetches them: its chunks joined into one JSON array."""
    return b"".join(iter_events_json(engine, open_blob_store(settings), session_id))


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, through Playwright — never a downloaded build.

    Test modules wrap this in a module-scoped fixture: one browser per module,
    a fresh context per test.
    """
    require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@contextmanager
def host_site(root: Path) -> Iterator[str]:
    """Serve ``root`` on an ephemeral loopback port; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(root))
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler) as server:
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()


HOSTILE_CSS = """
/* A host page that styles everything, hard. None of it may break the widget. */
* { font: 40px/3 "Comic Sans MS", serif !important; color: #f0f !important;
    letter-spacing: 6px !important; text-transform: uppercase !important;
    box-sizing: content-box !important; visibility: visible; }
button, input, textarea, [role] { display: inline !important; padding: 60px !important;
    background: lime !important; border: 9px dashed red !important; }
div, section, form { display: inline !important; position: static !important; }
img { width: 1px !important; height: 1px !important; }
body { margin: 0; background: #222 !important; }
h1 { position: fixed; top: 0; left: 0; right: 0; z-index: 2147483647; pointer-events: none; }
"""


def strict_csp(sayso_url: str) -> str:
    """A host page's Content-Security-Policy: no inline script or style, Sayso allowed."""
    return (
        "default-src 'self'; "
        f"script-src 'self' {sayso_url}; "
        f"connect-src 'self' {sayso_url}; "
        f"img-src 'self' {sayso_url} data: blob:; "
        "style-src 'self'; font-src 'self'; worker-src blob:"
    )


def host_page(sayso_url: str, client_id: str, *, extra_attributes: str = "") -> str:
    """A page with a strict CSP, hostile CSS and the one-tag install."""
    csp = strict_csp(sayso_url)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<title>Host page</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/hostile.css">
</head><body>
<h1>Customer app</h1>
<p>Some content on the customer's page.</p>
<button id="own-button" type="button">The app's own button</button>
<script src="{sayso_url}/widget.js" data-client-id="{client_id}" {extra_attributes} async></script>
</body></html>
"""
