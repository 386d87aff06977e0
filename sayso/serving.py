"""How uvicorn serves Sayso: one place that turns Settings into uvicorn's options.

``sayso serve`` and the tests' live server both use ``uvicorn_options``, so the
tests run against the limits production has. uvicorn bounds idle keep-alive
connections (``timeout_keep_alive``) and, with ``limit_concurrency``, answers
503 once too many connections are open; it has no deadline for a request's
headers. Its keep-alive timer runs only after a response and is cancelled by
the first byte of the next request, so a client that connects and then sends
its headers a byte at a time (or never) keeps the connection for good.
Nor does httptools cap the size of headers: uvicorn keeps whatever arrives
until they end. ``HttpProtocol`` adds both to uvicorn's httptools protocol.
A body has its own deadlines, where it is read (``ingest/http.py`` and
``dashboard/body_limit.py``).
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from sayso.settings import Settings

# Browsers send a few KB of headers (nginx's default buffers take 32 KB): more
# is refused with 431 rather than kept in memory.
MAX_HEADER_BYTES = 64 * 1024
_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\ncontent-length: 32\r\n"
    b"connection: close\r\n\r\nRequest header fields too large\n"
)


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, plus a deadline and a size cap for a request's headers.

    The deadline runs from the connection's start (or, on a kept-alive
    connection, from the first byte of the next request) until the headers are
    complete; then the connection is closed. Most requests arrive whole in one
    read, so a timer is armed only when a read ends with headers unfinished.
    The same deadline bounds the rest of a body the application answered
    without reading: uvicorn discards it as it arrives, and its first byte
    cancels the keep-alive timer, so a trickle would hold the connection for
    good. Headers still unfinished after ``MAX_HEADER_BYTES`` are answered 431.
    """

    def __init__(self, *args: Any, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self._headers_due: float | None = None  # when the current headers must be complete
        self._header_bytes = 0  # received since they began, while still unfinished
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._headers_due = self.loop.time() + self.header_timeout
        self._arm(self._headers_due)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._headers_due is None or self.transport.is_closing():
            return
        # Headers still unfinished: all of this read was (nearly always) headers.
        self._header_bytes += len(data)
        if self._header_bytes > MAX_HEADER_BYTES:
            self.transport.write(_TOO_LARGE)
            self.transport.close()
            return
        self._arm(self._headers_due)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._headers_due is None:
            self._headers_due = self.loop.time() + self.header_timeout

    def on_headers_complete(self) -> None:
        self._headers_due = None
        self._header_bytes = 0
        self._disarm()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        cycle = self.cycle
        if cycle.response_complete and cycle.more_body and not self.transport.is_closing():
            self._arm(self.loop.time() + self.header_timeout)

    def _arm(self, when: float) -> None:
        # A deadline already running stays: nothing the client sends extends it.
        if self._deadline is None:
            self._deadline = self.loop.call_at(when, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` or ``uvicorn.Config`` from ``settings``."""
    return {
        # A partial of a module-level class: picklable, so --workers can use it.
        "http": functools.partial(HttpProtocol, header_timeout=settings.header_timeout_seconds),
        # uvicorn refuses a request once open connections (its own included)
        # plus running requests reach the limit: +1 lets exactly
        # max_connections connections be served.
        "limit_concurrency": settings.max_connections + 1,
        "timeout_keep_alive": settings.keep_alive_seconds,
        "server_header": False,
        # The client address is worked out by the app (SAYSO_TRUSTED_PROXIES).
        "proxy_headers": False,
    }
