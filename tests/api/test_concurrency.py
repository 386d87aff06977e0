"""Hundreds of parallel submissions: each acknowledged one is stored exactly once."""

from __future__ import annotations

import asyncio
import json
import threading

from sqlalchemy import Engine, select

from sayso.settings import Settings
from sayso.store.clients import create_client, update_client
from sayso.store.schema import feedback
from tests.support.live_server import LiveServer
from tests.support.raw_http import RawResponse, post_many

SUBMISSIONS = 400


def body(client_id: str, i: int) -> bytes:
    return json.dumps(
        {"clientId": client_id, "rating": 1 + i % 4, "comment": f"submission {i}"}
    ).encode()


async def submit_all(urls: list[str], client_id: str) -> list[RawResponse]:
    """Even-numbered submissions go to the first node, odd ones to the second."""
    halves = await asyncio.gather(
        *(
            post_many(url + "/api/feedback", [body(client_id, i) for i in range(n, SUBMISSIONS, 2)])
            for n, url in enumerate(urls)
        )
    )
    return [halves[i % 2][i // 2] for i in range(SUBMISSIONS)]


def test_parallel_submissions_to_two_nodes_are_each_stored_exactly_once(
    settings: Settings, engine: Engine, server: LiveServer
) -> None:
    client_id = create_client(engine, "busy").id
    stop = threading.Event()

    def admin_traffic() -> None:
        # Meanwhile, someone uses the CLI against the same database.
        while not stop.wait(0.005):
            create_client(engine, "bystander")
            update_client(engine, client_id, name="busy")

    admin = threading.Thread(target=admin_traffic)
    with LiveServer(settings) as second_node:
        admin.start()
        try:
            responses = asyncio.run(submit_all([server.url, second_node.url], client_id))
        finally:
            stop.set()
            admin.join()

    assert [r.status for r in responses] == [200] * SUBMISSIONS
    acknowledged = [r.json()["feedbackId"] for r in responses]
    assert len(set(acknowledged)) == SUBMISSIONS
    with engine.connect() as conn:
        rows = conn.execute(
            select(feedback.c.id, feedback.c.comment).where(feedback.c.client_id == client_id)
        ).all()
    assert sorted(row.id for row in rows) == sorted(acknowledged)
    # And each row holds its own submission, not a neighbour's.
    comments = {row.id: row.comment for row in rows}
    assert [comments[fid] for fid in acknowledged] == [
        f"submission {i}" for i in range(SUBMISSIONS)
    ]
