"""The ASGI application: a dispatcher in front of the public API and the dashboard.

``/api/*``, ``/healthz``, ``/openapi.json`` and the widget's files go straight
to the lean ingest app (no framework on the hot path); every other path, and the lifespan, goes
to the Litestar dashboard. ``Runtime`` holds what a process shares: settings,
the database engine, the group-commit writer, the blob store, the client cache
and the periodic clean-up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from sayso import cleanup
from sayso.accounts.hashing import HashPool
from sayso.dashboard.app import create_dashboard
from sayso.dashboard.body_limit import BodyLimit
from sayso.ingest.client_lookup import ClientLookup
from sayso.ingest.http import BodyDeadlines, Receive, Scope, Send
from sayso.ingest.offload import Offload
from sayso.ingest.pixel_budgets import MEGAPIXEL, ClientPixelRate, PixelsInFlight
from sayso.ingest.router import IngestApp
from sayso.settings import Settings
from sayso.store.blobs import open_blob_store
from sayso.store.database import create_db_engine
from sayso.store.schema import (
    feedback,
    feedback_screenshots,
    replay_chunks,
    replay_sessions,
    screenshots,
)
from sayso.store.writer import PreparedInsert, Writer

log = logging.getLogger(__name__)

# How often each node closes replay sessions idle past SAYSO_REPLAY_IDLE_MINUTES.
IDLE_CHECK_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Statements:
    """The inserts the public API performs, prepared once per process."""

    feedback: PreparedInsert
    screenshot: PreparedInsert
    feedback_screenshot: PreparedInsert
    replay_session: PreparedInsert
    replay_chunk: PreparedInsert


class Runtime:
    """Per-process state, started and stopped with the server's lifespan."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = create_db_engine(settings)
        self.writer = Writer(self.engine)
        self.statements = Statements(
            feedback=self.writer.prepare(feedback),
            screenshot=self.writer.prepare(screenshots),
            feedback_screenshot=self.writer.prepare(feedback_screenshots),
            replay_session=self.writer.prepare(replay_sessions),
            replay_chunk=self.writer.prepare(replay_chunks),
        )
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


class SaysoApp:
    def __init__(self, settings: Settings) -> None:
        self.runtime = Runtime(settings)
        self.ingest = IngestApp(self.runtime)
        # Dashboard bodies are forms: capped and on a deadline before Litestar
        # sees them (the public API applies its own limits per route).
        self.dashboard = BodyLimit(
            create_dashboard(self.runtime),  # type: ignore[arg-type]
            BodyDeadlines(settings.body_idle_seconds, settings.body_timeout_seconds),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if path.startswith(("/api/", "/widget")) or path in ("/healthz", "/openapi.json"):
                await self.ingest(scope, receive, send)
                return
        await self.dashboard(scope, receive, send)


def create_app(settings: Settings | None = None) -> SaysoApp:
    """The app for ``settings`` (default: from the environment). Uvicorn's factory."""
    return SaysoApp(settings or Settings.from_env())
