"""Telling "a dependency is unavailable" apart from a bug.

A database that doesn't answer, a disk that is full or read-only, an object
store that can't be reached: none of these is the request's fault or a defect
in Sayso, and all of them pass. The boundaries (the public API's router and the
dashboard's error page) answer them with ``503`` and ``Retry-After`` instead of
a ``500``, and log one line instead of a traceback; ``sayso`` commands wait for
the database at start-up on the same test.

The test is deliberately narrow: a constraint violation, a missing table or a
syntax error is a bug and stays a 500, even though SQLite calls a missing
table an ``OperationalError``.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import sys
from pathlib import Path

from sqlalchemy import exc as sa

from sayso.settings import Settings
from sayso.store.database import sqlite_path

# Seconds a client is told to wait before retrying during an outage.
RETRY_AFTER_SECONDS = 5

# The disk can't take the write: full, over quota, or mounted read-only.
_DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS})

# SQLite primary result codes that mean the file or its disk is unusable for
# now: busy (still locked after the busy timeout), I/O error, disk full, can't
# open, read-only. Plain SQLITE_ERROR ("no such table", syntax) is not here.
_SQLITE_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_READONLY,
    }
)

# PostgreSQL SQLSTATE classes of an unavailable server: 08 connection
# exception, 53 insufficient resources (disk full, out of memory, too many
# connections), 57 operator intervention (shutting down, starting up,
# statement timeout), 58 system error (I/O).
_POSTGRES_CLASSES = frozenset({"08", "53", "57", "58"})

# S3 error codes that ask the client to come back later.
_S3_CODES = frozenset({"SlowDown", "ServiceUnavailable", "RequestTimeout"})


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` (or what it wraps) means a dependency is unavailable."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, BaseExceptionGroup):
            return all(is_outage(inner) for inner in current.exceptions)
        if _is_outage_itself(current):
            return True
        # Follow explicit wrapping only (SQLAlchemy's DBAPIError keeps the
        # driver's error as ``orig`` and as the cause); an error raised while
        # *handling* an outage may well be a bug of its own.
        if isinstance(current, sa.DBAPIError) and isinstance(current.orig, BaseException):
            pending.append(current.orig)
        if current.__cause__ is not None:
            pending.append(current.__cause__)
    return False


def _is_outage_itself(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in _DISK_ERRNOS:
        return True
    if isinstance(exc, sa.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa.TimeoutError):  # no pooled connection came free in time
        return True
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        return code is not None and code & 0xFF in _SQLITE_CODES
    return _is_postgres_outage(exc) or _is_s3_outage(exc)


def _is_postgres_outage(exc: BaseException) -> bool:
    psycopg = sys.modules.get("psycopg")  # not loaded: it can't be a psycopg error
    if psycopg is None or not isinstance(exc, psycopg.Error):
        return False
    sqlstate = exc.sqlstate
    if sqlstate is None:
        # Raised by the client library itself: the connection could not be
        # made, was lost, or is closed. (Its InterfaceError is misuse: a bug.)
        return isinstance(exc, psycopg.OperationalError)
    return sqlstate[:2] in _POSTGRES_CLASSES


def _is_s3_outage(exc: BaseException) -> bool:
    botocore = sys.modules.get("botocore.exceptions")
    if botocore is None:
        return False
    if isinstance(exc, botocore.ConnectionError | botocore.HTTPClientError):
        return True  # can't connect, timed out, connection closed
    if isinstance(exc, botocore.ClientError):
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return status == 503 or error.get("Code") in _S3_CODES
    return False


def describe(exc: BaseException) -> str:
    """One line for the log: the error's type and the first line of its message."""
    inner = exc
    while isinstance(inner, sa.DBAPIError) and isinstance(inner.orig, BaseException):
        inner = inner.orig
    lines = str(inner).strip().splitlines()
    message = lines[0] if lines else ""
    return f"{type(inner).__name__}: {message}" if message else type(inner).__name__


def disk_problem(settings: Settings) -> str | None:
    """``"full"`` or ``"read-only"`` when a folder Sayso writes to can't take writes.

    Checks the SQLite database's folder and the local blob folder (S3 and
    PostgreSQL keep their own disks): free space below
    ``SAYSO_MIN_FREE_DISK_MB``, or a read-only mount. One ``statvfs`` each, no
    probe write, so a health check every second costs the disk nothing.
    """
    folders = []
    database = sqlite_path(settings)
    if database is not None:
        folders.append(database.parent)
    if not settings.blob_location.startswith("s3://"):
        folders.append(Path(settings.blob_location))
    for folder in folders:
        stats = os.statvfs(_existing(folder))
        if stats.f_flag & os.ST_RDONLY:
            return "read-only"
        if stats.f_bavail * stats.f_frsize < settings.min_free_disk_mb * 1024 * 1024:
            return "full"
    return None


def _existing(folder: Path) -> Path:
    # The blob folder is created on first upload: until then its parent's
    # disk is the one it will use.
    folder = folder.absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder
