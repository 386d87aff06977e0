"""Bare-ASGI request and response primitives for the public API.

The ingest routes are the hot path (every widget submission), so they skip the
web framework: a request is the raw ASGI scope plus a size-capped body reader,
a response is a status, a JSON body and headers. Every response carries the
public API's CORS header, a request id and ``no-store``.

A body must also arrive in time (``BodyDeadlines``: a longest silence and a
whole-body deadline, else 408), and a header whose value decides something
(``Origin``, ``Content-Length``, ``Idempotency-Key``…) may appear only once.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import msgspec

from sayso.origins import Origin, request_origin

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# Request ids: a per-process random prefix plus a counter — unique enough to
# find a request in the logs, and far cheaper than a UUID per request.
_PROCESS_TAG = secrets.token_hex(3)
_counter = itertools.count(1)

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode

BASE_HEADERS: list[tuple[bytes, bytes]] = [
    (b"content-type", b"application/json"),
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", b"x-request-id, retry-after"),
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


class BodyTimedOut(Exception):
    """A request body stalled past ``BodyDeadlines.idle`` or took longer than ``total``."""


class BodyDeadlines:
    """How long a request body may take, in seconds, enforced for one app's requests.

    ``idle`` bounds the silence between two pieces of a body, ``total`` the
    whole body from its first read: without them a client that stops sending
    (or sends a byte a minute) holds its connection and its handler forever.

    One check every ``TICK`` seconds, while reads are waiting, cancels those
    past their deadline; arming and cancelling a timer for every read would
    cost more than the rest of reading a small body. A deadline therefore
    fires up to ``TICK`` late.
    """

    TICK = 0.25

    __slots__ = ("_expired", "_loop", "_timer", "_waiting", "idle", "total")

    def __init__(self, idle: float, total: float) -> None:
        self.idle = idle
        self.total = total
        self._waiting: dict[asyncio.Task[Any], float] = {}  # read → its deadline
        self._expired: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None

    def clock(self, receive: Receive) -> BodyClock:
        """A reader for one body, whose ``total`` starts now."""
        return BodyClock(self, receive, asyncio.get_running_loop().time() + self.total)

    async def receive(self, receive: Receive, end: float) -> Message:
        """``receive()``, or ``BodyTimedOut`` once ``idle`` or ``end`` has passed."""
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        self._waiting[task] = min(loop.time() + self.idle, end)
        if self._timer is None or self._loop is not loop:
            self._loop = loop
            self._timer = loop.call_later(self.TICK, self._check)
        try:
            return await receive()
        except asyncio.CancelledError:
            if task not in self._expired:
                raise
            self._expired.discard(task)
            if task.uncancel() > 0:  # cancelled for another reason as well
                raise
            raise BodyTimedOut from None
        finally:
            del self._waiting[task]

    def _check(self) -> None:
        assert self._loop is not None
        now = self._loop.time()
        for task, deadline in self._waiting.items():
            if deadline <= now and task not in self._expired:
                self._expired.add(task)
                task.cancel()
        self._timer = self._loop.call_later(self.TICK, self._check) if self._waiting else None


class BodyClock:
    """Receives one request's body messages within its ``BodyDeadlines``."""

    __slots__ = ("_deadlines", "_end", "_receive")

    def __init__(self, deadlines: BodyDeadlines, receive: Receive, end: float) -> None:
        self._deadlines = deadlines
        self._receive = receive
        self._end = end

    async def receive(self) -> Message:
        return await self._deadlines.receive(self._receive, self._end)


# Headers whose value decides something on the public API. Two copies would let
# one reader (a proxy, a log, the allowlist) act on one value and another on the
# other, so a request carrying two of any is refused instead of resolved.
# Origin and Referer choose the origin the allowlist checks (Referer when there
# is no Origin): 403. The others frame or parse the body, deduplicate a
# submission, or carry the replay protocol's client id and numbers: 400.
_ORIGIN_HEADERS = frozenset({b"origin", b"referer"})
_SINGLE_HEADERS = frozenset(
    {b"content-length", b"content-type", b"content-encoding", b"idempotency-key"}
)
_SINGLE_PREFIX = b"x-usero-"


def _refuse_repeats(raw: list[tuple[bytes, bytes]]) -> None:
    """Raise if a header that decides something appears more than once."""
    seen: set[bytes] = set()
    repeated: set[bytes] = set()
    for name, _ in raw:
        if name in seen:
            repeated.add(name)
        seen.add(name)
    for name in sorted(repeated & _ORIGIN_HEADERS):
        raise HTTPError(403, f"Only one {name.decode().title()} header is allowed")
    for name in sorted(repeated):
        if name in _SINGLE_HEADERS or name.startswith(_SINGLE_PREFIX):
            raise HTTPError(400, f"Only one {name.decode('latin-1').title()} header is allowed")


@dataclass(slots=True)
class Response:
    status: int
    body: Any = None  # encoded as JSON; None (and no content) means an empty body
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    content: bytes | None = None  # raw bytes instead of JSON, of type media_type
    media_type: bytes = b"application/json"


class Request:
    __slots__ = ("_headers", "body_deadlines", "receive", "request_id", "scope")

    def __init__(self, scope: Scope, receive: Receive, body_deadlines: BodyDeadlines) -> None:
        self.scope = scope
        self.receive = receive
        self.body_deadlines = body_deadlines
        self.request_id = f"{_PROCESS_TAG}-{next(_counter)}"
        self._headers: dict[bytes, bytes] | None = None

    @property
    def method(self) -> str:
        return str(self.scope["method"])

    def header(self, name: bytes) -> str | None:
        """The value of header ``name`` (lowercase bytes), decoded as Latin-1.

        A repeated header yields its last value — but a request that repeats a
        header which decides something is refused (403 for ``Origin`` and
        ``Referer``, else 400) at its first lookup of any header.
        """
        if self._headers is None:
            # One C-level pass over the header list beats a Python scan per
            # lookup; only a request that repeats some header pays for a scan.
            raw = self.scope["headers"]
            headers = dict(raw)
            if len(headers) != len(raw):
                _refuse_repeats(raw)
            self._headers = headers
        value = self._headers.get(name)
        return None if value is None else value.decode("latin-1")

    def origin(self) -> Origin | None:
        """Where the request comes from: its ``Origin``, else its ``Referer``'s origin."""
        return request_origin(self.header(b"origin"), self.header(b"referer"))

    async def stream(self, limit: int) -> AsyncIterator[bytes]:
        """The body chunk by chunk, refusing with 413 as soon as it is known to exceed ``limit``.

        A declared ``Content-Length`` over the limit is refused before a single
        body byte is read; a chunked body is counted as it streams in. A body
        that stalls or drags on past ``body_deadlines`` is refused with 408.
        """
        declared = self.header(b"content-length")
        if declared is not None:
            if not (declared.isascii() and declared.isdigit()):
                raise HTTPError(400, "Invalid Content-Length header")
            if int(declared) > limit:
                raise too_large(limit)
        size = 0
        clock = self.body_deadlines.clock(self.receive)
        while True:
            try:
                message = await clock.receive()
            except BodyTimedOut:
                raise too_slow() from None
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


def decode_json(body: bytes) -> object:
    """A request body as JSON (a 400 if it isn't)."""
    try:
        return _decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError, UnicodeDecodeError):
        # RecursionError: absurdly deep nesting ([[[[...]]]]) is malformed for us;
        # UnicodeDecodeError: msgspec's error for bad UTF-8 inside a string.
        raise HTTPError(400, "Request body must be valid JSON") from None


def too_large(limit: int) -> HTTPError:
    # Closing the connection stops us from having to swallow the rest of the body.
    return HTTPError(
        413,
        f"Request body too large (max {limit:,} bytes)",
        headers=[(b"connection", b"close")],
    )


def too_slow() -> HTTPError:
    # The rest of the body may still come, slowly: close rather than wait for it.
    return HTTPError(
        408, "Request body took too long to arrive", headers=[(b"connection", b"close")]
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
