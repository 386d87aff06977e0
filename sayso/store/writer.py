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

A request may hand over several rows as one unit (a feedback item and its
screenshot links): a unit is always committed whole or not at all. If a batch
fails on a constraint, its units are retried one by one so a single bad unit
can't take its neighbours down with it.

An outage (database down, disk full) fails the batches that meet it — their
requests answer 503, nothing is acknowledged — and the thread carries on: its
connection is dropped and the next batch reconnects. A connection that died
while idle is noticed on the batch's first statement, before anything could
commit, and that batch is run once more on a new connection.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import JSON, DateTime, Engine, Table
from sqlalchemy.engine import Dialect

from sayso.store.outages import describe, is_outage

log = logging.getLogger(__name__)

# Beyond this many rows waiting for the disk, new writes are refused (503) rather
# than queued without bound: memory stays flat and clients retry later.
MAX_PENDING = 20_000
MAX_BATCH = 2_000

Params = tuple[Any, ...]
# A unit: rows that must be committed together (a feedback item and its
# screenshot links), in parent-first order.
Unit = list[tuple["PreparedInsert", Params]]
_Item = tuple[Unit, "asyncio.Future[None]"]
_STOP = object()
_json = msgspec.json.Encoder()


class WriterOverloaded(Exception):
    """Too many rows are already waiting to be committed."""


class WriterStopped(Exception):
    """The writer has been shut down and accepts no more rows."""


def _json_text(value: Any) -> str | None:
    return None if value is None else _json.encode(value).decode()


def _sqlite_datetime(value: datetime | None) -> str | None:
    # The exact text SQLAlchemy's SQLite DateTime type writes (and parses back).
    return None if value is None else value.replace(tzinfo=None).isoformat(" ", "microseconds")


class PreparedInsert:
    """An INSERT into one table, compiled once for the engine's dialect.

    Rows are turned into positional tuples on the caller's thread (JSON encoded,
    timestamps formatted), so the writer thread runs almost nothing but the
    driver's C code — binding, stepping, committing — and leaves the GIL to the
    event loop. A test reads every column back through SQLAlchemy to prove the
    encodings match what its types expect.
    """

    def __init__(self, table: Table, dialect: Dialect) -> None:
        sqlite = dialect.name == "sqlite"
        quote = dialect.identifier_preparer.quote
        names, placeholders = [], []
        converters: list[tuple[str, Callable[[Any], Any] | None]] = []
        # Columns with a server default (triage status) are the database's to
        # fill: ingest never sets them.
        for column in [c for c in table.columns if c.server_default is None]:
            is_json = isinstance(column.type, JSON)
            names.append(quote(column.name))
            if sqlite:
                placeholders.append("?")
            else:
                placeholders.append("CAST(%s AS jsonb)" if is_json else "%s")
            if is_json:
                converters.append((column.name, _json_text))
            elif sqlite and isinstance(column.type, DateTime):
                converters.append((column.name, _sqlite_datetime))
            else:
                converters.append((column.name, None))
        self.table = table
        # Only our own schema's identifiers are interpolated, never input.
        self.sql = (
            f"INSERT INTO {quote(table.name)} ({', '.join(names)}) "  # noqa: S608
            f"VALUES ({', '.join(placeholders)})"
        )
        # On PostgreSQL a batch goes in through COPY: about half the cost of
        # executemany for a typical batch of 64 rows, for the writer and the
        # server alike.
        self.copy_sql = (
            None if sqlite else f"COPY {quote(table.name)} ({', '.join(names)}) FROM STDIN"
        )
        self._converters = converters

    def params(self, row: Mapping[str, Any]) -> Params:
        return tuple(
            [
                convert(row.get(name)) if convert else row.get(name)
                for name, convert in self._converters
            ]
        )


class Writer:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        # The driver's constraint-violation error, for callers to tell apart.
        self.integrity_error: type[Exception] = engine.dialect.loaded_dbapi.IntegrityError
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._pending = 0  # only touched on the event loop thread
        self._buffer: list[_Item] = []  # rows of the current event-loop pass
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._prepared: dict[Table, PreparedInsert] = {}
        self._connection: Any = None  # the writer thread's own DBAPI connection
        self._committing = False  # whether the current transaction's COMMIT was sent
        self.batches = 0  # counters, for tests and the benchmark
        self.units = 0

    def prepare(self, table: Table) -> PreparedInsert:
        """The INSERT into ``table``, compiled on first use and kept: the store's
        tables are the registry, so a new insert needs no list of statements."""
        statement = self._prepared.get(table)
        if statement is None:
            statement = self._prepared[table] = PreparedInsert(table, self._engine.dialect)
        return statement

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="sayso-writer", daemon=True)
        self._thread.start()

    async def insert(self, table: Table, row: Mapping[str, Any]) -> None:
        """Insert ``row`` into ``table``; returns once it is committed, raises if it was not."""
        await self.insert_unit([(table, row)])

    async def insert_unit(self, rows: Sequence[tuple[Table, Mapping[str, Any]]]) -> None:
        """Insert ``rows`` in one transaction, parents first; returns once committed."""
        if self._loop is None or self._thread is None:
            raise WriterStopped
        if self._pending >= MAX_PENDING:
            raise WriterOverloaded
        future: asyncio.Future[None] = self._loop.create_future()
        self._pending += 1
        if not self._buffer:
            # Hand over everything this event-loop pass produces in one go: one
            # cross-thread wake-up per pass rather than one per row.
            self._loop.call_soon(self._hand_over)
        unit: Unit = []
        for table, row in rows:
            statement = self.prepare(table)
            unit.append((statement, statement.params(row)))
        self._buffer.append((unit, future))
        try:
            await future
        finally:
            self._pending -= 1

    def _hand_over(self) -> None:
        buffer, self._buffer = self._buffer, []
        self._queue.put(buffer)

    async def stop(self) -> None:
        """Commit what is queued, then stop the thread."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        if self._buffer:
            self._hand_over()
        self._queue.put(_STOP)
        await asyncio.to_thread(thread.join)

    # --- the writer thread ---------------------------------------------------

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                break
            batch: list[_Item] = list(first)  # type: ignore[call-overload]
            # Whatever piled up while the previous commit was being fsynced
            # joins this one.
            while len(batch) < MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is _STOP:
                    stopping = True
                    break
                batch.extend(more)  # type: ignore[arg-type]
            errors = self._commit(batch)
            assert self._loop is not None
            self._loop.call_soon_threadsafe(_settle, batch, errors)
        if self._connection is not None:
            self._connection.close()

    def _execute(self, groups: Mapping[PreparedInsert, list[Params]]) -> None:
        reused = self._connection is not None
        try:
            self._transaction(groups)
        except Exception as exc:
            if not (reused and not self._committing and is_outage(exc)):
                raise
            # A connection kept from before an outage (the server restarted
            # meanwhile) fails on its first statement. COMMIT was never sent,
            # so nothing of this batch is stored: run it again on a new one.
            log.warning("writer: connection lost (%s); reconnecting", describe(exc))
            self._transaction(groups)

    def _transaction(self, groups: Mapping[PreparedInsert, list[Params]]) -> None:
        self._committing = False
        if self._connection is None:
            self._connection = self._engine.raw_connection()
        connection = self._connection
        try:
            cursor = connection.cursor()
            for statement, rows in groups.items():
                if statement.copy_sql is None:
                    cursor.executemany(statement.sql, rows)
                else:
                    with cursor.copy(statement.copy_sql) as copy:
                        for row in rows:
                            copy.write_row(row)
            self._committing = True
            connection.commit()
            cursor.close()
        except Exception as exc:
            if is_outage(exc):
                # Lost, or on a disk that failed: start afresh next time.
                self._drop_connection()
                raise
            try:
                connection.rollback()
            except Exception:
                # The connection itself is broken: drop it, the next batch reconnects.
                self._drop_connection()
            raise

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.invalidate()

    def _commit(self, batch: list[_Item]) -> list[BaseException | None]:
        groups: dict[PreparedInsert, list[Params]] = defaultdict(list)
        for unit, _ in batch:
            for statement, params in unit:
                groups[statement].append(params)
        try:
            self._execute(groups)
        except self.integrity_error as exc:
            if len(batch) == 1:
                return [exc]
            return [self._commit_unit(unit) for unit, _ in batch]
        except Exception as exc:
            if is_outage(exc):  # each request's 503 is logged at the boundary
                log.debug("batch of %d units not committed: %s", len(batch), describe(exc))
            else:
                log.exception("batch of %d units failed to commit", len(batch))
            return [exc] * len(batch)
        self.batches += 1
        self.units += len(batch)
        return [None] * len(batch)

    def _commit_unit(self, unit: Unit) -> BaseException | None:
        groups: dict[PreparedInsert, list[Params]] = defaultdict(list)
        for statement, params in unit:
            groups[statement].append(params)
        try:
            self._execute(groups)
        except Exception as exc:
            return exc
        self.batches += 1
        self.units += 1
        return None


def _settle(batch: list[_Item], errors: list[BaseException | None]) -> None:
    for (_, future), error in zip(batch, errors, strict=True):
        if future.done():  # the request was cancelled (client went away)
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
