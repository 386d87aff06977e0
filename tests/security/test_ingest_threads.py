"""The public API keeps answering while everything else holds the default thread pool.

The probe found sign-ins starving the API through the shared default pool
(finding 2). Hashing has its own pool now (test_sign_in.py); here the rest of
the process — dashboard pages, exports, clean-up, all on ``asyncio.to_thread``
— is stood in for by blocking every thread of the server loop's default
executor, and a visitor's requests that need blocking work (a client read
from the database, a screenshot upload, a screenshot read) must still be
answered. Both databases.
"""

from __future__ import annotations

import asyncio
import threading

import httpx

from sayso.store.clients import create_client
from tests.support.images import png_bytes
from tests.support.live_server import LiveServer


async def hold_default_pool(release: threading.Event, held: threading.Semaphore) -> None:
    loop = asyncio.get_running_loop()

    def block() -> None:
        held.release()
        release.wait(60)

    # Far more jobs than the default pool has threads: every thread is taken.
    await asyncio.gather(*(loop.run_in_executor(None, block) for _ in range(64)))


def test_the_public_api_answers_while_the_default_pool_is_exhausted(server: LiveServer) -> None:
    client_id = create_client(server.app.runtime.engine, "threads").id  # not cached yet
    release, held = threading.Event(), threading.Semaphore(0)
    holding = server.run_on_loop(hold_default_pool(release, held))
    try:
        assert held.acquire(timeout=10)  # at least one default thread is blocked…
        with httpx.Client(base_url=server.url, timeout=10) as visitor:
            sent = visitor.post("/api/feedback", json={"clientId": client_id, "rating": 4})
            shot = visitor.post(
                "/api/screenshots",
                data={"clientId": client_id},
                files={"screenshot": ("s.png", png_bytes(), "image/png")},
            )
            assert shot.status_code == 200, shot.text
            read = visitor.get(f"/api/screenshots/{shot.json()['screenshot']['fileName']}")
        assert sent.status_code == 200, sent.text
        assert read.status_code == 200
        assert not holding.done()  # …and all of them still were
    finally:
        release.set()
        holding.result(timeout=30)
