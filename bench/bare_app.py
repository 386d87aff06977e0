"""A bare ASGI app for baselines in its own process: reads the body, answers constant JSON."""

from typing import Any

BODY = b'{"success":true,"feedbackId":"01m8f9v4y0wc9fhva7at6gbr0x"}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
