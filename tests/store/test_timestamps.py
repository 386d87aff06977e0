"""Timestamps read back from either database are aware and in UTC (``store.database.as_utc``)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import Engine

from sayso.accounts.users import create_user, find_user_by_email
from sayso.store.database import as_utc


def test_a_zone_less_timestamp_is_taken_as_utc_and_an_aware_one_is_converted() -> None:
    assert as_utc(datetime(2026, 12, 3, 9, 0)) == datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    in_paris = datetime(2026, 12, 3, 10, 0, tzinfo=timezone(timedelta(hours=1)))
    converted = as_utc(in_paris)
    assert converted.tzinfo is UTC
    assert converted.hour == 9


def test_an_empty_timestamp_column_stays_none(engine: Engine) -> None:
    email = f"never-{secrets.token_hex(4)}@example.com"
    create_user(engine, email, "correct horse battery")

    user = find_user_by_email(engine, email)

    assert user is not None
    assert user.created_at.tzinfo is UTC
    assert user.last_sign_in_at is None
    assert as_utc(None) is None
