"""Bare-ASGI request and response primitives for the public API.

The ingest routes are the hot path (every widget submission), so they skip the
web framework: a request is the raw ASGI scope plus a size-capped body reader,
a response is a status, a JSON body and headers. Every response carries the
public API's CORS header, a request id and ``no-store``.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# Request ids: a per-process random prefix plus a counter — unique enough to
# find a request in the logs, and far cheaper than a UUID per request.
_PROCESS_TAG = secrets.token_hex(3)
_counter = itertools.count(1)

_encode = msgspec.json.Encoder().encode

BASE_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-type", b"application/json"),
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", b"x-request-id"),
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
]


class HTTPError(Exception):
    """Ends a request with a JSON ``{"error": ...}`` response."""

    def __init__(
        self,
        status: int,
        error: str,
        *,
        extra: dict[str, Any] | None = None,
        headers: list[tuple[bytes, bytes]] | None = None,
    ) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.extra = extra
        self.headers = headers or []

    def response(self) -> Response:
        body: dict[str, Any] = {"error": self.error}
        if self.extra:
            body.update(self.extra)
        return Response(self.status, body, self.headers)


class ClientDisconnected(Exception):
    """The client went away before its request body arrived."""


@dataclass(slots=True)
class Response:
    status: int
    body: Any = None  # encoded as JSON; None (and no content) means an empty body
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    content: bytes | None = None  # raw bytes instead of JSON, of type media_type
    media_type: bytes = b"application/json"


class Request:
    __slots__ = ("_headers", "receive", "request_id", "scope")

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope = scope
        self.receive = receive
        self.request_id = f"{_PROCESS_TAG}-{next(_counter)}"
        self._headers: dict[bytes, bytes] | None = None

    @property
    def method(self) -> str:
        return str(self.scope["method"])

    def header(self, name: bytes) -> str | None:
        """The value of header ``name`` (lowercase bytes), decoded as Latin-1.

        A repeated header yields its last value.
        """
        if self._headers is None:
            # One C-level pass over the header list beats a Python scan per lookup.
            self._headers = dict(self.scope["headers"])
        value = self._headers.get(name)
        return None if value is None else value.decode("latin-1")

    async def stream(self, limit: int) -> AsyncIterator[bytes]:
        """The body chunk by chunk, refusing with 413 as soon as it is known to exceed ``limit``.

        A declared ``Content-Length`` over the limit is refused before a single
        body byte is read; a chunked body is counted as it streams in.
        """
        declared = self.header(b"content-length")
        if declared is not None:
            if not (declared.isascii() and declared.isdigit()):
                raise HTTPError(400, "Invalid Content-Length header")
            if int(declared) > limit:
                raise too_large(limit)
        size = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large(limit)
            yield chunk
            if not message.get("more_body", False):
                return

    async def body(self, limit: int) -> bytes:
        """The whole body (see ``stream``)."""
        chunks = [chunk async for chunk in self.stream(limit)]
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def too_large(limit: int) -> HTTPError:
    # Closing the connection stops us from having to swallow the rest of the body.
    return HTTPError(
        413,
        f"Request body too large (max {limit:,} bytes)",
        headers=[(b"connection", b"close")],
    )


_BASE_NO_TYPE = [h for h in BASE_HEADERS if h[0] != b"content-type"]
_BASE_OVERRIDABLE = {name for name, _ in BASE_HEADERS}


async def send_response(send: Send, response: Response, request_id: str) -> None:
    if response.content is not None:
        payload = response.content
        headers = [*_BASE_NO_TYPE, (b"content-type", response.media_type)]
    elif response.body is not None:
        payload = _encode(response.body)
        headers = list(BASE_HEADERS)
    else:
        payload = b""
        headers = list(_BASE_NO_TYPE)
    if response.headers:
        # A response's own headers replace the defaults of the same name.
        names = {name for name, _ in response.headers} & _BASE_OVERRIDABLE
        if names:
            headers = [h for h in headers if h[0] not in names]
        headers += response.headers
    headers.append((b"x-request-id", request_id.encode()))
    headers.append((b"content-length", str(len(payload)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
