"""The app the ingest benchmark serves: Sayso, plus a bare ASGI baseline at ``/raw``.

``/raw`` reads the request body and returns constant JSON — no framework, no
validation, no database — so the benchmark can show what Sayso's real work
costs relative to the server's own floor, in the same process and run.
"""

from typing import Any

from bench.bare_app import app as raw_app
from sayso.app import create_app

sayso_app = create_app()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http" and scope["path"] == "/raw":
        await raw_app(scope, receive, send)
        return
    await sayso_app(scope, receive, send)
