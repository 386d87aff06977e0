"""The sign-in rate limit: at most 10 failed attempts per email per 15 minutes.

Failures are rows in the database, so the limit holds across every app node.
The count is per email (not per IP, which Sayso does not look at), and applies
whether or not an account exists, so the limit gives nothing away. Once the
limit is reached every attempt is refused, the right password included, until
the oldest failure in the window ages out. Refused attempts are not recorded,
so the table stays bounded; rows older than a day are deleted whenever a
failure is recorded. Two simultaneous attempts may both pass the check, so the
bound is approximate under concurrency — good enough against guessing.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, func, select

from sayso.accounts.users import InvalidEmail, User, authenticate, normalise_email
from sayso.store.ids import new_sortable_id
from sayso.store.schema import sign_in_failures

MAX_FAILURES = 10
WINDOW = timedelta(minutes=15)
KEEP_FAILURES = timedelta(days=1)


class TooManyAttempts(Exception):
    """Sign-in refused without checking the password."""

    def __init__(self) -> None:
        minutes = int(WINDOW.total_seconds() // 60)
        super().__init__(
            f"Too many failed sign-in attempts for this email. Try again in {minutes} minutes."
        )


def _key(email: str) -> str:
    try:
        return normalise_email(email)
    except InvalidEmail:
        # Still limited, under whatever was typed (bounded to the column's size).
        return email.strip().lower()[:254]


def recent_failures(engine: Engine, email: str, *, now: datetime | None = None) -> int:
    now = now or datetime.now(UTC)
    query = (
        select(func.count())
        .select_from(sign_in_failures)
        .where(sign_in_failures.c.email == _key(email), sign_in_failures.c.at > now - WINDOW)
    )
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def is_limited(engine: Engine, email: str, *, now: datetime | None = None) -> bool:
    return recent_failures(engine, email, now=now) >= MAX_FAILURES


def record_failure(engine: Engine, email: str, *, now: datetime | None = None) -> None:
    now = now or datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(delete(sign_in_failures).where(sign_in_failures.c.at < now - KEEP_FAILURES))
        conn.execute(
            sign_in_failures.insert().values(id=new_sortable_id(), email=_key(email), at=now)
        )


def clear_failures(engine: Engine, email: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(sign_in_failures).where(sign_in_failures.c.email == _key(email)))


def sign_in(
    engine: Engine, email: str, password: str, *, now: datetime | None = None
) -> User | None:
    """``authenticate`` behind the limit: the user, None for a wrong password, or raises.

    Raises ``TooManyAttempts`` when the email has reached its limit. A success
    clears the email's failures: whoever got in knows the password already.
    """
    if is_limited(engine, email, now=now):
        raise TooManyAttempts
    user = authenticate(engine, email, password)
    if user is None:
        record_failure(engine, email, now=now)
    else:
        clear_failures(engine, email)
    return user
