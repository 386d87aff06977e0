"""Every dashboard request body: capped at what a form needs, and on a deadline.

The dashboard's bodies are forms (sign-in, triage, notes, settings); the
largest, a 5,000-character note, fits in ``MAX_BODY_BYTES`` even written in
emoji and percent-encoded. Litestar would take 10 MB and parse a form on the
event loop, so ``BodyLimit`` wraps it (``sayso.app`` sends it every dashboard
request):

- a declared ``Content-Length`` over the cap is answered ``413`` before the
  application runs and before a byte of the body is read;
- a chunked body is counted as it streams in and refused at the cap;
- a body that stalls or drags on past ``BodyDeadlines`` is answered ``408``.

A refusal is a line of text with the dashboard's security headers and
``connection: close`` (the rest of the body is never read). When a streamed
body is refused, the application's ``receive`` raises Litestar's own 4xx
exception, as if its limit had fired, and whatever it answers is dropped.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from litestar.exceptions import ClientException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge

from sayso.dashboard.security import HEADERS
from sayso.ingest.http import BodyClock, BodyDeadlines, BodyTimedOut, Message, Receive, Scope, Send

MAX_BODY_BYTES = 64 * 1024

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_HEADERS = [(name.encode(), value.encode()) for name, value in HEADERS.items()]
TOO_LARGE = f"Request body too large (max {MAX_BODY_BYTES:,} bytes)\n"
TOO_SLOW = "Request body took too long to arrive\n"


async def refuse(send: Send, status: int, text: str) -> None:
    """Answer ``status`` with ``text`` and close the connection."""
    body = text.encode()
    headers = [
        *_HEADERS,
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def declared_length(scope: Scope) -> int | None:
    """The request's ``Content-Length``, if it has a valid one.

    uvicorn's parser already refuses a repeated or malformed one.
    """
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class BodyLimit:
    """ASGI middleware: the dashboard's cap and deadlines on request bodies."""

    def __init__(self, app: ASGIApp, deadlines: BodyDeadlines) -> None:
        self.app = app
        self.deadlines = deadlines

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = declared_length(scope)
        if declared is not None and declared > MAX_BODY_BYTES:
            await refuse(send, 413, TOO_LARGE)
            return
        body = _Body(receive, send, self.deadlines)
        await self.app(scope, body.receive, body.send)


class _Body:
    """One request's ``receive`` and ``send``, as the application sees them."""

    __slots__ = ("_clock", "_deadlines", "_receive", "_send", "done", "refused", "size", "started")

    def __init__(self, receive: Receive, send: Send, deadlines: BodyDeadlines) -> None:
        self._receive = receive
        self._send = send
        self._deadlines = deadlines
        self._clock: BodyClock | None = None
        self.size = 0
        self.done = False  # the whole body has arrived
        self.started = False  # the application has begun its response
        self.refused = False  # we answered instead of the application

    async def receive(self) -> Message:
        if self.done or self.started:
            # Past the body (e.g. a streamed export waiting for a disconnect):
            # nothing left to bound.
            return await self._receive()
        if self._clock is None:
            self._clock = self._deadlines.clock(self._receive)
        try:
            message = await self._clock.receive()
        except BodyTimedOut:
            await self._refuse(408, TOO_SLOW)
            raise ClientException(TOO_SLOW.strip(), status_code=408) from None
        if message["type"] == "http.request":
            self.size += len(message.get("body", b""))
            if self.size > MAX_BODY_BYTES:
                await self._refuse(413, TOO_LARGE)
                raise RequestEntityTooLarge
            self.done = not message.get("more_body", False)
        return message

    async def send(self, message: Message) -> None:
        if self.refused:
            return
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)

    async def _refuse(self, status: int, text: str) -> None:
        if not self.started:
            self.refused = True
            await refuse(self._send, status, text)
