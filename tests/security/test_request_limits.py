"""Request and connection limits (issue 10, findings 1, 4, 10 and 14), over real sockets.

Dashboard bodies are capped at 64 KiB before Litestar sees them; headers and
bodies must arrive in time; open connections are bounded; a header that
decides something may appear only once on the public API; every dashboard
response names its charset once. The servers here run with short timeouts
(``LIMITS``) through the same uvicorn options as ``sayso serve``. Nothing
asserts how long anything took: a test waits (at most ``WAIT`` seconds) for
the server to answer or to close the connection, and fails if it doesn't.
"""

from __future__ import annotations

import re
import select
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import closing

import httpx
import pytest
from sqlalchemy import Engine, func
from sqlalchemy import select as sql_select

from sayso.accounts.users import create_user
from sayso.dashboard.body_limit import MAX_BODY_BYTES
from sayso.ingest.http import BodyDeadlines, HTTPError, Request
from sayso.serving import MAX_HEADER_BYTES
from sayso.settings import Settings
from sayso.store.clients import create_client
from sayso.store.ids import new_sortable_id
from sayso.store.schema import feedback
from tests.support.images import png_bytes
from tests.support.live_server import LiveServer, migrated_server

# Short enough to see each deadline pass within WAIT, long enough that a
# request sent in one piece never meets one on a busy machine.
LIMITS = {"header_timeout_seconds": 1.0, "body_idle_seconds": 1.0, "body_timeout_seconds": 3.0}
WAIT = 15.0  # the longest a test waits for the server to answer or hang up
PASSWORD = "correct horse battery"
EMAIL = "limits-admin@example.com"
ALLOWED = "https://example.com"
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture(scope="module")
def limited(
    backend: str, fresh_settings: Callable[..., Settings]
) -> Iterator[tuple[LiveServer, Engine]]:
    """A live server with short header and body deadlines, and one dashboard user."""
    with migrated_server(fresh_settings(backend, **LIMITS)) as (server, engine):
        create_user(engine, EMAIL, PASSWORD, is_admin=True)
        yield server, engine


# --- raw HTTP over a socket ---------------------------------------------------


def connect(server: LiveServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)


def head(method: str, path: str, *headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One response: status, headers (lowercase names; repeated ones joined), body."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"the server closed the connection without answering: {data!r}"
            data += chunk
        raw_head, _, body = data.partition(b"\r\n\r\n")
        lines = raw_head.decode("latin-1").split("\r\n")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            key = name.strip().lower()
            headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            chunk = sock.recv(65536)
            assert chunk, "the server closed the connection mid-response"
            body += chunk
    except TimeoutError:
        pytest.fail(f"no answer within {WAIT} s")
    return int(lines[0].split(" ", 2)[1]), headers, body


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server closes the connection (within ``WAIT``), sending nothing more."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def chunked(body: bytes, size: int = 16 * 1024) -> bytes:
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


# --- the dashboard's body cap (finding 1) --------------------------------------


def test_a_declared_10_mb_sign_in_form_is_refused_before_a_byte_of_it_is_read(
    limited: tuple[LiveServer, Engine],
) -> None:
    server, _ = limited
    with closing(connect(server)) as sock:
        # Only the headers: a 413 now proves the body was never waited for.
        sock.sendall(
            head(
                "POST",
                "/login",
                "Content-Type: application/x-www-form-urlencoded",
                f"Content-Length: {9_900_000}",
            )
        )
        status, headers, body = read_response(sock)
        assert status == 413
        assert f"max {MAX_BODY_BYTES:,} bytes" in body.decode()
        assert headers["connection"] == "close"
        assert headers["content-security-policy"].startswith("default-src 'none'")
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["cache-control"] == "no-store"
        assert closed_by_server(sock)


def test_a_chunked_form_over_the_cap_is_refused_as_it_streams(
    limited: tuple[LiveServer, Engine],
) -> None:
    server, _ = limited
    form = b"a=1&" * ((MAX_BODY_BYTES + 4096) // 4)
    with closing(connect(server)) as sock:
        sock.sendall(
            head(
                "POST",
                "/login",
                "Content-Type: application/x-www-form-urlencoded",
                "Transfer-Encoding: chunked",
            )
            + chunked(form)
        )
        status, headers, _ = read_response(sock)
        assert status == 413
        assert headers["connection"] == "close"
        assert "content-security-policy" in headers
        assert closed_by_server(sock)


def sign_in(client: httpx.Client) -> httpx.Response:
    page = client.get("/login")
    assert page.status_code == 200, page.text
    match = CSRF_INPUT.search(page.text)
    assert match, page.text
    return client.post(
        "/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": match.group(1)}
    )


def test_an_ordinary_sign_in_form_still_works(limited: tuple[LiveServer, Engine]) -> None:
    server, _ = limited
    with httpx.Client(base_url=server.url, timeout=WAIT, follow_redirects=False) as client:
        done = sign_in(client)
        assert done.status_code in (302, 303), done.text
        assert "sayso_session" in client.cookies
        assert client.get("/").status_code == 200


# --- slow headers and bodies (finding 4) ---------------------------------------


def test_a_connection_that_never_finishes_its_headers_is_closed(
    limited: tuple[LiveServer, Engine],
) -> None:
    server, _ = limited
    with closing(connect(server)) as silent, closing(connect(server)) as halfway:
        halfway.sendall(b"GET /api/ping HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        assert closed_by_server(halfway)
        assert closed_by_server(silent)


def test_a_kept_alive_connection_that_stalls_in_its_next_headers_is_closed(
    limited: tuple[LiveServer, Engine],
) -> None:
    server, _ = limited
    with closing(connect(server)) as sock:
        sock.sendall(head("GET", "/api/ping"))
        status, headers, _ = read_response(sock)
        assert status == 200
        assert headers.get("connection") != "close"
        # The next request's first bytes cancel uvicorn's keep-alive timer.
        sock.sendall(b"GET /api/ping HTTP/1.1\r\nHost: 1")
        assert closed_by_server(sock)


def test_headers_that_never_end_are_refused_with_431_not_kept(
    limited: tuple[LiveServer, Engine],
) -> None:
    server, _ = limited
    with closing(connect(server)) as sock:
        line = b"X-Filler: " + b"a" * 1000 + b"\r\n"
        # Just over the cap, in one piece: the server reads all of it before it
        # hangs up (unread bytes would make its close a reset).
        flood = line * (MAX_HEADER_BYTES // len(line) + 2)
        sock.sendall(b"GET /api/ping HTTP/1.1\r\nHost: 127.0.0.1\r\n" + flood)
        status, headers, _ = read_response(sock)
        assert status == 431
        assert headers["connection"] == "close"
        assert closed_by_server(sock)


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/api/feedback", "application/json"), ("/login", "application/x-www-form-urlencoded")],
)
def test_a_body_that_stalls_gets_408_and_the_connection_closes(
    limited: tuple[LiveServer, Engine], path: str, content_type: str
) -> None:
    server, _ = limited
    with closing(connect(server)) as sock:
        sock.sendall(
            head("POST", path, f"Content-Type: {content_type}", "Content-Length: 200") + b"{"
        )
        status, headers, body = read_response(sock)
        assert status == 408
        assert headers["connection"] == "close"
        if path.startswith("/api/"):
            assert headers["content-type"] == "application/json"
            assert httpx.Response(408, content=body).json()["error"]
        else:
            assert "content-security-policy" in headers
        assert closed_by_server(sock)


def test_a_body_that_trickles_in_is_cut_off_at_the_overall_deadline(
    limited: tuple[LiveServer, Engine],
) -> None:
    server, _ = limited
    with closing(connect(server)) as sock:
        sock.sendall(
            head("POST", "/api/feedback", "Content-Type: application/json", "Content-Length: 10000")
        )
        # A byte well within the idle timeout each time, never the whole body.
        sent = 0
        while not select.select([sock], [], [], 0.3)[0]:
            sock.sendall(b" ")
            sent += 1
            assert sent < WAIT / 0.3, "the server kept reading a body that never ends"
        status, headers, _ = read_response(sock)
        assert status == 408
        assert headers["connection"] == "close"


def test_connections_past_the_limit_are_refused_with_503(
    fresh_settings: Callable[..., Settings],
) -> None:
    with (
        migrated_server(fresh_settings("sqlite", max_connections=2)) as (server, _),
        httpx.Client(base_url=server.url, timeout=WAIT) as client,
    ):
        with closing(connect(server)), closing(connect(server)):
            # Two idle connections are open: a third is one too many.
            assert client.get("/api/ping").status_code == 503
        for _attempt in range(int(WAIT / 0.1)):
            # The server notices the closed ones on its next loop pass.
            if client.get("/api/ping", headers={"connection": "close"}).status_code == 200:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the limit did not let a connection through after others closed")


# --- headers that may appear only once (finding 10) ----------------------------


def count_feedback(engine: Engine, client_id: str) -> int:
    with engine.connect() as conn:
        query = sql_select(func.count()).select_from(feedback)
        return int(conn.execute(query.where(feedback.c.client_id == client_id)).scalar_one())


@pytest.mark.parametrize(
    "origins",
    [
        ("https://evil.com", ALLOWED),
        (ALLOWED, "https://evil.com"),
        (ALLOWED, ALLOWED),
    ],
)
def test_two_origin_headers_are_refused_and_nothing_is_stored(
    limited: tuple[LiveServer, Engine], origins: tuple[str, str]
) -> None:
    server, engine = limited
    client_id = create_client(engine, "guarded", [ALLOWED]).id
    with httpx.Client(base_url=server.url, timeout=WAIT) as api:
        refused = api.post(
            "/api/feedback",
            json={"clientId": client_id, "rating": 4},
            headers=[("Origin", origins[0]), ("Origin", origins[1])],
        )
        assert refused.status_code == 403, refused.text
        assert refused.json() == {"error": "Only one Origin header is allowed"}
        # One Referer too many decides the origin when there is no Origin.
        refused = api.post(
            "/api/feedback",
            json={"clientId": client_id, "rating": 4},
            headers=[("Referer", "https://evil.com/"), ("Referer", ALLOWED + "/")],
        )
        assert refused.status_code == 403, refused.text
        assert count_feedback(engine, client_id) == 0
        accepted = api.post(
            "/api/feedback", json={"clientId": client_id, "rating": 4}, headers={"Origin": ALLOWED}
        )
        assert accepted.status_code == 200, accepted.text
        assert count_feedback(engine, client_id) == 1


def test_a_repeated_idempotency_key_is_refused_and_nothing_is_stored(
    limited: tuple[LiveServer, Engine],
) -> None:
    server, engine = limited
    client_id = create_client(engine, "keys").id
    with httpx.Client(base_url=server.url, timeout=WAIT) as api:
        refused = api.post(
            "/api/feedback",
            json={"clientId": client_id, "rating": 4},
            headers=[("Idempotency-Key", "one"), ("Idempotency-Key", "two")],
        )
    assert refused.status_code == 400, refused.text
    assert refused.json() == {"error": "Only one Idempotency-Key header is allowed"}
    assert count_feedback(engine, client_id) == 0


def test_repeated_upload_and_replay_headers_are_refused(
    limited: tuple[LiveServer, Engine],
) -> None:
    server, engine = limited
    client_id = create_client(engine, "replays").id
    form = httpx.Request(
        "POST",
        server.url + "/api/screenshots",
        data={"clientId": client_id},
        files={"screenshot": ("shot.png", png_bytes(), "image/png")},
    )
    # The multipart boundary is in the first Content-Type; a second one follows.
    content_types = [("Content-Type", form.headers["content-type"]), ("Content-Type", "text/plain")]
    chunk_path = f"/api/replay-sessions/{new_sortable_id()}/chunks/0"
    with httpx.Client(timeout=WAIT) as api:
        upload = api.post(form.url, content=form.read(), headers=content_types)
        assert upload.status_code == 400, upload.text
        assert upload.json() == {"error": "Only one Content-Type header is allowed"}
        for name in ("X-Usero-Client-Id", "X-Usero-Event-Count"):
            value = client_id if name.endswith("Id") else "3"
            response = api.put(
                server.url + chunk_path,
                content=b"[]",
                headers=[
                    ("X-Usero-Client-Id", client_id),
                    ("X-Usero-Event-Count", "3"),
                    (name, value),
                ],
            )
            assert response.status_code == 400, response.text
            assert response.json() == {"error": f"Only one {name} header is allowed"}


def test_a_repeated_content_length_never_reaches_a_handler(
    limited: tuple[LiveServer, Engine],
) -> None:
    server, _ = limited
    # uvicorn's parser refuses it on the wire...
    with closing(connect(server)) as sock:
        sock.sendall(
            head("POST", "/api/feedback", "Content-Length: 2", "Content-Length: 2") + b"{}"
        )
        assert read_response(sock)[0] == 400
    # ...and Request refuses it too, whatever server hands it over.
    scope = {"headers": [(b"content-length", b"2"), (b"content-length", b"20000")]}
    request = Request(scope, _no_body, BodyDeadlines(1.0, 1.0))
    with pytest.raises(HTTPError) as refused:
        request.header(b"user-agent")
    assert refused.value.status == 400
    assert refused.value.error == "Only one Content-Length header is allowed"


async def _no_body() -> dict[str, object]:
    raise AssertionError("the body must not be read")


def test_repeated_headers_that_decide_nothing_still_pass(
    limited: tuple[LiveServer, Engine],
) -> None:
    server, engine = limited
    client_id = create_client(engine, "lenient").id
    with httpx.Client(base_url=server.url, timeout=WAIT) as api:
        accepted = api.post(
            "/api/feedback",
            json={"clientId": client_id, "rating": 4},
            headers=[
                ("Accept", "application/json"),
                ("Accept", "*/*"),
                ("X-Trace", "a"),
                ("X-Trace", "b"),
            ],
        )
    assert accepted.status_code == 200, accepted.text


# --- one charset (finding 14) ---------------------------------------------------


def test_every_dashboard_response_names_its_charset_once(
    limited: tuple[LiveServer, Engine],
) -> None:
    server, _ = limited
    with httpx.Client(base_url=server.url, timeout=WAIT, follow_redirects=False) as client:
        page = client.get("/login")
        version = re.search(r"dashboard\.css\?v=([0-9a-f]+)", page.text)
        assert version, page.text
        responses = [
            page,
            client.get(f"/static/dashboard.css?v={version.group(1)}"),
            client.get("/static/build/dashboard.js"),
            client.get("/static/favicon.svg"),
            client.get("/no-such-page"),
            client.put("/login"),
            client.post("/login", data={"email": EMAIL, "password": PASSWORD}),
            client.post("/login", content=b"x" * (MAX_BODY_BYTES + 1)),
        ]
        assert sign_in(client).status_code in (302, 303)
        responses += [client.get("/"), client.get("/setup"), client.get("/logout")]
    for response in responses:
        content_type = response.headers.get("content-type", "")
        charsets = content_type.lower().count("charset=")
        expected = 1 if content_type.startswith("text/") else 0
        assert charsets == expected, (response.request.url, response.status_code, content_type)
        assert len(response.headers.get_list("content-type")) <= 1
    # Pages, assets, error pages and the body cap's own refusal were all among them.
    assert {200, 403, 404, 405, 413} <= {r.status_code for r in responses}
