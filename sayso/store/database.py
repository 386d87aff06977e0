"""Opening the database: one SQLAlchemy engine per process, tuned per dialect.

SQLite is run the way it is meant to be run by a server: WAL journal (readers
never block the writer), ``synchronous=FULL`` (a commit survives power loss
before we acknowledge it), a busy timeout so the CLI and the server can share
the file, and foreign keys on. PostgreSQL gets a pool sized by
``SAYSO_DB_POOL_SIZE``. Writes on the request path do not go through this
engine's pool but through ``store.writer`` (one connection, group commit).
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, overload

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from sayso.settings import Settings

SQLITE_BUSY_TIMEOUT_MS = 10_000
# libpq's own default is to wait forever; a URL's ?connect_timeout= still wins.
CONNECT_TIMEOUT_SECONDS = 10


def _tune_sqlite(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def sqlite_path(settings: Settings) -> Path | None:
    """The database file, or None when the database is not SQLite."""
    if not settings.is_sqlite:
        return None
    database = make_url(settings.sqlalchemy_url).database
    return Path(database) if database else None


def create_db_engine(settings: Settings) -> Engine:
    """Build the engine for ``settings``, creating the SQLite file's folder if needed."""
    if settings.is_sqlite:
        path = sqlite_path(settings)
        if path is None:
            raise ValueError("an in-memory SQLite database can't be shared; give a file path")
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            settings.sqlalchemy_url,
            # The pool hands connections across threads (reads run in a thread
            # pool); sqlite3's same-thread check would refuse that.
            connect_args={"check_same_thread": False},
            pool_size=settings.db_pool_size,
        )
        event.listen(engine, "connect", _tune_sqlite)
        return engine
    return create_engine(
        settings.sqlalchemy_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_pre_ping=True,
        # A database host that drops packets instead of refusing must still
        # give a quick 503, not a request hanging until the OS gives up.
        connect_args=_postgres_connect_args(settings),
    )


def _postgres_connect_args(settings: Settings) -> dict[str, Any]:
    if "connect_timeout" in make_url(settings.sqlalchemy_url).query:
        return {}
    return {"connect_timeout": CONNECT_TIMEOUT_SECONDS}


@overload
def as_utc(value: datetime) -> datetime: ...
@overload
def as_utc(value: None) -> None: ...
def as_utc(value: datetime | None) -> datetime | None:
    """A stored timestamp as an aware UTC datetime: SQLite hands timestamps back
    without a zone (they were stored as UTC), PostgreSQL in the session's zone.
    An empty column (None) stays None."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def ping(engine: Engine) -> None:
    """Raise if the database can't answer a trivial query."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))
