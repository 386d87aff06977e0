"""How many screenshot pixels a process decodes: at once, and per client over time.

Decoding costs memory and CPU in proportion to the pixels an image declares,
not to the bytes it was sent in, so both limits count pixels (read from the
header, before decoding):

- ``PixelsInFlight`` is a weighted semaphore: an image waits until its pixels
  fit in the process's budget (``SAYSO_SCREENSHOT_DECODE_MEGAPIXELS``), so a
  few huge images can't decode at once while small ones still flow past a big
  one that is waiting — though only a few times, so the big one never starves.
- ``ClientPixelRate`` gives each client a token bucket of pixels per minute
  (``SAYSO_SCREENSHOT_MEGAPIXELS_PER_MINUTE``); an upload over it is refused
  with the seconds until it would fit. Buckets are kept for a bounded number
  of clients, least recently used first out (a forgotten bucket is a full one).

Both are per process: with several workers or nodes, each has its own.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

MEGAPIXEL = 1_000_000
# How often smaller images may start ahead of one that is waiting for room;
# after that, everything queues behind it.
MAX_OVERTAKES = 8
MAX_CLIENTS = 10_000


@dataclass(eq=False, slots=True)
class _Waiter:
    pixels: int
    granted: asyncio.Future[None]
    overtaken: int = field(default=0)


class PixelsInFlight:
    """At most ``capacity`` pixels being decoded at once (an image bigger than
    that decodes alone)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.in_flight = 0
        self._waiting: deque[_Waiter] = deque()

    @asynccontextmanager
    async def hold(self, pixels: int) -> AsyncIterator[None]:
        """Wait until ``pixels`` fit, keep them for the block, then give them back."""
        weight = max(1, min(pixels, self.capacity))
        await self._acquire(weight)
        try:
            yield
        finally:
            self.in_flight -= weight
            self._grant()

    async def _acquire(self, weight: int) -> None:
        waiter = _Waiter(weight, asyncio.get_running_loop().create_future())
        self._waiting.append(waiter)
        self._grant()
        try:
            await waiter.granted
        except asyncio.CancelledError:
            if waiter.granted.done() and not waiter.granted.cancelled():
                self.in_flight -= weight  # granted just as it was cancelled
            else:
                self._waiting.remove(waiter)
            self._grant()
            raise

    def _grant(self) -> None:
        # In arrival order; one that doesn't fit lets later ones that do go
        # first, up to MAX_OVERTAKES times, then blocks everything behind it.
        passed: list[_Waiter] = []
        for waiter in list(self._waiting):
            if waiter.granted.cancelled():
                continue  # its own task removes it
            if self.in_flight + waiter.pixels <= self.capacity:
                self._waiting.remove(waiter)
                self.in_flight += waiter.pixels
                waiter.granted.set_result(None)
                for big in passed:
                    big.overtaken += 1
            else:
                passed.append(waiter)
                if waiter.overtaken >= MAX_OVERTAKES:
                    break


class TooManyPixels(Exception):
    """A client is over its pixel budget; ``retry_after`` is in whole seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


class ClientPixelRate:
    """``per_minute`` pixels per client, refilled continuously; 0 means no limit.

    An image bigger than the whole budget needs a full bucket.
    """

    def __init__(
        self,
        per_minute: int,
        *,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._capacity = float(per_minute)
        self._per_second = per_minute / 60
        self._max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, when

    def spend(self, client_id: str, pixels: int) -> None:
        """Take ``pixels`` from the client's bucket, or raise ``TooManyPixels`` (taking none)."""
        if self._capacity <= 0:
            return
        now = self._clock()
        cost = min(float(pixels), self._capacity)
        tokens, then = self._buckets.pop(client_id, (self._capacity, now))
        tokens = min(self._capacity, tokens + (now - then) * self._per_second)
        self._buckets[client_id] = (tokens - cost if tokens >= cost else tokens, now)
        if len(self._buckets) > self._max_clients:
            self._buckets.popitem(last=False)
        if tokens < cost:
            raise TooManyPixels(max(1, math.ceil((cost - tokens) / self._per_second)))
