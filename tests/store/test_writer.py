"""The group-commit writer, against real SQLite and PostgreSQL databases."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.exc import IntegrityError

from sayso.store import writer as writer_module
from sayso.store.clients import create_client
from sayso.store.database import as_utc
from sayso.store.ids import new_sortable_id
from sayso.store.schema import feedback
from sayso.store.writer import Writer, WriterOverloaded, WriterStopped


def a_row(client_id: str, **values: Any) -> dict[str, Any]:
    return {
        "id": new_sortable_id(),
        "client_id": client_id,
        "created_at": datetime.now(UTC),
        "rating": 3,
    } | values


def read(engine: Engine, feedback_id: str) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(select(feedback).where(feedback.c.id == feedback_id)).mappings().first()
    return dict(row) if row else None


async def started(engine: Engine) -> Writer:
    writer = Writer(engine)
    writer.start()
    return writer


def test_a_row_is_committed_and_visible_elsewhere_once_insert_returns(
    engine: Engine, client_id: str
) -> None:
    row = a_row(client_id)

    async def scenario() -> None:
        writer = await started(engine)
        await writer.insert(feedback, row)
        # A different connection (the engine's pool, not the writer's) sees it now.
        assert read(engine, row["id"]) is not None
        await writer.stop()

    asyncio.run(scenario())


def test_insert_returns_only_after_its_commit_not_before(engine: Engine, client_id: str) -> None:
    """The ordering itself: while another transaction blocks the commit, nothing is answered."""
    row = a_row(client_id)

    async def scenario() -> None:
        writer = await started(engine)
        insert = feedback
        with engine.connect() as blocker:
            # Hold a lock that makes the writer's insert (and so its commit) wait.
            if engine.dialect.name == "sqlite":
                blocker.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                blocker.exec_driver_sql("LOCK TABLE feedback IN SHARE MODE")
            pending = asyncio.ensure_future(writer.insert(insert, row))
            await asyncio.sleep(0.5)
            assert not pending.done(), "acknowledged while its commit was still blocked"
            assert read(engine, row["id"]) is None
            blocker.rollback()
        await asyncio.wait_for(pending, 30)
        assert read(engine, row["id"]) is not None
        await writer.stop()

    asyncio.run(scenario())


def test_rows_of_one_event_loop_pass_share_one_commit(engine: Engine, client_id: str) -> None:
    rows = [a_row(client_id) for _ in range(200)]

    async def scenario() -> int:
        writer = await started(engine)
        insert = feedback
        await asyncio.gather(*(writer.insert(insert, row) for row in rows))
        await writer.stop()
        return writer.batches

    assert asyncio.run(scenario()) == 1
    assert all(read(engine, row["id"]) for row in rows)


def test_one_bad_row_fails_alone_and_its_batch_neighbours_are_stored(
    engine: Engine, client_id: str
) -> None:
    good = [a_row(client_id) for _ in range(20)]
    bad = a_row("client_that_does_not_exist")  # violates the foreign key

    async def scenario() -> list[BaseException | None]:
        writer = await started(engine)
        insert = feedback
        results = await asyncio.gather(
            *(writer.insert(insert, row) for row in [*good[:10], bad, *good[10:]]),
            return_exceptions=True,
        )
        await writer.stop()
        return results  # type: ignore[return-value]

    results = asyncio.run(scenario())
    assert isinstance(results[10], Exception)
    assert all(r is None for i, r in enumerate(results) if i != 10)
    assert all(read(engine, row["id"]) for row in good)
    assert read(engine, bad["id"]) is None


def test_stop_commits_what_is_already_queued_then_refuses_more(
    engine: Engine, client_id: str
) -> None:
    rows = [a_row(client_id) for _ in range(5)]

    async def scenario() -> None:
        writer = await started(engine)
        insert = feedback
        tasks = [asyncio.ensure_future(writer.insert(insert, row)) for row in rows]
        await asyncio.sleep(0)  # the inserts are queued, not yet committed
        await writer.stop()
        await asyncio.gather(*tasks)
        with pytest.raises(WriterStopped):
            await writer.insert(insert, a_row(client_id))

    asyncio.run(scenario())
    assert all(read(engine, row["id"]) for row in rows)


def test_too_many_waiting_rows_are_refused_not_queued(
    engine: Engine, client_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer_module, "MAX_PENDING", 3)

    async def scenario() -> list[BaseException | None]:
        writer = await started(engine)
        insert = feedback
        results = await asyncio.gather(
            *(writer.insert(insert, a_row(client_id)) for _ in range(6)), return_exceptions=True
        )
        await writer.stop()
        return results  # type: ignore[return-value]

    results = asyncio.run(scenario())
    assert results[:3] == [None, None, None]
    assert all(isinstance(r, WriterOverloaded) for r in results[3:])


def test_prepared_inserts_round_trip_every_column_through_sqlalchemy(engine: Engine) -> None:
    client_id = create_client(engine, "round trip").id
    created = datetime(2026, 11, 27, 20, 1, 2, 345678, tzinfo=UTC)
    row = a_row(
        client_id,
        created_at=created,
        rating=4,
        comment="Ünïcödé ✓ \"quotes\" and 'apostrophes'\nnew line",
        user_email="jamie@example.com",
        page_url="https://yourapp.com/a?b=c#d",
        page_title="Title",
        referrer="https://yourapp.com/",
        environment="staging",
        screenshots=[
            {
                "fileName": "c/x.png",
                "url": "https://s/x.png",
                "fileSize": 10,
                "mimeType": "image/png",
            }
        ],
        metadata={"nested": {"list": [1, 2.5, True, None, "x"]}, "big": 2**60, "emoji": "🎉"},
        session_replay_id="replay-1",
        replay_offset_ms=2**40,
        origin="https://yourapp.com",
        user_agent="UA",
        idempotency_key="key-1",
    )

    async def scenario() -> None:
        writer = await started(engine)
        await writer.insert(feedback, row)
        await writer.stop()

    asyncio.run(scenario())
    back = read(engine, row["id"])
    assert back is not None
    assert as_utc(back.pop("created_at")) == created
    # status is the database's default, never written by ingest.
    assert back.pop("status") == "new"
    assert back == {k: v for k, v in row.items() if k != "created_at"}


def test_absent_json_fields_are_sql_null_not_json_null(engine: Engine, client_id: str) -> None:
    row = a_row(client_id, metadata=None, screenshots=None)

    async def scenario() -> None:
        writer = await started(engine)
        await writer.insert(feedback, row)
        await writer.stop()

    asyncio.run(scenario())
    with engine.connect() as conn:
        query = select(feedback.c.id).where(
            feedback.c.id == row["id"], feedback.c.metadata.is_(None)
        )
        assert conn.execute(query).first() is not None


# --- functions run by the writer ------------------------------------------------


def rate(conn: Connection, feedback_id: str, rating: int) -> tuple[str, int]:
    """A small write function: which thread ran it, and how many rows it changed."""
    changed = conn.execute(
        update(feedback).where(feedback.c.id == feedback_id).values(rating=rating)
    ).rowcount
    return threading.current_thread().name, changed


def rate_then_fail(conn: Connection, feedback_id: str) -> None:
    rate(conn, feedback_id, 1)
    raise ValueError("changed my mind")


def test_a_function_runs_on_the_writer_thread_and_its_result_comes_back_committed(
    engine: Engine, client_id: str
) -> None:
    row = a_row(client_id, rating=2)

    async def scenario() -> tuple[str, int]:
        writer = await started(engine)
        await writer.insert(feedback, row)
        result = await writer.run(rate, row["id"], rating=5)
        # Committed before the await returned: the engine's pool sees it.
        back = read(engine, row["id"])
        assert back is not None
        assert back["rating"] == 5
        await writer.stop()
        return result

    assert asyncio.run(scenario()) == ("sayso-writer", 1)
    assert threading.current_thread().name != "sayso-writer"


def test_a_function_returns_only_after_its_commit_not_before(
    engine: Engine, client_id: str
) -> None:
    row = a_row(client_id, rating=2)

    async def scenario() -> None:
        writer = await started(engine)
        await writer.insert(feedback, row)
        with engine.connect() as blocker:
            if engine.dialect.name == "sqlite":
                blocker.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                blocker.exec_driver_sql("LOCK TABLE feedback IN SHARE MODE")
            pending = asyncio.ensure_future(writer.run(rate, row["id"], 5))
            await asyncio.sleep(0.5)
            assert not pending.done(), "answered while its commit was still blocked"
            blocker.rollback()
        assert await asyncio.wait_for(pending, 30) == ("sayso-writer", 1)
        back = read(engine, row["id"])
        assert back is not None
        assert back["rating"] == 5
        await writer.stop()

    asyncio.run(scenario())


def test_a_functions_error_comes_back_to_it_alone_and_the_writer_carries_on(
    engine: Engine, client_id: str
) -> None:
    """In one batch with inserts and another function: the failing function's
    writes are rolled back, everything else is committed, and later work runs."""
    rated, doomed = a_row(client_id, rating=2), a_row(client_id, rating=2)
    neighbours = [a_row(client_id) for _ in range(5)]

    def insert_for_unknown_client(conn: Connection) -> None:
        conn.execute(feedback.insert().values(a_row("client_that_does_not_exist")))

    async def scenario() -> list[Any]:
        writer = await started(engine)
        await writer.insert_unit([(feedback, rated), (feedback, doomed)])
        results = await asyncio.gather(
            *(writer.insert(feedback, row) for row in neighbours[:2]),
            writer.run(rate_then_fail, doomed["id"]),
            writer.run(rate, rated["id"], 4),
            writer.run(insert_for_unknown_client),
            *(writer.insert(feedback, row) for row in neighbours[2:]),
            return_exceptions=True,
        )
        # The writer still works afterwards.
        results.append(await writer.run(rate, doomed["id"], 3))
        await writer.stop()
        return results

    results = asyncio.run(scenario())
    assert isinstance(results[2], ValueError)
    assert results[3] == ("sayso-writer", 1)
    # A constraint comes back as SQLAlchemy's error, as from engine.begin().
    assert isinstance(results[4], IntegrityError)
    assert [results[i] for i in (0, 1, 5, 6, 7)] == [None] * 5
    assert results[8] == ("sayso-writer", 1)
    assert all(read(engine, row["id"]) for row in neighbours)
    assert (read(engine, rated["id"]) or {})["rating"] == 4
    assert (read(engine, doomed["id"]) or {})["rating"] == 3


def test_functions_share_a_commit_with_the_rows_queued_beside_them(
    engine: Engine, client_id: str
) -> None:
    target = a_row(client_id, rating=2)
    rows = [a_row(client_id) for _ in range(20)]

    async def scenario() -> int:
        writer = await started(engine)
        await writer.insert(feedback, target)
        before = writer.batches
        await asyncio.gather(
            *(writer.insert(feedback, row) for row in rows),
            *(writer.run(rate, target["id"], rating) for rating in (3, 4, 5)),
        )
        await writer.stop()
        return writer.batches - before

    assert asyncio.run(scenario()) == 1
    assert all(read(engine, row["id"]) for row in rows)
    # Functions run after the rows, in the order they were handed over.
    assert (read(engine, target["id"]) or {})["rating"] == 5


def test_functions_are_refused_like_rows_when_overloaded_or_stopped(
    engine: Engine, client_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(writer_module, "MAX_PENDING", 2)
    row = a_row(client_id)

    async def scenario() -> list[Any]:
        writer = await started(engine)
        await writer.insert(feedback, row)
        results = await asyncio.gather(
            *(writer.run(rate, row["id"], 4) for _ in range(4)), return_exceptions=True
        )
        await writer.stop()
        with pytest.raises(WriterStopped):
            await writer.run(rate, row["id"], 5)
        return results

    results = asyncio.run(scenario())
    assert results[:2] == [("sayso-writer", 1)] * 2
    assert all(isinstance(r, WriterOverloaded) for r in results[2:])
    assert (read(engine, row["id"]) or {})["rating"] == 4
