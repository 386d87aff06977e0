"""The public API's ASGI app: routing, CORS preflight and the error boundary.

Everything under ``/api/`` lands here, plus ``/healthz``, ``/openapi.json`` and
the widget's files (``/widget.js``, ``/widget/*``). Whatever goes
wrong inside a handler, the caller gets JSON with the public API's CORS header:
an ``HTTPError`` becomes its own status, an overloaded writer a 503, an
unavailable dependency (database down, disk full: ``store.outages``) a 503
with ``Retry-After`` and one log line, anything unexpected a logged 500
``{"error": "Internal server error"}`` — never a framework's HTML page.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from sayso.ingest.feedback import post_feedback
from sayso.ingest.http import (
    BodyDeadlines,
    ClientDisconnected,
    HTTPError,
    Receive,
    Request,
    Response,
    Scope,
    Send,
    send_response,
)
from sayso.ingest.identify import identify
from sayso.ingest.openapi import openapi_document
from sayso.ingest.replay import PREFIX as REPLAY_PREFIX
from sayso.ingest.replay import finalise, put_chunk, start_session
from sayso.ingest.screenshots import PREFIX, serve_screenshot, upload_screenshot
from sayso.ingest.widget_assets import PREFIX as WIDGET_PREFIX
from sayso.ingest.widget_assets import serve_widget_asset
from sayso.store.database import ping as ping_database
from sayso.store.outages import RETRY_AFTER_SECONDS, describe, disk_problem, is_outage
from sayso.store.writer import WriterOverloaded, WriterStopped

if TYPE_CHECKING:
    from sayso.runtime import Runtime

log = logging.getLogger("sayso.ingest")

Handler = Callable[["Runtime", Request], Awaitable[Response]]

# Header names a preflight may ask for: RFC 9110 tokens, comma separated.
_HEADER_LIST = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+(\s*,\s*[A-Za-z0-9!#$%&'*+.^_`|~-]+)*$")
PREFLIGHT_MAX_AGE = b"86400"


async def ping(_runtime: Runtime, _request: Request) -> Response:
    return Response(200, {"ok": True})


async def healthz(runtime: Runtime, _request: Request) -> Response:
    """For load balancers: 200 when the database answers and the disk has room, else 503."""
    database = "ok"
    try:
        await runtime.offload(ping_database, runtime.engine)
    except Exception as exc:
        log.warning("health check: database unreachable: %s", describe(exc))
        database = "unreachable"
    disk = await runtime.offload(disk_problem, runtime.settings) or "ok"
    if disk != "ok":
        log.warning("health check: disk %s", disk)
    healthy = database == "ok" and disk == "ok"
    body = {"status": "ok" if healthy else "error", "database": database, "disk": disk}
    return Response(200 if healthy else 503, body)


async def openapi(runtime: Runtime, _request: Request) -> Response:
    return Response(200, openapi_document(runtime.settings.public_url))


ROUTES: dict[str, dict[str, Handler]] = {
    "/api/feedback": {"POST": post_feedback},
    "/api/screenshots": {"POST": upload_screenshot},
    "/api/replay-sessions": {"POST": start_session},
    "/api/identify": {"POST": identify},
    "/api/ping": {"GET": ping, "HEAD": ping},
    "/healthz": {"GET": healthz, "HEAD": healthz},
    "/openapi.json": {"GET": openapi, "HEAD": openapi},
    "/widget.js": {"GET": serve_widget_asset, "HEAD": serve_widget_asset},
}
# Paths with an identifier after the prefix; the handler reads the rest.
PREFIX_ROUTES: dict[str, dict[str, Handler]] = {
    PREFIX: {"GET": serve_screenshot, "HEAD": serve_screenshot},
    WIDGET_PREFIX: {"GET": serve_widget_asset, "HEAD": serve_widget_asset},
    # .../{id}/chunks/{seq} (PUT) and .../{id}/finalise (POST)
    REPLAY_PREFIX: {"PUT": put_chunk, "POST": finalise},
}


def preflight(request: Request, methods: dict[str, Handler]) -> Response:
    allow_methods = ", ".join([*methods, "OPTIONS"]).encode()
    requested = request.header(b"access-control-request-headers") or ""
    if len(requested) > 1_000 or not _HEADER_LIST.match(requested.strip()):
        requested = "content-type"
    return Response(
        204,
        None,
        [
            (b"access-control-allow-methods", allow_methods),
            (b"access-control-allow-headers", requested.strip().encode("latin-1")),
            (b"access-control-max-age", PREFLIGHT_MAX_AGE),
            (b"vary", b"access-control-request-headers"),
        ],
    )


def _failure(request: Request, exc: Exception) -> Response:
    """A 503 when a dependency is unavailable (one log line), else a logged 500."""
    where = f"{request.method} {request.scope.get('path')} request_id={request.request_id}"
    if is_outage(exc):
        log.warning("unavailable: %s: %s", where, describe(exc))
        return Response(
            503,
            {"error": "Service temporarily unavailable, please retry"},
            [(b"retry-after", str(RETRY_AFTER_SECONDS).encode())],
        )
    log.error("unhandled error: %s", where, exc_info=exc)
    return Response(500, {"error": "Internal server error"})


class IngestApp:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        settings = runtime.settings
        self.body_deadlines = BodyDeadlines(
            settings.body_idle_seconds, settings.body_timeout_seconds
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive, self.body_deadlines)
        try:
            response = await self._dispatch(request)
        except HTTPError as exc:
            response = exc.response()
        except ClientDisconnected:
            return
        except (WriterOverloaded, WriterStopped):
            response = Response(
                503,
                {"error": "Server is busy, please retry shortly"},
                [(b"retry-after", b"1")],
            )
        except Exception as exc:
            response = _failure(request, exc)
        await send_response(send, response, request.request_id)

    async def _dispatch(self, request: Request) -> Response:
        path = request.scope["path"]
        methods = ROUTES.get(path)
        if methods is None:
            methods = next((m for p, m in PREFIX_ROUTES.items() if path.startswith(p)), None)
        if methods is None:
            raise HTTPError(404, "Not found")
        if request.method == "OPTIONS":
            return preflight(request, methods)
        handler = methods.get(request.method)
        if handler is None:
            allow = ", ".join([*methods, "OPTIONS"]).encode()
            raise HTTPError(405, "Method not allowed", headers=[(b"allow", allow)])
        return await handler(self.runtime, request)
