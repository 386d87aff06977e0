"""A real uvicorn server running Sayso in a background thread, on an ephemeral port."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import socket
import threading
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, TypeVar

import httpx
import uvicorn
from sqlalchemy import Engine

from sayso.app import SaysoApp, create_app
from sayso.serving import uvicorn_options
from sayso.settings import Settings
from sayso.store import migrate
from sayso.store.database import create_db_engine

T = TypeVar("T")


class LiveServer:
    def __init__(self, settings: Settings) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        # URLs the server hands out (screenshots) must point back at it.
        self.settings = dataclasses.replace(settings, public_url=self.url)
        self.app: SaysoApp = create_app(self.settings)
        # The same protocol, timeouts and limits as `sayso serve`.
        config = uvicorn.Config(
            self.app,
            loop="asyncio",
            lifespan="on",
            log_level="warning",
            access_log=False,
            **uvicorn_options(self.settings),
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        # Tests may schedule work on the server's own loop (run_on_loop).
        self.loop = asyncio.get_running_loop()
        await self._server.serve(sockets=[self._socket])

    def run_on_loop(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run ``coroutine`` on the server's event loop; returns its future."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def __enter__(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)
        httpx.get(self.url + "/api/ping", timeout=10).raise_for_status()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self._socket.close()


@contextmanager
def migrated_server(settings: Settings) -> Iterator[tuple[LiveServer, Engine]]:
    """A live server on a freshly migrated database, and an engine to check that database."""
    engine = create_db_engine(settings)
    migrate.upgrade(engine)
    try:
        with LiveServer(settings) as server:
            yield server, engine
    finally:
        engine.dispose()
