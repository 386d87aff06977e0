"""Reading stored feedback back out (the write happens in ``ingest.feedback`` via the writer)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import Engine, RowMapping, select

from sayso.store.database import as_utc
from sayso.store.schema import feedback


def iter_feedback(
    engine: Engine,
    *,
    client_id: str | None = None,
    since: datetime | None = None,
    batch_size: int = 500,
) -> Iterator[RowMapping]:
    """Every matching row, oldest first, streamed in batches (exports can be large)."""
    query = select(feedback).order_by(feedback.c.created_at, feedback.c.id)
    if client_id is not None:
        query = query.where(feedback.c.client_id == client_id)
    if since is not None:
        # SQLite keeps UTC wall-clock text and drops a bound value's offset without
        # converting it, so the bound must be in UTC too (naive means UTC).
        query = query.where(feedback.c.created_at >= as_utc(since))
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=batch_size).execute(query)
        yield from result.mappings()


def find_by_idempotency_key(engine: Engine, client_id: str, key: str) -> str | None:
    """The id of the feedback this client already stored under ``key``, if any."""
    query = select(feedback.c.id).where(
        feedback.c.client_id == client_id, feedback.c.idempotency_key == key
    )
    with engine.connect() as conn:
        return conn.execute(query).scalar_one_or_none()
