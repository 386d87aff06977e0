"""The ASGI application: a dispatcher in front of the public API and the dashboard.

``/api/*``, ``/healthz`` and ``/openapi.json`` go straight to the lean ingest
app (no framework on the hot path); every other path, and the lifespan, goes
to the Litestar dashboard. ``Runtime`` holds what a process shares: settings,
the database engine, the group-commit writer and the client cache.
"""

from __future__ import annotations

from sayso.dashboard.app import create_dashboard
from sayso.ingest.client_lookup import ClientLookup
from sayso.ingest.http import Receive, Scope, Send
from sayso.ingest.router import IngestApp
from sayso.settings import Settings
from sayso.store.database import create_db_engine
from sayso.store.schema import feedback
from sayso.store.writer import Writer


class Runtime:
    """Per-process state, started and stopped with the server's lifespan."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = create_db_engine(settings)
        self.writer = Writer(self.engine)
        self.feedback_insert = self.writer.prepare(feedback)
        self.clients = ClientLookup(self.engine, settings.client_cache_seconds)

    async def start(self) -> None:
        self.writer.start()

    async def stop(self) -> None:
        await self.writer.stop()
        self.engine.dispose()


class SaysoApp:
    def __init__(self, settings: Settings) -> None:
        self.runtime = Runtime(settings)
        self.ingest = IngestApp(self.runtime)
        self.dashboard = create_dashboard(self.runtime)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if path.startswith("/api/") or path in ("/healthz", "/openapi.json"):
                await self.ingest(scope, receive, send)
                return
        await self.dashboard(scope, receive, send)  # type: ignore[arg-type]


def create_app(settings: Settings | None = None) -> SaysoApp:
    """The app for ``settings`` (default: from the environment). Uvicorn's factory."""
    return SaysoApp(settings or Settings.from_env())
