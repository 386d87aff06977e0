"""The sign-in limits: per email and client IP, and per client IP, counted atomically.

Two limits, over fixed 15-minute windows, for every email whether or not it
has an account (so the limits give nothing away):

- **10 failed attempts per email and client IP** (``PER_EMAIL_AND_IP``):
  someone guessing one account's password from one address. Once reached,
  that address is refused for that email — the right password included —
  until the window ends. The account's owner, on another address, still
  signs in: a lock on the email alone let anyone lock anyone out.
- **30 failed attempts per client IP, whatever the email** (``PER_IP``):
  someone trying a common password on many accounts from one address, which
  the first limit does not see. 30 is three accounts' worth of the first
  limit, so a person who forgets a password or two, or a small office behind
  one NAT address, never meets it; a sprayer gets 30 guesses an address per
  15 minutes instead of 10 per account.

IPv6 clients are counted per /64, the block one subscriber usually holds (an
address per guess would otherwise be free). Client IPs come from
``sayso.client_ip`` (``SAYSO_TRUSTED_PROXIES``).

**No limit on an email across addresses**, on purpose: any such limit is a
switch that locks the account's owner out, and anyone with that many
addresses can flip it. The cost is that a guesser with N addresses gets 10N
guesses an account per window; against a 10-character minimum and argon2id
(one hash at a time per process, ``accounts/hashing.py``) that stays slow,
and every failure is in the audit log. docs/privacy.md says the same.

**Atomic, across nodes.** An attempt is counted *before* its password is
checked: one ``INSERT … ON CONFLICT DO UPDATE SET count = count + 1 RETURNING
count`` per key (SQLite ≥ 3.35 and PostgreSQL), both keys in one transaction.
If either count is over its limit the transaction is rolled back and the
attempt refused without a password check, so the counters hold only attempts
that were checked (or went on to be), and 40 simultaneous attempts against a
limit of 10 check exactly 10 passwords. A success deletes its (email, IP)
counter and gives its reservation on the IP counter back, so only failures
add up. Refused attempts are audited as one ``sign_in_failed`` row per key and
window, with a count (``audit.tally``), not one row each.

Keys are SHA-256 digests, so the table holds no email or address in clear
(not anonymity: an IPv4 address is quickly found from its digest). Finished
windows are deleted by the periodic clean-up and ``sayso cleanup``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from sqlalchemy import Connection, Engine, delete
from sqlalchemy.dialects import postgresql, sqlite

from sayso.accounts.users import InvalidEmail, normalise_email
from sayso.store import audit
from sayso.store.schema import sign_in_limits

PER_EMAIL_AND_IP = 10
PER_IP = 30
WINDOW = timedelta(minutes=15)
# IPv6 clients are counted per network of this size.
IPV6_PREFIX = 64

Limit = Literal["email_and_ip", "ip"]
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


class TooManyAttempts(Exception):
    """Sign-in refused without checking the password."""

    def __init__(self, limit: Limit, retry_after: timedelta) -> None:
        self.limit = limit
        self.retry_after_seconds = max(1, math.ceil(retry_after.total_seconds()))
        minutes = math.ceil(self.retry_after_seconds / 60)
        unit = "minute" if minutes == 1 else "minutes"
        whose = "for this email" if limit == "email_and_ip" else "from your network"
        super().__init__(
            f"Too many failed sign-in attempts {whose}. Try again in {minutes} {unit}."
        )


@dataclass(frozen=True, slots=True)
class Attempt:
    """A counted attempt: what to clear if it succeeds."""

    email_and_ip_key: str
    ip_key: str
    window_start: datetime


def window_start(now: datetime) -> datetime:
    """The start of the fixed window ``now`` falls in."""
    return now - (now - _EPOCH) % WINDOW


def reserve(
    engine: Engine, email: str, client_ip: str | None, *, now: datetime | None = None
) -> Attempt:
    """Count one attempt before its password is checked; raises ``TooManyAttempts``."""
    now = now or datetime.now(UTC)
    start = window_start(now)
    network = _network(client_ip)
    attempt = Attempt(
        email_and_ip_key=_digest("email+ip", _email_key(email), network),
        ip_key=_digest("ip", network),
        window_start=start,
    )
    refused: Limit | None = None
    with engine.connect() as conn:
        with conn.begin() as transaction:
            if _count(conn, attempt.email_and_ip_key, start) > PER_EMAIL_AND_IP:
                refused = "email_and_ip"
            elif _count(conn, attempt.ip_key, start) > PER_IP:
                refused = "ip"
            if refused is not None:
                # Not counted: the counters hold only attempts that get checked.
                transaction.rollback()
        if refused is None:
            return attempt
        with conn.begin():
            _audit_refusal(conn, refused, attempt, email)
    raise TooManyAttempts(refused, start + WINDOW - now)


def succeeded(engine: Engine, attempt: Attempt) -> None:
    """The password was right: forget the (email, IP) failures, give the IP reservation back."""
    with engine.begin() as conn:
        conn.execute(delete(sign_in_limits).where(sign_in_limits.c.key == attempt.email_and_ip_key))
        conn.execute(
            sign_in_limits.update()
            .where(
                sign_in_limits.c.key == attempt.ip_key,
                sign_in_limits.c.window_start == attempt.window_start,
                sign_in_limits.c.count > 0,
            )
            .values(count=sign_in_limits.c.count - 1)
        )


def delete_finished_windows(engine: Engine, *, now: datetime | None = None) -> int:
    """Delete counters whose window is over; returns how many."""
    start = window_start(now or datetime.now(UTC))
    with engine.begin() as conn:
        result = conn.execute(delete(sign_in_limits).where(sign_in_limits.c.window_start < start))
    return int(result.rowcount)


def _count(conn: Connection, key: str, start: datetime) -> int:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    statement = insert(sign_in_limits).values(key=key, window_start=start, count=1)
    upsert = statement.on_conflict_do_update(
        index_elements=[sign_in_limits.c.key, sign_in_limits.c.window_start],
        set_={"count": sign_in_limits.c.count + 1},
    )
    return int(conn.execute(upsert.returning(sign_in_limits.c.count)).scalar_one())


def _audit_refusal(conn: Connection, limit: Limit, attempt: Attempt, email: str) -> None:
    key = attempt.email_and_ip_key if limit == "email_and_ip" else attempt.ip_key
    details: dict[str, object] = {"reason": "rate_limited", "limit": limit}
    if limit == "email_and_ip":
        # The typed email (bounded), as for any failed sign-in; never the password.
        details["email"] = email.strip()[:254]
    audit.tally(conn, f"{key}/{attempt.window_start.isoformat()}", "sign_in_failed", details)


def _email_key(email: str) -> str:
    try:
        return normalise_email(email)
    except InvalidEmail:
        # Still limited, under whatever was typed (bounded).
        return email.strip().lower()[:254]


def _network(client_ip: str | None) -> str:
    if client_ip is None:
        return "unknown"
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return client_ip
    if address.version == 6:
        host_bits = 128 - IPV6_PREFIX
        return str(ipaddress.IPv6Network((int(address) >> host_bits << host_bits, IPV6_PREFIX)))
    return str(address)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()
