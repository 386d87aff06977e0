"""Signing in to the dashboard: the limits, then the password, each where it belongs.

1. Count the attempt (``rate_limit.reserve``): database, default thread pool.
   Over a limit → ``TooManyAttempts``, and nothing is hashed.
2. Look the account up: database, default thread pool.
3. Verify the password, and make a fresh hash if the stored one has outdated
   parameters, in one job on the hashing pool (``hashing.HashPool``). Its
   line full → ``Busy``, and nothing is hashed; the attempt stays counted (it
   was one, and a flood is what the limits are for).
4. A success stamps the sign-in time, stores the fresh hash if any and clears
   the attempt's counters: database again.

Database calls never wait behind hashes, and hashes never fill the thread
pool the public API's reads share.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine

from sayso.accounts import rate_limit
from sayso.accounts.hashing import HashPool
from sayso.accounts.users import User, check_password, credentials_for, record_sign_in


async def sign_in(
    engine: Engine, hashes: HashPool, email: str, password: str, client_ip: str | None
) -> User | None:
    """The user, or None for a wrong email or password; raises ``TooManyAttempts`` or ``Busy``."""
    attempt = await asyncio.to_thread(rate_limit.reserve, engine, email, client_ip)
    credentials = await asyncio.to_thread(credentials_for, engine, email)
    stored_hash = credentials.password_hash if credentials else None
    check = await hashes.run(check_password, stored_hash, password)
    if credentials is None or not check.ok:
        return None
    return await asyncio.to_thread(_succeed, engine, attempt, credentials.user_id, check.new_hash)


def _succeed(
    engine: Engine, attempt: rate_limit.Attempt, user_id: str, new_hash: str | None
) -> User | None:
    rate_limit.succeeded(engine, attempt)
    return record_sign_in(engine, user_id, new_hash)
