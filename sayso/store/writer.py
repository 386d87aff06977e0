"""The write path of the request hot loop: one writer thread with group commit.

Every acknowledged submission must be durable (SQLite ``synchronous=FULL``, an
fsync per commit), yet committing once per request caps SQLite at roughly the
disk's fsync rate, and doing it on the event loop stalls every other request.
So requests hand their row to this writer and await a future; a single thread
takes *everything* queued so far, inserts it in one transaction, commits once
and then settles all the futures. Batches size themselves: while one commit is
being fsynced the next batch piles up, so there is no timer to tune and an idle
server commits a lone row immediately. A response is sent only after its own
row is committed.

If a batch fails on a constraint, its rows are retried one by one so a single
bad row can't take its neighbours down with it.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Engine, Table
from sqlalchemy.exc import IntegrityError

log = logging.getLogger(__name__)

# Beyond this many rows waiting for the disk, new writes are refused (503) rather
# than queued without bound: memory stays flat and clients retry later.
MAX_PENDING = 20_000
MAX_BATCH = 2_000

Row = Mapping[str, Any]
_Item = tuple[Table, Row, "asyncio.Future[None]"]
_STOP = object()


class WriterOverloaded(Exception):
    """Too many rows are already waiting to be committed."""


class WriterStopped(Exception):
    """The writer has been shut down and accepts no more rows."""


class Writer:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._pending = 0  # only touched on the event loop thread
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.batches = 0  # counters, for tests and the benchmark
        self.rows = 0

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="sayso-writer", daemon=True)
        self._thread.start()

    async def insert(self, table: Table, row: Row) -> None:
        """Insert ``row`` into ``table``; returns once it is committed."""
        if self._loop is None or self._thread is None:
            raise WriterStopped
        if self._pending >= MAX_PENDING:
            raise WriterOverloaded
        future: asyncio.Future[None] = self._loop.create_future()
        self._pending += 1
        try:
            self._queue.put((table, row, future))
            await future
        finally:
            self._pending -= 1

    async def stop(self) -> None:
        """Commit what is queued, then stop the thread."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._queue.put(_STOP)
        await asyncio.to_thread(thread.join)

    # --- the writer thread ---------------------------------------------------

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                break
            batch: list[_Item] = [first]  # type: ignore[list-item]
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                batch.append(item)  # type: ignore[arg-type]
            errors = self._commit(batch)
            assert self._loop is not None
            self._loop.call_soon_threadsafe(_settle, batch, errors)

    def _commit(self, batch: list[_Item]) -> list[BaseException | None]:
        by_table: dict[Table, list[Row]] = defaultdict(list)
        for table, row, _ in batch:
            by_table[table].append(row)
        try:
            with self._engine.begin() as conn:
                for table, rows in by_table.items():
                    conn.execute(table.insert(), rows)
        except IntegrityError as exc:
            if len(batch) == 1:
                return [exc]
            return [self._commit_one(table, row) for table, row, _ in batch]
        except Exception as exc:
            log.exception("batch of %d rows failed to commit", len(batch))
            return [exc] * len(batch)
        self.batches += 1
        self.rows += len(batch)
        return [None] * len(batch)

    def _commit_one(self, table: Table, row: Row) -> BaseException | None:
        try:
            with self._engine.begin() as conn:
                conn.execute(table.insert(), [row])
        except Exception as exc:
            return exc
        self.batches += 1
        self.rows += 1
        return None


def _settle(batch: list[_Item], errors: list[BaseException | None]) -> None:
    for (_, _, future), error in zip(batch, errors, strict=True):
        if future.done():  # the request was cancelled (client went away)
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
