"""Sign-in sessions: a random token in the browser's cookie, its SHA-256 in the database.

The token itself is never stored, so reading the ``sessions`` table (or a
backup) does not let anyone sign in. A session lasts 14 days from sign-in;
``last_seen_at`` is refreshed at most once a minute, so ordinary page views
don't each cost a write.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, RowMapping, delete, select

from sayso.accounts.users import User
from sayso.store.database import as_utc
from sayso.store.schema import sessions, users

SESSION_LIFETIME = timedelta(days=14)
LAST_SEEN_RESOLUTION = timedelta(minutes=1)
MAX_USER_AGENT_LENGTH = 512


@dataclass(frozen=True, slots=True)
class Session:
    token_hash: str
    user_id: str
    created_at: datetime
    expires_at: datetime
    last_seen_at: datetime
    user_agent: str | None

    @classmethod
    def from_row(cls, row: RowMapping) -> Session:
        return cls(
            token_hash=row["token_hash"],
            user_id=row["user_id"],
            created_at=as_utc(row["created_at"]),
            expires_at=as_utc(row["expires_at"]),
            last_seen_at=as_utc(row["last_seen_at"]),
            user_agent=row["user_agent"],
        )


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(
    engine: Engine, user_id: str, *, user_agent: str | None = None, now: datetime | None = None
) -> tuple[str, Session]:
    """A new session for ``user_id``: the token for the cookie, and the stored row."""
    now = now or datetime.now(UTC)
    token = secrets.token_urlsafe(32)
    session = Session(
        token_hash=hash_token(token),
        user_id=user_id,
        created_at=now,
        expires_at=now + SESSION_LIFETIME,
        last_seen_at=now,
        user_agent=user_agent[:MAX_USER_AGENT_LENGTH] if user_agent else None,
    )
    with engine.begin() as conn:
        # Expired sessions are swept here, one user at a time, rather than by a job.
        conn.execute(
            delete(sessions).where(sessions.c.user_id == user_id, sessions.c.expires_at <= now)
        )
        conn.execute(
            sessions.insert().values(
                token_hash=session.token_hash,
                user_id=user_id,
                created_at=session.created_at,
                expires_at=session.expires_at,
                last_seen_at=session.last_seen_at,
                user_agent=session.user_agent,
            )
        )
    return token, session


def user_for_token(engine: Engine, token: str, *, now: datetime | None = None) -> User | None:
    """The signed-in user for a cookie's token, or None if unknown or expired."""
    if not token:
        return None
    now = now or datetime.now(UTC)
    token_hash = hash_token(token)
    query = (
        select(users, sessions.c.expires_at, sessions.c.last_seen_at)
        .join(sessions, sessions.c.user_id == users.c.id)
        .where(sessions.c.token_hash == token_hash)
    )
    with engine.connect() as conn:
        row = conn.execute(query).mappings().first()
    if row is None:
        return None
    if as_utc(row["expires_at"]) <= now:
        end_session(engine, token)
        return None
    if now - as_utc(row["last_seen_at"]) >= LAST_SEEN_RESOLUTION:
        with engine.begin() as conn:
            conn.execute(
                sessions.update()
                .where(sessions.c.token_hash == token_hash)
                .values(last_seen_at=now)
            )
    return User.from_row(row)


def get_session(engine: Engine, token: str) -> Session | None:
    with engine.connect() as conn:
        row = (
            conn.execute(select(sessions).where(sessions.c.token_hash == hash_token(token)))
            .mappings()
            .first()
        )
    return Session.from_row(row) if row else None


def end_session(engine: Engine, token: str) -> bool:
    """Sign one browser out; False if the token had no session."""
    with engine.begin() as conn:
        result = conn.execute(delete(sessions).where(sessions.c.token_hash == hash_token(token)))
    return bool(result.rowcount)
