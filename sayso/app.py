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
from datetime import timedelta

from sayso.accounts.hashing import HashPool
from sayso.accounts.rate_limit import delete_finished_windows
from sayso.dashboard.app import create_dashboard
from sayso.dashboard.body_limit import BodyLimit
from sayso.ingest.client_lookup import ClientLookup
from sayso.ingest.http import BodyDeadlines, Receive, Scope, Send
from sayso.ingest.pixel_budgets import MEGAPIXEL, ClientPixelRate, PixelsInFlight
from sayso.ingest.router import IngestApp
from sayso.settings import Settings
from sayso.store import audit
from sayso.store.blobs import open_blob_store
from sayso.store.database import create_db_engine
from sayso.store.orphans import delete_orphans
from sayso.store.replays import close_idle_sessions, delete_expired_sessions
from sayso.store.schema import (
    feedback,
    feedback_screenshots,
    replay_chunks,
    replay_sessions,
    screenshots,
)
from sayso.store.screenshots import delete_unattached
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
        self.clients = ClientLookup(self.engine, settings.client_cache_seconds)
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
        self.engine.dispose()

    async def _close_idle_replays_periodically(self) -> None:
        # Apart from the hourly clean-up so a session closes within a minute of
        # its idle timeout, not up to an hour after it. One indexed UPDATE of
        # the open sessions; every node may run it, it is idempotent.
        interval = min(IDLE_CHECK_SECONDS, self.settings.cleanup_interval_seconds)
        idle = timedelta(minutes=self.settings.replay_idle_minutes)
        while True:
            await asyncio.sleep(interval)
            try:
                closed = await asyncio.to_thread(close_idle_sessions, self.engine, idle)
                if closed:
                    log.info("closed %d idle session replays", closed)
            except Exception:
                log.exception("closing idle replays failed; will retry")

    async def _clean_up_periodically(self) -> None:
        # Every node runs this; the deletes are idempotent, so they can overlap.
        while True:
            await asyncio.sleep(self.settings.cleanup_interval_seconds)
            try:
                deleted = await asyncio.to_thread(delete_unattached, self.engine, self.blobs)
                if deleted:
                    log.info("clean-up: deleted %d unattached screenshots", deleted)
            except Exception:
                log.exception("clean-up failed; will retry")
            try:
                await asyncio.to_thread(self.clean_up_replays)
            except Exception:
                log.exception("replay clean-up failed; will retry")
            try:
                orphans = await asyncio.to_thread(delete_orphans, self.engine, self.blobs)
                if orphans:
                    log.info("clean-up: deleted %d blobs no row points at", orphans)
            except Exception:
                log.exception("orphaned blob clean-up failed; will retry")
            try:
                await asyncio.to_thread(self.clean_up_accounts)
            except Exception:
                log.exception("audit and sign-in limit clean-up failed; will retry")

    def clean_up_accounts(self) -> None:
        """Delete audit entries past SAYSO_AUDIT_RETENTION_DAYS and finished sign-in limits."""
        deleted = audit.apply_retention(self.engine, self.settings.audit_retention_days)
        if deleted:
            log.info("clean-up: deleted %d audit entries past their retention", deleted)
        delete_finished_windows(self.engine)

    def clean_up_replays(self) -> None:
        """Delete sessions past their client's retention, with their blobs."""
        deleted = delete_expired_sessions(self.engine, self.blobs)
        if deleted:
            log.info("clean-up: deleted %d expired session replays", deleted)


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
