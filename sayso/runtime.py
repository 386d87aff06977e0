"""What a process shares, started and stopped with the server's lifespan:
settings, the database engine, the group-commit writer, the blob store, the
client cache, the thread pools and the periodic clean-up.

The public API and the dashboard each receive the ``Runtime``; ``sayso.app``
creates it and only dispatches requests, so nothing here imports either side.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sayso import cleanup
from sayso.accounts.hashing import HashPool
from sayso.ingest.client_lookup import ClientLookup
from sayso.ingest.offload import Offload
from sayso.ingest.pixel_budgets import MEGAPIXEL, ClientPixelRate, PixelsInFlight
from sayso.settings import Settings
from sayso.store.blobs import open_blob_store
from sayso.store.database import create_db_engine
from sayso.store.writer import Writer

log = logging.getLogger(__name__)

# How often each node closes replay sessions idle past SAYSO_REPLAY_IDLE_MINUTES.
IDLE_CHECK_SECONDS = 60.0


class Runtime:
    """Per-process state, started and stopped with the server's lifespan."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = create_db_engine(settings)
        self.writer = Writer(self.engine)
        self.blobs = open_blob_store(settings)
        # The public API's blocking calls get threads the dashboard can't take:
        # enough for every pooled database connection, plus blob and image work.
        self.offload = Offload(threads=2 * settings.db_pool_size + 2)
        self.clients = ClientLookup(self.engine, settings.client_cache_seconds, self.offload)
        # Screenshot decoding: pixels at once in this process, and per client per minute.
        self.image_pixels = PixelsInFlight(settings.screenshot_decode_megapixels * MEGAPIXEL)
        self.image_rate = ClientPixelRate(settings.screenshot_megapixels_per_minute * MEGAPIXEL)
        # Password hashing's own threads, so sign-ins can't fill the default pool.
        self.hashes = HashPool()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.writer.start()
        if self.settings.cleanup_interval_seconds > 0:
            self._tasks = [
                asyncio.create_task(self._clean_up_periodically()),
                asyncio.create_task(self._close_idle_replays_periodically()),
            ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.writer.stop()
        self.hashes.shutdown()
        self.offload.shutdown()
        self.engine.dispose()

    async def _close_idle_replays_periodically(self) -> None:
        # Apart from the hourly clean-up so a session closes within a minute of
        # its idle timeout, not up to an hour after it. One indexed UPDATE of
        # the open sessions; every node may run it, it is idempotent.
        interval = min(IDLE_CHECK_SECONDS, self.settings.cleanup_interval_seconds)
        while True:
            await asyncio.sleep(interval)
            await self.clean_up((cleanup.CLOSE_IDLE,))

    async def _clean_up_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.settings.cleanup_interval_seconds)
            await self.clean_up(cleanup.JOBS)

    async def clean_up(self, jobs: tuple[cleanup.Job, ...]) -> None:
        """Run clean-up ``jobs`` in a thread, logging what they did."""

        def report(message: str, count: int) -> None:
            if count:
                log.info("clean-up: %s", message)

        await asyncio.to_thread(cleanup.run, jobs, self.engine, self.blobs, self.settings, report)
