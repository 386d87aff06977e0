"""The audit log: who did what to which project, and when.

Entries are written by the dashboard (sign-in and sign-out, project and member
changes) and read back per project, newest first. ``client_id`` is a plain
string, not a foreign key, so a deleted project's history (its deletion above
all) stays readable. Details never carry secrets: no passwords, no tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from sayso.store.clients import as_utc
from sayso.store.ids import new_sortable_id
from sayso.store.schema import audit_log, users

# Default and ceiling for one page of entries.
DEFAULT_LIMIT = 200


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
        )
        for row in rows
    ]
