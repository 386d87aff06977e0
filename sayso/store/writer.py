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
screenshot links): a unit is always committed whole or not at all. The few
ingest writes that are not plain inserts (closing or reopening a replay
session, an identify's upsert) are small functions handed over with ``run``:
they run on the same thread, in the same transaction as the rows queued with
them, after those rows, and their result comes back once it is committed — so
nothing on the request path competes with the writer for SQLite's write lock.
If a batch fails on anything but an outage, its units and functions are
retried one by one, so a single bad one can't take its neighbours down with it.

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
from typing import Any, Concatenate, ParamSpec, TypeVar

import msgspec
from sqlalchemy import JSON, Connection, DateTime, Engine, Table
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
# A write function with its arguments bound: called with the writer's connection.
Call = Callable[[Connection], Any]
_Item = tuple[Unit | Call, "asyncio.Future[Any]"]
# What became of one unit or call: its result, or the error it raised.
_Outcome = tuple[Any, BaseException | None]
_P = ParamSpec("_P")
_T = TypeVar("_T")
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
        self._sqlite = engine.dialect.name == "sqlite"
        self._connection: Connection | None = None  # the writer thread's own
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
        unit: Unit = []
        for table, row in rows:
            statement = self.prepare(table)
            unit.append((statement, statement.params(row)))
        await self._submit(unit)

    async def run(
        self, fn: Callable[Concatenate[Connection, _P], _T], *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        """Run ``fn(connection, *args, **kwargs)`` on the writer's thread, in its
        transaction; returns ``fn``'s result once that is committed, or raises
        what ``fn`` raised (nothing of it is then stored).

        ``fn`` is a small synchronous write (an UPDATE or two, an upsert) that
        touches nothing but ``connection`` and never begins, commits or rolls
        back. It may be called more than once (a batch that fails is retried
        one by one), but only one call is ever committed. Refused like an
        insert when the writer is overloaded or stopped, and, like an insert,
        run even if the caller is cancelled meanwhile.
        """

        def call(connection: Connection) -> _T:
            return fn(connection, *args, **kwargs)

        result: _T = await self._submit(call)
        return result

    async def _submit(self, work: Unit | Call) -> Any:
        if self._loop is None or self._thread is None:
            raise WriterStopped
        if self._pending >= MAX_PENDING:
            raise WriterOverloaded
        future: asyncio.Future[Any] = self._loop.create_future()
        self._pending += 1
        if not self._buffer:
            # Hand over everything this event-loop pass produces in one go: one
            # cross-thread wake-up per pass rather than one per row.
            self._loop.call_soon(self._hand_over)
        self._buffer.append((work, future))
        try:
            return await future
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
            outcomes = self._commit(batch)
            assert self._loop is not None
            self._loop.call_soon_threadsafe(_settle, batch, outcomes)
        if self._connection is not None:
            self._connection.close()

    def _commit(self, batch: list[_Item]) -> list[_Outcome]:
        try:
            results = self._execute([work for work, _ in batch])
        except Exception as exc:
            if is_outage(exc):  # each request's 503 is logged at the boundary
                log.debug("batch of %d not committed: %s", len(batch), describe(exc))
                return [(None, exc)] * len(batch)
            if len(batch) > 1:
                # A constraint, or a function's error: find whose, and commit the rest.
                return [self._commit_alone(work) for work, _ in batch]
            return [self._failed(batch[0][0], exc)]
        self.batches += 1
        self.units += len(batch)
        return [(result, None) for result in results]

    def _commit_alone(self, work: Unit | Call) -> _Outcome:
        try:
            [result] = self._execute([work])
        except Exception as exc:
            return self._failed(work, exc)
        self.batches += 1
        self.units += 1
        return result, None

    def _failed(self, work: Unit | Call, exc: Exception) -> _Outcome:
        # A function's error is its caller's to judge; an insert that fails on
        # anything but a constraint or an outage is a bug worth a traceback.
        if isinstance(work, list) and not (isinstance(exc, self.integrity_error) or is_outage(exc)):
            log.error("a unit of %d rows failed to commit", len(work), exc_info=exc)
        return None, exc

    def _execute(self, work: list[Unit | Call]) -> list[Any]:
        reused = self._connection is not None
        try:
            return self._transaction(work)
        except Exception as exc:
            if not (reused and not self._committing and is_outage(exc)):
                raise
            # A connection kept from before an outage (the server restarted
            # meanwhile) fails on its first statement. COMMIT was never sent,
            # so nothing of this batch is stored: run it again on a new one.
            log.warning("writer: connection lost (%s); reconnecting", describe(exc))
            return self._transaction(work)

    def _transaction(self, work: list[Unit | Call]) -> list[Any]:
        """One transaction: every unit's rows (a statement's rows at once), then
        each function in turn; the functions' results, None for a unit."""
        self._committing = False
        if self._connection is None:
            self._connection = self._engine.connect()
        connection = self._connection
        try:
            connection.begin()
            if self._sqlite:
                # The write lock from the start: a function's reads and writes
                # are then one transaction (sqlite3 would only begin one at
                # its first write).
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            groups: dict[PreparedInsert, list[Params]] = defaultdict(list)
            for unit in work:
                if isinstance(unit, list):
                    for statement, params in unit:
                        groups[statement].append(params)
            # The driver's own cursor: no SQLAlchemy processing per row.
            cursor: Any = connection.connection.cursor()
            for statement, rows in groups.items():
                if statement.copy_sql is None:
                    cursor.executemany(statement.sql, rows)
                else:
                    with cursor.copy(statement.copy_sql) as copy:
                        for row in rows:
                            copy.write_row(row)
            cursor.close()
            results = [None if isinstance(item, list) else item(connection) for item in work]
            self._committing = True
            connection.commit()
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
        return results

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.invalidate()
            connection.close()


def _settle(batch: list[_Item], outcomes: list[_Outcome]) -> None:
    for (_, future), (result, error) in zip(batch, outcomes, strict=True):
        if future.done():  # the request was cancelled (client went away)
            continue
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)
