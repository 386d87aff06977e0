"""Password hashing off the event loop, in a thread pool of its own, with a bounded line.

argon2 is slow and memory-hungry on purpose. Run in asyncio's default thread
pool, a burst of sign-ins filled the threads that database reads, blob reads
and image decodes also wait for, and the public API slowed to seconds. Here
hashes run on ``THREADS`` dedicated threads named ``sayso-hash_<n>`` (one: a
hash uses one core, ``p=1``, so a flood costs a process at most one core);
at most ``WAITING_LINE`` more sign-ins wait their turn on the event loop
(where a client that gives up leaves the line without being hashed). A
sign-in that finds the line full gets ``Busy`` at once, without hashing, and
the dashboard answers 503 with ``Retry-After``. With ~40 ms a hash, the last
in line waits well under a second.

The pool belongs to the ``Runtime`` (``sayso/runtime.py``), which shuts it down.
The CLI hashes in its own thread; it serves no one else.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

THREADS = 1
WAITING_LINE = 16
THREAD_NAME_PREFIX = "sayso-hash"
# Seconds a refused sign-in is told to wait before trying again.
RETRY_AFTER_SECONDS = 2

T = TypeVar("T")


class Busy(Exception):
    """Too many sign-ins are already waiting to be hashed; nothing was hashed."""

    def __init__(self) -> None:
        super().__init__("Too many sign-ins at once. Please try again in a moment.")


class HashPool:
    """Runs password hashing on its own threads; refuses work beyond a bounded line."""

    def __init__(self, threads: int = THREADS, waiting_line: int = WAITING_LINE) -> None:
        self.executor = ThreadPoolExecutor(
            max_workers=threads, thread_name_prefix=THREAD_NAME_PREFIX
        )
        # The executor's own queue is unbounded, so work is handed over only
        # when a thread is free; the line itself waits here, on the loop.
        self._slots = asyncio.Semaphore(threads)
        self._capacity = threads + waiting_line
        self._admitted = 0

    async def run(self, function: Callable[..., T], *args: object) -> T:
        """``function(*args)`` on a hashing thread; raises ``Busy`` if the line is full."""
        if self._admitted >= self._capacity:
            raise Busy
        # Only the event loop's thread touches the count: no lock needed.
        self._admitted += 1
        try:
            async with self._slots:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self.executor, function, *args)
        finally:
            self._admitted -= 1

    def shutdown(self) -> None:
        """Wait for the hash in progress, if any; nothing else is queued."""
        self.executor.shutdown(wait=True, cancel_futures=True)
