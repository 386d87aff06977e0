"""One access rule, pages side by side, and HEAD wherever GET is answered.

The rule (``sayso.accounts.access``) is called here without any HTTP, as an
API key or MCP caller will, on SQLite and PostgreSQL. The dashboard's page
modules are checked to import no other page. Every GET route of the dashboard
and the public API is asked for HEAD on a live server: same status and
headers as GET, no body.
"""

from __future__ import annotations

import ast
import gzip
import json
import secrets
from pathlib import Path

import httpx
import pytest
from litestar import HttpMethod
from sqlalchemy import Engine, func, select

from sayso.accounts.access import ACTIONS, project_access
from sayso.accounts.memberships import add_member, create_project
from sayso.accounts.sessions import start_session
from sayso.accounts.users import User, create_user
from sayso.dashboard.app import create_dashboard
from sayso.dashboard.pages import SCRIPTS
from sayso.dashboard.security import SESSION_COOKIE
from sayso.ingest import router
from sayso.store.clients import create_client
from sayso.store.schema import audit_log
from tests.support.images import png_bytes
from tests.support.live_server import LiveServer

DASHBOARD = Path(__file__).resolve().parents[2] / "sayso" / "dashboard"
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def person(engine: Engine) -> User:
    return create_user(engine, f"a-{secrets.token_hex(4)}@example.com", "correct horse battery")


def test_members_get_their_role_and_its_actions_without_any_request(engine: Engine) -> None:
    owner, member, viewer = person(engine), person(engine), person(engine)
    project = create_project(engine, owner.id, "Guarded")
    add_member(engine, project.id, member.id, "member")
    add_member(engine, project.id, viewer.id, "viewer")

    allowed = {}
    for user in (owner, member, viewer):
        access = project_access(engine, user.id, project.id)
        assert access is not None
        assert (access.user_id, access.client.id, access.client.name) == (
            user.id,
            project.id,
            "Guarded",
        )
        allowed[access.role] = [a for a in ACTIONS if access.allows(a)]
    assert allowed == {
        "owner": ["read", "triage", "delete", "manage"],
        "member": ["read", "triage"],
        "viewer": ["read"],
    }


def test_a_viewer_may_read_but_not_write(engine: Engine) -> None:
    owner, viewer = person(engine), person(engine)
    project = create_project(engine, owner.id, "Read only")
    add_member(engine, project.id, viewer.id, "viewer")

    access = project_access(engine, viewer.id, project.id)
    assert access is not None
    assert access.allows("read")
    assert not access.can_triage
    assert not access.is_owner
    assert not any(access.allows(a) for a in ("triage", "delete", "manage"))


def test_non_members_and_unknown_projects_get_the_same_none(engine: Engine) -> None:
    owner, stranger = person(engine), person(engine)
    project = create_project(engine, owner.id, "Private")
    orphan = create_client(engine, "Nobody's")  # a client without members

    assert project_access(engine, stranger.id, project.id) is None
    assert project_access(engine, owner.id, orphan.id) is None
    assert project_access(engine, owner.id, "client_" + "0" * 16) is None  # no such project
    assert project_access(engine, owner.id, "not a client id") is None
    assert project_access(engine, "no-such-user", project.id) is None


def _page_modules() -> dict[str, ast.Module]:
    """The dashboard's modules that define routes (a ``ROUTES`` list), parsed."""
    modules = {}
    for path in sorted(DASHBOARD.glob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        if any(
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "ROUTES" for t in node.targets)
            for node in tree.body
        ):
            modules[f"sayso.dashboard.{path.stem}"] = tree
    return modules


def _imports(tree: ast.Module) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            # `from sayso.dashboard import inbox` imports a module too.
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_no_dashboard_page_imports_another_page() -> None:
    pages = _page_modules()
    assert {"sayso.dashboard.auth", "sayso.dashboard.inbox", "sayso.dashboard.projects"} <= set(
        pages
    )
    crossing = {
        name: sorted(_imports(tree) & (set(pages) - {name})) for name, tree in pages.items()
    }
    assert {name: others for name, others in crossing.items() if others} == {}


def test_every_dashboard_get_route_accepts_head(server: LiveServer) -> None:
    # A second app on the server's runtime, never started: its route table is all this reads.
    app = create_dashboard(server.app.runtime)
    without_head = [
        route.path
        for route in app.routes
        if HttpMethod.GET in getattr(route, "methods", set())
        and HttpMethod.HEAD not in getattr(route, "methods", set())
    ]
    assert without_head == []


@pytest.fixture
def member(server: LiveServer, engine: Engine) -> tuple[httpx.Client, str]:
    """A signed-in owner of a new project (a session made directly, not through /login)."""
    user = person(engine)
    project = create_project(engine, user.id, "Heads")
    token, _ = start_session(engine, user.id, user_agent="test")
    http = httpx.Client(
        base_url=server.url, timeout=30, follow_redirects=False, cookies={SESSION_COOKIE: token}
    )
    return http, project.id


def _feedback_with_screenshot_and_replay(server: LiveServer, client_id: str) -> dict[str, str]:
    with httpx.Client(base_url=server.url, timeout=30, headers={"User-Agent": CHROME}) as api:
        shot = api.post(
            "/api/screenshots",
            data={"clientId": client_id},
            files={"screenshot": ("shot.png", png_bytes(), "image/png")},
        ).json()["screenshot"]
        started = api.post(
            "/api/replay-sessions",
            json={
                "clientId": client_id,
                "sdkSessionId": secrets.token_hex(8),
                "anonymousId": "anon-" + secrets.token_hex(4),
                "startUrl": "https://shop.example/",
                "userAgent": CHROME,
                "startedAt": "2026-11-27T10:00:00.000Z",
            },
        ).json()
        session_id = started["sessionReplayId"]
        events = [{"type": 3, "timestamp": 1_795_000_000_000 + i, "data": {}} for i in range(2)]
        chunk = api.put(
            f"/api/replay-sessions/{session_id}/chunks/0",
            content=gzip.compress(json.dumps(events).encode()),
            headers={
                "Content-Type": "application/octet-stream",
                "X-Usero-Client-Id": client_id,
                "X-Usero-Event-Count": "2",
                "X-Usero-Duration-Ms": "1",
            },
        )
        assert chunk.status_code == 200, chunk.text
        feedback = api.post(
            "/api/feedback",
            json={
                "clientId": client_id,
                "rating": 4,
                "comment": "Heads up",
                "screenshots": [shot],
                "sessionReplayId": session_id,
            },
        )
        assert feedback.status_code == 200, feedback.text
    return {
        "feedback": feedback.json()["feedbackId"],
        "session": session_id,
        "shot": str(shot["fileName"]).split("/", 1)[1],
        "shot_url": str(shot["url"]).removeprefix(server.url),
    }


def _same_answer_without_body(http: httpx.Client, path: str) -> httpx.Response:
    got, head = http.get(path), http.head(path)
    assert head.status_code == got.status_code, path
    assert head.content == b"", path
    for name in ("content-type", "content-security-policy", "cache-control", "location"):
        assert head.headers.get(name) == got.headers.get(name), (path, name)
    return head


def test_every_dashboard_page_answers_head_like_get_without_a_body(
    server: LiveServer, engine: Engine, member: tuple[httpx.Client, str]
) -> None:
    http, client_id = member
    ids = _feedback_with_screenshot_and_replay(server, client_id)
    project = f"/projects/{client_id}"
    pages = [
        "/",
        project,
        f"{project}/settings",
        f"{project}/audit",
        f"{project}/inbox",
        f"{project}/feedback/{ids['feedback']}",
        f"{project}/overview",
        f"{project}/people",
        f"{project}/replays",
        f"{project}/replays/{ids['session']}",
        f"{project}/replays/{ids['session']}/events.json",
        f"{project}/screenshots/{ids['shot']}",
        f"{project}/export?format=csv",
        "/static/dashboard.css",
        "/static/favicon.svg",
        *(f"/static/build/{name}" for name in sorted(SCRIPTS)),
    ]
    for path in pages:
        assert _same_answer_without_body(http, path).status_code == 200, path
    # Signed out: /login answers, and a project page sends HEAD to sign in like GET.
    with httpx.Client(base_url=server.url, timeout=30, follow_redirects=False) as anonymous:
        assert _same_answer_without_body(anonymous, "/login").status_code == 200
        assert _same_answer_without_body(anonymous, f"{project}/inbox").status_code == 303
    # A non-member's HEAD is the same 404 as their GET.
    stranger = create_project(engine, person(engine).id, "Elsewhere")
    assert _same_answer_without_body(http, f"/projects/{stranger.id}/inbox").status_code == 404


def test_a_head_of_an_export_reads_and_audits_nothing(
    engine: Engine, member: tuple[httpx.Client, str]
) -> None:
    http, client_id = member
    exports = select(func.count()).where(
        audit_log.c.client_id == client_id, audit_log.c.action == "feedback_exported"
    )
    head = http.head(f"/projects/{client_id}/export?format=json")
    assert head.status_code == 200
    assert head.headers["content-disposition"].startswith("attachment;")
    with engine.connect() as conn:
        assert conn.execute(exports).scalar_one() == 0
    assert http.get(f"/projects/{client_id}/export?format=json").status_code == 200
    with engine.connect() as conn:
        assert conn.execute(exports).scalar_one() == 1


def test_every_public_get_route_answers_head_without_a_body(
    server: LiveServer, member: tuple[httpx.Client, str]
) -> None:
    routes = [*router.ROUTES.items(), *router.PREFIX_ROUTES.items()]
    assert [path for path, methods in routes if "GET" in methods and "HEAD" not in methods] == []
    _, client_id = member
    shot_url = _feedback_with_screenshot_and_replay(server, client_id)["shot_url"]
    with httpx.Client(base_url=server.url, timeout=30) as api:
        for path in ("/api/ping", "/healthz", "/openapi.json", "/widget.js", shot_url):
            got, head = api.get(path), api.head(path)
            assert (head.status_code, head.content) == (200, b""), path
            assert got.status_code == 200, path
            assert head.headers["content-type"] == got.headers["content-type"], path
