"""Driving the dashboard over real HTTP: sign-in, CSRF tokens, a signed-in ``Browser``.

Browsers are httpx clients with their own cookie jars that don't follow
redirects, so every step of a flow is visible to the test. Feedback arrives
through the public API (``send``) unless a test needs chosen timestamps
(``insert_at``).
"""

from __future__ import annotations

import html
import re
import secrets
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import Engine, insert

from sayso.accounts.users import create_user
from sayso.settings import Settings
from sayso.store import migrate
from sayso.store.database import create_db_engine
from sayso.store.ids import new_sortable_id
from sayso.store.schema import feedback
from tests.support.live_server import LiveServer

PASSWORD = "correct horse battery"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# The one script every page may have: the dashboard's own bundle, from 'self'.
OWN_SCRIPT = re.compile(
    r'<script src="/static/build/dashboard\.js\?v=[0-9a-f]{12}" defer></script>'
)
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
ROW = re.compile(r'<tr class="feedback-row"[^>]*>(.*?)</tr>', re.S)
ROW_ID = re.compile(r'href="/projects/client_\w+/feedback/(\w+)[?"]')
# Markup a visitor might send, which must never come alive on a page.
PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg onload=alert(1)>',
]


def without_own_script(page: str) -> str:
    """``page`` minus the dashboard's own script tag, for "no other script" checks."""
    return OWN_SCRIPT.sub("", page, count=1)


def start_server(settings: Settings) -> LiveServer:
    """A live server (not yet entered) on ``settings``' database, migrated."""
    engine = create_db_engine(settings)
    migrate.upgrade(engine)
    engine.dispose()
    return LiveServer(settings)


def db(server: LiveServer) -> Engine:
    return server.app.runtime.engine


def browser(server: LiveServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=30, follow_redirects=False)


def form_token(page: httpx.Response) -> str:
    match = CSRF_INPUT.search(page.text)
    assert match, page.text
    return match.group(1)


def new_user(server: LiveServer, label: str = "user") -> str:
    email = f"{label}-{secrets.token_hex(4)}@example.com"
    create_user(db(server), email, PASSWORD)
    return email


def sign_in(client: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    page = client.get("/login")
    assert page.status_code == 200, page.text
    return client.post(
        "/login", data={"email": email, "password": password, "csrf_token": form_token(page)}
    )


class Browser:
    """One signed-in person: an httpx client plus the page's CSRF token."""

    def __init__(self, site: LiveServer, label: str = "user") -> None:
        self.email = new_user(site, label)
        self.http = browser(site)
        assert sign_in(self.http, self.email).status_code == 303
        self.token = form_token(self.http.get("/"))

    def create_project(self, name: str) -> str:
        response = self.http.post("/projects", data={"name": name, "csrf_token": self.token})
        assert response.status_code == 303, response.text
        location = response.headers["location"]
        assert location.startswith("/projects/client_")
        return location.removeprefix("/projects/")

    def settings(self, client_id: str, **form: str) -> httpx.Response:
        data = {"csrf_token": self.token} | form
        return self.http.post(f"/projects/{client_id}/settings", data=data)

    def close(self) -> None:
        self.http.close()


def send(site: LiveServer, client_id: str, **fields: Any) -> str:
    """Submit feedback through the public API; returns its id."""
    response = httpx.post(
        f"{site.url}/api/feedback", json={"clientId": client_id, **fields}, timeout=30
    )
    assert response.status_code == 200, response.text
    return str(response.json()["feedbackId"])


def insert_at(site: LiveServer, client_id: str, at: datetime, **values: Any) -> str:
    """Insert a feedback row created at ``at`` directly; returns its id."""
    row_id = new_sortable_id(int(at.timestamp() * 1000))
    with db(site).begin() as conn:
        conn.execute(
            insert(feedback).values(id=row_id, client_id=client_id, created_at=at, **values)
        )
    return row_id


def inbox(browser: Browser, client_id: str, query: str = "") -> httpx.Response:
    page = browser.http.get(f"/projects/{client_id}/inbox{query}")
    assert page.status_code == 200, page.text
    return page


def ids(page: httpx.Response) -> list[str]:
    """The feedback ids an inbox page lists, in order."""
    return [m for row in ROW.findall(page.text) for m in ROW_ID.findall(row)[:1]]


def notes(page: httpx.Response) -> list[str]:
    return [html.unescape(n) for n in re.findall(r'<p class="note">(.*?)</p>', page.text)]
