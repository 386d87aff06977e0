"""The ASGI application: a dispatcher in front of the public API and the dashboard.

``/api/*``, ``/healthz``, ``/openapi.json`` and the widget's files go straight
to the lean ingest app (no framework on the hot path); every other path, and the lifespan, goes
to the Litestar dashboard. Both share one ``Runtime`` (``sayso.runtime``).
Nothing in ``sayso`` imports this module: it is the top, uvicorn's factory.
"""

from __future__ import annotations

from sayso.dashboard.app import create_dashboard
from sayso.dashboard.body_limit import BodyLimit
from sayso.ingest.http import BodyDeadlines, Receive, Scope, Send
from sayso.ingest.router import IngestApp
from sayso.runtime import Runtime
from sayso.settings import Settings


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
