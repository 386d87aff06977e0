"""The Litestar application behind every path that is not the public API.

It owns the process lifespan (``on_startup``/``on_shutdown`` start and stop
the shared ``Runtime``), so the outer dispatcher in ``sayso.app`` can hand it
the ASGI ``lifespan`` scope unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from litestar import Litestar, MediaType, get

from sayso import __version__

if TYPE_CHECKING:
    from sayso.app import Runtime

_SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'; style-src 'self'; frame-ancestors 'none'",
    "referrer-policy": "same-origin",
    "x-content-type-options": "nosniff",
}

LANDING = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sayso</title></head>
<body><h1>Sayso {__version__}</h1>
<p>The feedback API is up: <code>POST /api/feedback</code>.
Its description is at <a href="/openapi.json">/openapi.json</a>.</p>
</body></html>
"""


@get("/", media_type=MediaType.HTML, response_headers=_SECURITY_HEADERS, sync_to_thread=False)
def landing() -> str:
    return LANDING


def create_dashboard(runtime: Runtime) -> Litestar:
    return Litestar(
        route_handlers=[landing],
        on_startup=[runtime.start],
        on_shutdown=[runtime.stop],
        openapi_config=None,
        # Logging is configured once by `sayso serve`; Litestar's default would
        # replace the root logger's handlers at app creation.
        logging_config=None,
    )
