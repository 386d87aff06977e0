"""Identities: who the host app says is behind an ``anonymousId`` (``POST /api/identify``).

One row per client and ``anonymousId``, replaced by each identify (the latest
values win). An identify also fills in ``user_email`` on that anonymousId's
replay sessions that have none yet, and a session started later takes it
right after its row commits (``claim_person``), so the sessions list shows
the person.

Synchronous, meant for a thread. Identify is rare (when the host app's user
changes), so it commits directly rather than through the group-commit writer,
which only inserts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.dialects import postgresql, sqlite

from sayso.store.schema import identities, replay_sessions

_i = identities.c
_s = replay_sessions.c


def save_identity(
    engine: Engine,
    client_id: str,
    anonymous_id: str,
    *,
    external_user_id: str | None,
    email: str | None,
    display_name: str | None,
    traits: dict[str, Any] | None,
    now: datetime | None = None,
) -> int:
    """Insert or replace the identity, then give its email to that anonymousId's
    sessions that have none; returns how many sessions got it.

    Raises the driver's IntegrityError if the client does not exist (any more).
    """
    now = now or datetime.now(UTC)
    values = {
        "external_user_id": external_user_id,
        "email": email,
        "display_name": display_name,
        "traits": traits,
        "updated_at": now,
    }
    with engine.begin() as conn:
        key = {"client_id": client_id, "anonymous_id": anonymous_id, "created_at": now}
        _upsert(conn, key, values)
    if email is None:
        return 0
    # A second transaction, after the identity is committed: a session start
    # commits its row and then reads identities (claim_person), so each side
    # writes before it reads the other's table and at least one of them sees
    # the other. In one transaction, PostgreSQL's READ COMMITTED let both miss.
    with engine.begin() as conn:
        # Only sessions without a person: one already shown with an email keeps it.
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


def email_for(engine: Engine, client_id: str, anonymous_id: str) -> str | None:
    """The identified email of ``anonymous_id``, if it has one."""
    query = select(_i.email).where(_i.client_id == client_id, _i.anonymous_id == anonymous_id)
    with engine.connect() as conn:
        return conn.execute(query).scalar()


def claim_person(engine: Engine, client_id: str, anonymous_id: str, session_id: str) -> bool:
    """Give a just-stored session the email its anonymousId was identified with.

    Called after the session's row is committed, never before: an identify
    committing before this read is seen here, and one committing after it
    finds the session row with its own update — so no interleaving of the two
    requests (Usero's SDK may send them together) leaves the session without
    its person. Reads first, so the common case (nobody identified) writes
    nothing.
    """
    email = email_for(engine, client_id, anonymous_id)
    if email is None:
        return False
    with engine.begin() as conn:
        conn.execute(
            update(replay_sessions)
            .where(_s.id == session_id, _s.user_email.is_(None))
            .values(user_email=email.lower())
        )
    return True
