"""Identities: who the host app says is behind an ``anonymousId`` (``POST /api/identify``).

One row per client and ``anonymousId``, replaced by each identify (the latest
values win). An identify also fills in ``user_email`` on that anonymousId's
replay sessions that have none yet, and a session started later takes it
right after its row commits (``claim_person``), so the sessions list shows
the person.

Each write here takes a ``Connection`` and runs in the caller's transaction:
on the ingest path the group-commit writer's (``Writer.run``), so identify
and replay starts never compete with it for SQLite's write lock.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects import postgresql, sqlite

from sayso.store.schema import identities, replay_sessions

_i = identities.c
_s = replay_sessions.c


def save_identity(
    conn: Connection,
    client_id: str,
    anonymous_id: str,
    *,
    external_user_id: str | None,
    email: str | None,
    display_name: str | None,
    traits: dict[str, Any] | None,
    now: datetime | None = None,
) -> None:
    """Insert or replace the identity.

    Commit it before ``give_email`` gives its email to sessions: a session
    start commits its row and then reads identities (``claim_person``), so
    each side writes before it reads the other's table and at least one of
    them sees the other. In one transaction, PostgreSQL's READ COMMITTED let
    both miss. Raises IntegrityError if the client does not exist (any more).
    """
    now = now or datetime.now(UTC)
    values = {
        "external_user_id": external_user_id,
        "email": email,
        "display_name": display_name,
        "traits": traits,
        "updated_at": now,
    }
    key = {"client_id": client_id, "anonymous_id": anonymous_id, "created_at": now}
    _upsert(conn, key, values)


def give_email(conn: Connection, client_id: str, anonymous_id: str, email: str) -> int:
    """Give an identified ``email`` to that anonymousId's sessions that have none;
    returns how many got it. Only after the identity is committed (see
    ``save_identity``). A session already shown with an email keeps it."""
    return int(
        conn.execute(
            update(replay_sessions)
            .where(
                _s.client_id == client_id,
                _s.anonymous_id == anonymous_id,
                _s.user_email.is_(None),
            )
            .values(user_email=email.lower())
        ).rowcount
    )


def _upsert(conn: Connection, key: dict[str, Any], values: dict[str, Any]) -> None:
    # Both dialects have INSERT … ON CONFLICT DO UPDATE (SQLite ≥ 3.24), but
    # through different constructs; one statement avoids a read-then-write race
    # between two nodes identifying the same anonymousId.
    dialect = conn.dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(identities).values(**key, **values)
    conn.execute(
        statement.on_conflict_do_update(
            index_elements=[_i.client_id, _i.anonymous_id],
            set_={name: statement.excluded[name] for name in values},
        )
    )


def claim_person(conn: Connection, client_id: str, anonymous_id: str, session_id: str) -> bool:
    """Give a just-stored session the email its anonymousId was identified with.

    Called after the session's row is committed, never before: an identify
    committing before this read is seen here, and one committing after it
    finds the session row with its own update (``give_email``) — so no
    interleaving of the two requests (Usero's SDK may send them together)
    leaves the session without its person. Reads first, so the common case
    (nobody identified) writes nothing.
    """
    query = select(_i.email).where(_i.client_id == client_id, _i.anonymous_id == anonymous_id)
    email = conn.execute(query).scalar()
    if email is None:
        return False
    conn.execute(
        update(replay_sessions)
        .where(_s.id == session_id, _s.user_email.is_(None))
        .values(user_email=email.lower())
    )
    return True
