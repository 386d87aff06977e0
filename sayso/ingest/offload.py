"""The public API's own worker threads for blocking work (database reads, blobs, images).

``asyncio.to_thread`` shares the loop's default pool with everything else in
the process: dashboard pages, exports, clean-up. A slow page or a burst of
them could then hold every thread while a visitor's submission waits. The
public API runs its blocking calls here instead, so the dashboard can't take
its threads (password hashing has a pool of its own, ``accounts.hashing``).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

THREAD_NAME = "sayso-ingest"


class Offload:
    """``await offload(fn, *args)``: ``fn(*args)`` on one of the public API's threads."""

    def __init__(self, threads: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=THREAD_NAME)

    async def __call__(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, functools.partial(fn, *args, **kwargs))

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
