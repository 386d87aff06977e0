"""A minimal HTTP/1.1 client over asyncio streams, for load-style tests.

httpx costs a few milliseconds of CPU per request on these machines, which
would make a test of hundreds of parallel submissions measure the client, not
the server. This speaks just enough HTTP/1.1 (keep-alive, Content-Length
responses) to drive the server hard from a handful of connections.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


async def _read_response(reader: asyncio.StreamReader) -> RawResponse:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return RawResponse(status, headers, body)


async def post_many(
    url: str, bodies: list[bytes], connections: int = 32, headers: dict[str, str] | None = None
) -> list[RawResponse]:
    """POST every body to ``url`` over ``connections`` keep-alive connections."""
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    parts = urlsplit(url)
    results: list[RawResponse | None] = [None] * len(bodies)
    next_index = iter(range(len(bodies)))

    async def worker() -> None:
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            for i in next_index:
                body = bodies[i]
                head = (
                    f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                    f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
                )
                writer.write(head.encode() + body)
                results[i] = await _read_response(reader)
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return [r for r in results if r is not None]
