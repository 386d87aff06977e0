"""The audit log: who did what to which project, and when.

Entries are written by the dashboard (sign-in and sign-out, project and member
changes) and read back per project, newest first. ``client_id`` is a plain
string, not a foreign key, so a deleted project's history (its deletion above
all) stays readable. Details never carry secrets: no passwords, no tokens.

Anyone can make a failed sign-in, so those must not grow the log without
bound: attempts the rate limit refuses are ``tally``'d — one row per key and
window whose ``count`` goes up, in one atomic upsert — rather than appended.
Entries older than ``SAYSO_AUDIT_RETENTION_DAYS`` are deleted by the clean-up
(``delete_older_than``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from sayso.store.database import as_utc
from sayso.store.ids import new_sortable_id
from sayso.store.schema import audit_log, users

# Default and ceiling for one page of entries.
DEFAULT_LIMIT = 200
# Rows deleted per statement by the retention, so one clean-up never holds
# the database's write lock (SQLite) for long.
DELETE_BATCH = 5_000


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    at: datetime
    actor_user_id: str | None
    # The actor's email at read time; None when there was no actor or the
    # user has since been deleted.
    actor_email: str | None
    client_id: str | None
    action: str
    details: dict[str, Any]
    # How many times it happened (more than 1 only for tallied entries).
    count: int = 1


def record(
    target: Connection | Engine,
    actor_user_id: str | None,
    client_id: str | None,
    action: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one entry; on a ``Connection`` it joins that connection's transaction."""
    row = {
        "id": new_sortable_id(),
        "at": datetime.now(UTC),
        "actor_user_id": actor_user_id,
        "client_id": client_id,
        "action": action,
        "details": details or {},
    }
    if isinstance(target, Engine):
        with target.begin() as conn:
            conn.execute(audit_log.insert().values(**row))
    else:
        target.execute(audit_log.insert().values(**row))


def tally(conn: Connection, key: str, action: str, details: dict[str, Any]) -> None:
    """Count one more ``action`` for ``key``: a new entry the first time, ``count + 1`` after.

    ``key`` names what is counted (e.g. a rate-limit key and its window); the
    entry's id is derived from it, so concurrent tallies on any node meet on
    one row. ``details`` are those of the first occurrence. Joins ``conn``'s
    transaction.
    """
    entry_id = "t" + hashlib.sha256(f"{action}\n{key}".encode()).hexdigest()[:31]
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(audit_log).values(
        id=entry_id,
        at=datetime.now(UTC),
        actor_user_id=None,
        client_id=None,
        action=action,
        details=details,
        count=1,
    )
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[audit_log.c.id], set_={"count": audit_log.c.count + 1}
        )
    )


def apply_retention(engine: Engine, days: int) -> int:
    """Delete entries older than ``days`` (``SAYSO_AUDIT_RETENTION_DAYS``; 0 keeps all)."""
    if days <= 0:
        return 0
    return delete_older_than(engine, datetime.now(UTC) - timedelta(days=days))


def delete_older_than(engine: Engine, cutoff: datetime) -> int:
    """Delete entries from before ``cutoff``, in batches; returns how many."""
    deleted = 0
    while True:
        batch = select(audit_log.c.id).where(audit_log.c.at < cutoff).limit(DELETE_BATCH)
        with engine.begin() as conn:
            count = conn.execute(delete(audit_log).where(audit_log.c.id.in_(batch))).rowcount
        deleted += count
        if count < DELETE_BATCH:
            return deleted


def entries(engine: Engine, client_id: str, limit: int = DEFAULT_LIMIT) -> list[Entry]:
    """A project's entries, newest first (ids sort by time, which breaks ties)."""
    query = (
        select(audit_log, users.c.email.label("actor_email"))
        .outerjoin(users, users.c.id == audit_log.c.actor_user_id)
        .where(audit_log.c.client_id == client_id)
        .order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
        .limit(max(1, min(limit, DEFAULT_LIMIT)))
    )
    with engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [
        Entry(
            id=row["id"],
            at=as_utc(row["at"]),
            actor_user_id=row["actor_user_id"],
            actor_email=row["actor_email"],
            client_id=row["client_id"],
            action=row["action"],
            details=dict(row["details"] or {}),
            count=row["count"],
        )
        for row in rows
    ]
