"""The Litestar application behind every path that is not the public API.

It owns the process lifespan (``on_startup``/``on_shutdown`` start and stop
the shared ``Runtime``), so the outer dispatcher in ``sayso.app`` can hand it
the ASGI ``lifespan`` scope unchanged. The pages are in ``auth.py`` (sign-in),
``projects.py``, ``inbox.py`` and their neighbours, side by side: a project
page receives its checked ``Access`` from the dependencies of ``access.py``,
and its shared helpers come from ``pages.py``. Every GET route answers HEAD
too, and every response carries the security headers of ``security.py``.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from litestar import Litestar, Request, Response
from litestar.datastructures import ResponseHeader, State
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath

from sayso.dashboard.access import DEPENDENCIES, Refused, refused
from sayso.dashboard.auth import ROUTES as AUTH_ROUTES
from sayso.dashboard.body_limit import MAX_BODY_BYTES
from sayso.dashboard.exports import ROUTES as EXPORT_ROUTES
from sayso.dashboard.inbox import ROUTES as INBOX_ROUTES
from sayso.dashboard.overview import ROUTES as OVERVIEW_ROUTES
from sayso.dashboard.pages import (
    ASSET_VERSION,
    FAVICON,
    SCRIPTS,
    STYLESHEET,
    get_or_head,
    render,
)
from sayso.dashboard.people import ROUTES as PEOPLE_ROUTES
from sayso.dashboard.projects import ROUTES as PROJECT_ROUTES
from sayso.dashboard.replays import ROUTES as REPLAY_ROUTES
from sayso.dashboard.screenshots import ROUTES as SCREENSHOT_ROUTES
from sayso.dashboard.security import HEADERS
from sayso.dashboard.triage import ROUTES as TRIAGE_ROUTES
from sayso.store.outages import RETRY_AFTER_SECONDS, describe, is_outage

if TYPE_CHECKING:
    from sayso.runtime import Runtime

log = logging.getLogger(__name__)


def _asset_cache(request: Request[Any, Any, Any]) -> str:
    # Pages link assets as ?v=<ASSET_VERSION>; that exact URL never changes content.
    if request.query_params.get("v") == ASSET_VERSION:
        return "public, max-age=31536000, immutable"
    return "no-cache"


@get_or_head("/static/dashboard.css", sync_to_thread=False)
def stylesheet(request: Request[Any, Any, Any]) -> Response[bytes]:
    return Response(
        STYLESHEET,
        media_type="text/css",  # Litestar adds "; charset=utf-8"
        headers={"cache-control": _asset_cache(request)},
    )


@get_or_head("/static/favicon.svg", sync_to_thread=False)
def favicon() -> Response[bytes]:
    return Response(
        FAVICON, media_type="image/svg+xml", headers={"cache-control": "public, max-age=86400"}
    )


@get_or_head("/static/build/{name:str}", sync_to_thread=False)
def script(request: Request[Any, Any, Any], name: FromPath[str]) -> Response[bytes]:
    body = SCRIPTS.get(name)
    if body is None:
        raise NotFoundException()
    css = name.endswith(".css")
    return Response(
        body,
        media_type="text/css" if css else "text/javascript",  # Litestar adds the charset
        headers={"cache-control": _asset_cache(request)},
    )


def error_page(request: Request[Any, Any, Any], exc: Exception) -> Response[str]:
    """Litestar's own errors (unknown path, wrong method, a crash) as HTML with our headers.

    Its default answer is JSON without the layered response headers, which
    would leave those responses outside the CSP. An unavailable database or
    disk (``store.outages``) is a 503 with ``Retry-After``, anything else
    unexpected a logged 500.
    """
    if isinstance(exc, HTTPException) and exc.status_code < 500:
        status = exc.status_code
        title = HTTPStatus(status).phrase
    elif is_outage(exc):
        # The database or a disk is unavailable: not a bug, one line is enough.
        status, title = 503, "Service temporarily unavailable, please retry"
        log.warning("unavailable: %s %s: %s", request.method, request.url.path, describe(exc))
    else:
        status, title = 500, HTTPStatus(500).phrase
        log.error("dashboard error on %s %s", request.method, request.url.path, exc_info=exc)
    response = render("error.html", status_code=status, title=title)
    response.headers.update(HEADERS)
    if status == 503:
        response.headers["retry-after"] = str(RETRY_AFTER_SECONDS)
    if isinstance(exc, HTTPException) and exc.headers:
        response.headers.update(exc.headers)  # e.g. Allow on a 405
    return response


def create_dashboard(runtime: Runtime) -> Litestar:
    return Litestar(
        route_handlers=[
            *AUTH_ROUTES,
            *PROJECT_ROUTES,
            *INBOX_ROUTES,
            *OVERVIEW_ROUTES,
            *PEOPLE_ROUTES,
            *TRIAGE_ROUTES,
            *EXPORT_ROUTES,
            *SCREENSHOT_ROUTES,
            *REPLAY_ROUTES,
            stylesheet,
            script,
            favicon,
        ],
        state=State({"runtime": runtime}),
        dependencies=DEPENDENCIES,
        exception_handlers={Refused: refused, Exception: error_page},
        # BodyLimit (sayso.app) refuses bigger bodies first; this is the second line.
        request_max_body_size=MAX_BODY_BYTES,
        response_headers=[ResponseHeader(name=k, value=v) for k, v in HEADERS.items()],
        on_startup=[runtime.start],
        on_shutdown=[runtime.stop],
        openapi_config=None,
        # Logging is configured once by `sayso serve`; Litestar's default would
        # replace the root logger's handlers at app creation.
        logging_config=None,
    )
