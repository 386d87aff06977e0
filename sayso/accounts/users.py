"""Dashboard users: create, look up, check passwords, change passwords, list.

Signing in (limits, the hash pool, then these checks) is ``accounts.login``.

Emails are stored trimmed and lowercased, so ``Ana@Example.com`` and
``ana@example.com`` are one account and the unique index enforces it.
"""

from __future__ import annotations

import functools
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, RowMapping, delete, func, select
from sqlalchemy.exc import IntegrityError

from sayso.accounts.passwords import hash_password, needs_rehash, rehash, verify_password
from sayso.store.database import as_utc
from sayso.store.ids import new_sortable_id
from sayso.store.schema import sessions, users

MAX_EMAIL_LENGTH = 254
# Deliberately loose: one @, something either side, no whitespace or control
# characters. Whether the address works is the administrator's business.
_EMAIL = re.compile(r"[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+")


class InvalidEmail(ValueError):
    pass


class DuplicateEmail(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class User:
    id: str
    email: str
    is_admin: bool
    created_at: datetime
    last_sign_in_at: datetime | None

    @classmethod
    def from_row(cls, row: RowMapping) -> User:
        return cls(
            id=row["id"],
            email=row["email"],
            is_admin=bool(row["is_admin"]),
            created_at=as_utc(row["created_at"]),
            last_sign_in_at=as_utc(row["last_sign_in_at"]),
        )


def normalise_email(email: str) -> str:
    """The stored form of ``email``; raises ``InvalidEmail``."""
    email = email.strip().lower()
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL.fullmatch(email):
        raise InvalidEmail(f"not an email address: {email[:MAX_EMAIL_LENGTH]!r}")
    return email


def create_user(engine: Engine, email: str, password: str, *, is_admin: bool = False) -> User:
    """Raises ``InvalidEmail``, ``DuplicateEmail`` or ``PasswordRejected``; writes nothing then."""
    email = normalise_email(email)
    return store_user(engine, email, hash_password(password), is_admin=is_admin)


def store_user(engine: Engine, email: str, password_hash: str, *, is_admin: bool = False) -> User:
    """``create_user`` with the password already hashed (elsewhere: it is the slow part).

    ``email`` must be normalised already. Raises ``DuplicateEmail``.
    """
    user = User(new_sortable_id(), email, is_admin, datetime.now(UTC), None)
    try:
        with engine.begin() as conn:
            conn.execute(
                users.insert().values(
                    id=user.id,
                    email=email,
                    password_hash=password_hash,
                    is_admin=is_admin,
                    created_at=user.created_at,
                )
            )
    except IntegrityError:
        raise DuplicateEmail(f"there is already a user {email!r}") from None
    return user


def find_user_by_email(engine: Engine, email: str) -> User | None:
    try:
        email = normalise_email(email)
    except InvalidEmail:
        return None
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.email == email)).mappings().first()
    return User.from_row(row) if row else None


def get_user(engine: Engine, user_id: str) -> User | None:
    with engine.connect() as conn:
        row = conn.execute(select(users).where(users.c.id == user_id)).mappings().first()
    return User.from_row(row) if row else None


@dataclass(frozen=True, slots=True)
class Credentials:
    user_id: str
    password_hash: str


@dataclass(frozen=True, slots=True)
class PasswordCheck:
    ok: bool
    # A hash with the current parameters, when the stored one was made with others.
    new_hash: str | None = None


def credentials_for(engine: Engine, email: str) -> Credentials | None:
    """The stored hash for ``email`` (None: no such account, or not an email)."""
    try:
        email = normalise_email(email)
    except InvalidEmail:
        return None
    query = select(users.c.id, users.c.password_hash).where(users.c.email == email)
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return Credentials(row.id, row.password_hash) if row else None


@functools.cache
def _dummy_hash() -> str:
    return hash_password(secrets.token_urlsafe(16))


def check_password(password_hash: str | None, password: str) -> PasswordCheck:
    """Verify ``password`` (the slow part; no database), and rehash if it is due.

    No account (``None``) still costs one verification, against a dummy hash,
    so response times don't tell which emails have accounts.
    """
    if password_hash is None:
        verify_password(_dummy_hash(), password)
        return PasswordCheck(ok=False)
    if not verify_password(password_hash, password):
        return PasswordCheck(ok=False)
    return PasswordCheck(
        ok=True, new_hash=rehash(password) if needs_rehash(password_hash) else None
    )


def record_sign_in(engine: Engine, user_id: str, new_hash: str | None = None) -> User | None:
    """Stamp the sign-in time (and store ``new_hash`` if given); the user, or None if gone."""
    values: dict[str, object] = {"last_sign_in_at": datetime.now(UTC)}
    if new_hash is not None:
        values["password_hash"] = new_hash
    with engine.begin() as conn:
        conn.execute(users.update().where(users.c.id == user_id).values(**values))
    return get_user(engine, user_id)


def set_password(engine: Engine, user_id: str, password: str) -> bool:
    """Change a password and end every session of that user; False if no such user.

    Ending the sessions in the same transaction means a reset also locks out
    whoever may have been using the old password.
    """
    password_hash = hash_password(password)
    with engine.begin() as conn:
        changed = conn.execute(
            users.update().where(users.c.id == user_id).values(password_hash=password_hash)
        ).rowcount
        conn.execute(delete(sessions).where(sessions.c.user_id == user_id))
    return bool(changed)


def list_users(engine: Engine) -> list[User]:
    with engine.connect() as conn:
        rows = conn.execute(select(users).order_by(users.c.created_at, users.c.id))
        return [User.from_row(row) for row in rows.mappings()]


def count_users(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(users)).scalar_one())
