"""The overview's daily rollups stay in step with ``feedback`` by themselves.

Rows arrive through the public API (so the writer's raw inserts and PostgreSQL's
``COPY`` fire the triggers) and leave by project deletion and single deletes.
Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import httpx
from sqlalchemy import Engine, delete, func, select

from sayso.store.clients import delete_client
from sayso.store.schema import feedback, feedback_daily, feedback_pages_daily, feedback_people
from tests.support.live_server import LiveServer


def _post(api: httpx.Client, client_id: str, **fields: object) -> str:
    response = api.post("/api/feedback", json={"clientId": client_id, **fields})
    assert response.status_code == 200, response.text
    return str(response.json()["feedbackId"])


def _daily(engine: Engine, client_id: str) -> dict[tuple[str, int], int]:
    query = select(feedback_daily.c.environment, feedback_daily.c.rating, feedback_daily.c.count)
    with engine.connect() as conn:
        rows = conn.execute(query.where(feedback_daily.c.client_id == client_id)).all()
    return {(env, rating): count for env, rating, count in rows if count}


def _pages(engine: Engine, client_id: str) -> dict[str, tuple[int, int, int]]:
    t = feedback_pages_daily.c
    query = select(t.page, t.count, t.rating_sum, t.rated_count).where(t.client_id == client_id)
    with engine.connect() as conn:
        return {page: (n, s, r) for page, n, s, r in conn.execute(query).all() if n}


def test_each_submission_is_counted_by_environment_rating_and_page_without_its_query(
    api: httpx.Client, engine: Engine, client_id: str
) -> None:
    _post(api, client_id, rating=4, pageUrl="https://app.example/a?x=1#top")
    _post(api, client_id, rating=2, pageUrl="https://app.example/a#b?c")
    _post(api, client_id, comment="no rating", pageUrl="https://app.example/b")
    _post(api, client_id, rating=1, environment="staging")

    assert _daily(engine, client_id) == {("", 4): 1, ("", 2): 1, ("", 0): 1, ("staging", 1): 1}
    assert _pages(engine, client_id) == {
        "https://app.example/a": (2, 6, 2),
        "https://app.example/b": (1, 0, 0),
        "": (1, 1, 1),
    }


def test_deleting_feedback_takes_it_out_of_the_rollups(
    api: httpx.Client, engine: Engine, client_id: str
) -> None:
    first = _post(api, client_id, rating=3, pageUrl="https://app.example/p")
    _post(api, client_id, rating=3, pageUrl="https://app.example/p")
    with engine.begin() as conn:
        conn.execute(delete(feedback).where(feedback.c.id == first))

    assert _daily(engine, client_id) == {("", 3): 1}
    assert _pages(engine, client_id) == {"https://app.example/p": (1, 3, 1)}


def test_deleting_a_project_leaves_no_rollup_rows(
    api: httpx.Client, server: LiveServer, engine: Engine, client_id: str
) -> None:
    _post(api, client_id, rating=3, userEmail="a@x.io", pageUrl="https://app.example/p")
    tables = (feedback_daily, feedback_pages_daily, feedback_people)

    def left() -> list[int]:
        with engine.connect() as conn:
            return [
                conn.execute(
                    select(func.count()).select_from(t).where(t.c.client_id == client_id)
                ).scalar_one()
                for t in tables
            ]

    assert left() == [1, 1, 1]
    delete_client(engine, server.app.runtime.blobs, client_id)
    assert left() == [0, 0, 0]
