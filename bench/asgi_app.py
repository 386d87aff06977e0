"""The app the ingest benchmark serves: Sayso, plus a bare ASGI baseline at ``/raw``.

``/raw`` reads the request body and returns constant JSON — no framework, no
validation, no database — so the benchmark can show what Sayso's real work
costs relative to the server's own floor, in the same process and run.
"""

from typing import Any

from sayso.app import create_app

sayso_app = create_app()
RAW_BODY = b'{"success":true,"feedbackId":"01m8f9v4y0wc9fhva7at6gbr0x"}'
RAW_HEADERS = [
    (b"content-type", b"application/json"),
    (b"content-length", str(len(RAW_BODY)).encode()),
]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "http" and scope["path"] == "/raw":
        more = True
        while more:
            message = await receive()
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": RAW_HEADERS})
        await send({"type": "http.response.body", "body": RAW_BODY})
        return
    await sayso_app(scope, receive, send)
