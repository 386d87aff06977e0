"""Dashboard accounts in the store: passwords, users, sessions and the sign-in rate limit.

Password rules and hashing need no database; everything else runs on SQLite and
PostgreSQL. Each test makes its own users (unique emails), since the database
is shared by the whole run.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, delete, func, select

from sayso.accounts import users as users_module
from sayso.accounts.passwords import (
    MAX_LENGTH,
    MIN_LENGTH,
    PasswordRejected,
    hash_password,
    needs_rehash,
    verify_password,
)
from sayso.accounts.rate_limit import (
    TooManyAttempts,
    delete_finished_windows,
    reserve,
    succeeded,
    window_start,
)
from sayso.accounts.sessions import (
    SESSION_LIFETIME,
    end_session,
    get_session,
    start_session,
    user_for_token,
)
from sayso.accounts.users import (
    DuplicateEmail,
    InvalidEmail,
    count_users,
    create_user,
    find_user_by_email,
    list_users,
    set_password,
)
from sayso.store.database import as_utc
from sayso.store.schema import sessions, sign_in_limits, users
from tests.support.accounts import SignIn

PASSWORD = "correct horse battery"


def new_email(label: str = "user") -> str:
    return f"{label}-{secrets.token_hex(4)}@example.com"


def stored_password_hash(engine: Engine, email: str) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(select(users.c.password_hash).where(users.c.email == email)).scalar_one()
        )


def users_with_email(engine: Engine, email: str) -> int:
    with engine.connect() as conn:
        query = select(func.count()).select_from(users).where(users.c.email == email.lower())
        return int(conn.execute(query).scalar_one())


# Passwords


def test_a_password_is_hashed_with_argon2id_and_verifies_only_itself() -> None:
    password_hash = hash_password(PASSWORD)

    assert password_hash.startswith("$argon2id$")
    assert PASSWORD not in password_hash
    assert verify_password(password_hash, PASSWORD)
    assert not verify_password(password_hash, PASSWORD + "!")
    assert not verify_password("not a hash", PASSWORD)
    assert not needs_rehash(password_hash)


def test_a_hash_made_with_weaker_parameters_needs_rehashing() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    assert verify_password(weak, PASSWORD)
    assert needs_rehash(weak)


def test_passwords_have_between_10_and_1024_characters() -> None:
    assert (MIN_LENGTH, MAX_LENGTH) == (10, 1_024)
    for ok in ("x" * 10, "x" * 1_024):
        assert verify_password(hash_password(ok), ok)
    for bad in ("", "x" * 9, "x" * 1_025):
        with pytest.raises(PasswordRejected):
            hash_password(bad)


def test_verifying_an_over_long_password_is_refused_without_hashing_it() -> None:
    assert not verify_password(hash_password(PASSWORD), "x" * 100_000)


# Users


def test_a_user_is_stored_with_a_trimmed_lowercased_email_and_no_plain_password(
    engine: Engine,
) -> None:
    email = new_email("Mixed.Case")
    user = create_user(engine, f"  {email.upper()} ", PASSWORD, is_admin=True)

    assert user.email == email.lower()
    assert user.is_admin
    assert user.last_sign_in_at is None
    assert len(user.id) == 26
    found = find_user_by_email(engine, email.upper())
    assert found == user
    assert stored_password_hash(engine, user.email).startswith("$argon2id$")
    assert PASSWORD not in stored_password_hash(engine, user.email)


def test_users_are_not_admins_unless_asked(engine: Engine) -> None:
    assert not create_user(engine, new_email(), PASSWORD).is_admin


def test_an_email_that_differs_only_in_case_is_a_duplicate(engine: Engine) -> None:
    email = new_email()
    create_user(engine, email, PASSWORD)

    with pytest.raises(DuplicateEmail):
        create_user(engine, email.upper(), PASSWORD)

    assert users_with_email(engine, email) == 1


@pytest.mark.parametrize(
    "email",
    ["", "no-at-sign", "two@@example.com", "@example.com", "a b@example.com", "a@", "x\x00@y"],
)
def test_an_invalid_email_is_refused_and_nothing_is_written(engine: Engine, email: str) -> None:
    before = count_users(engine)
    with pytest.raises(InvalidEmail):
        create_user(engine, email, PASSWORD)
    assert count_users(engine) == before


def test_an_email_longer_than_254_characters_is_refused(engine: Engine) -> None:
    with pytest.raises(InvalidEmail):
        create_user(engine, "a" * 243 + "@example.com", PASSWORD)


def test_a_short_password_is_refused_and_nothing_is_written(engine: Engine) -> None:
    email = new_email()
    with pytest.raises(PasswordRejected):
        create_user(engine, email, "short")
    assert users_with_email(engine, email) == 0


def test_signing_in_returns_the_user_only_for_the_right_password_and_records_the_time(
    engine: Engine, sign_in_as: SignIn
) -> None:
    email = new_email()
    created = create_user(engine, email, PASSWORD)

    assert sign_in_as(email, "wrong password!") is None
    before = datetime.now(UTC)
    user = sign_in_as(email.upper(), PASSWORD)

    assert user is not None
    assert user.id == created.id
    assert user.last_sign_in_at is not None
    assert user.last_sign_in_at >= before - timedelta(seconds=1)


def test_an_unknown_or_malformed_email_still_costs_a_password_verification(
    sign_in_as: SignIn,
) -> None:
    users_module._dummy_hash.cache_clear()

    assert sign_in_as(new_email("nobody"), PASSWORD) is None
    assert sign_in_as("not an email", PASSWORD) is None

    # The dummy hash was made (and verified against) for the unknown email.
    assert users_module._dummy_hash.cache_info().currsize == 1


def test_signing_in_upgrades_a_hash_made_with_outdated_parameters(
    engine: Engine, sign_in_as: SignIn
) -> None:
    email = new_email()
    create_user(engine, email, PASSWORD)
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    with engine.begin() as conn:
        conn.execute(users.update().where(users.c.email == email).values(password_hash=weak))

    assert sign_in_as(email, PASSWORD) is not None

    upgraded = stored_password_hash(engine, email)
    assert upgraded != weak
    assert not needs_rehash(upgraded)
    assert sign_in_as(email, PASSWORD) is not None


def test_setting_a_password_replaces_the_old_one_and_ends_every_session(
    engine: Engine, sign_in_as: SignIn
) -> None:
    email = new_email()
    user = create_user(engine, email, PASSWORD)
    tokens = [start_session(engine, user.id)[0] for _ in range(2)]

    assert set_password(engine, user.id, "a brand new password")

    assert sign_in_as(email, PASSWORD) is None
    assert sign_in_as(email, "a brand new password") is not None
    assert [user_for_token(engine, token) for token in tokens] == [None, None]


def test_setting_a_password_for_an_unknown_user_reports_it(engine: Engine) -> None:
    assert not set_password(engine, "0" * 26, "a brand new password")


def test_setting_a_too_short_password_changes_nothing(engine: Engine, sign_in_as: SignIn) -> None:
    email = new_email()
    user = create_user(engine, email, PASSWORD)
    token, _ = start_session(engine, user.id)

    with pytest.raises(PasswordRejected):
        set_password(engine, user.id, "short")

    assert sign_in_as(email, PASSWORD) is not None
    assert user_for_token(engine, token) is not None


def test_users_are_listed_oldest_first_and_counted(engine: Engine) -> None:
    before = count_users(engine)
    first = create_user(engine, new_email("first"), PASSWORD)
    second = create_user(engine, new_email("second"), PASSWORD)

    listed = [user.id for user in list_users(engine)]

    assert count_users(engine) == before + 2
    assert listed.index(first.id) < listed.index(second.id)
    assert len(listed) == before + 2


# Sessions


def test_a_session_stores_only_the_sha256_of_its_token_and_lasts_14_days(engine: Engine) -> None:
    user = create_user(engine, new_email(), PASSWORD)

    token, session = start_session(engine, user.id, user_agent="TestBrowser/1.0")

    assert len(token) >= 43
    assert session.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert session.expires_at - session.created_at == SESSION_LIFETIME == timedelta(days=14)
    with engine.connect() as conn:
        row = conn.execute(select(sessions).where(sessions.c.user_id == user.id)).mappings().one()
    assert token not in {str(value) for value in row.values()}
    assert row["token_hash"] == session.token_hash
    assert row["user_agent"] == "TestBrowser/1.0"


def test_a_token_leads_to_its_user_and_nothing_else_does(engine: Engine) -> None:
    user = create_user(engine, new_email(), PASSWORD)
    token, _ = start_session(engine, user.id)

    found = user_for_token(engine, token)

    assert found is not None
    assert found.id == user.id
    assert user_for_token(engine, "") is None
    assert user_for_token(engine, secrets.token_urlsafe(32)) is None
    assert user_for_token(engine, token[:-1]) is None


def test_every_sign_in_gets_its_own_token(engine: Engine) -> None:
    user = create_user(engine, new_email(), PASSWORD)
    assert start_session(engine, user.id)[0] != start_session(engine, user.id)[0]


def test_an_expired_session_no_longer_works_and_is_deleted(engine: Engine) -> None:
    user = create_user(engine, new_email(), PASSWORD)
    started = datetime.now(UTC) - SESSION_LIFETIME - timedelta(seconds=1)
    token, _ = start_session(engine, user.id, now=started)

    assert user_for_token(engine, token, now=started + timedelta(days=13)) is not None
    assert user_for_token(engine, token) is None
    assert get_session(engine, token) is None


def test_starting_a_session_sweeps_that_users_expired_ones(engine: Engine) -> None:
    user = create_user(engine, new_email(), PASSWORD)
    old, _ = start_session(engine, user.id, now=datetime.now(UTC) - timedelta(days=20))

    start_session(engine, user.id)

    assert get_session(engine, old) is None


def test_last_seen_moves_forward_at_most_once_a_minute(engine: Engine) -> None:
    user = create_user(engine, new_email(), PASSWORD)
    started = datetime.now(UTC) - timedelta(minutes=5)
    token, _ = start_session(engine, user.id, now=started)

    user_for_token(engine, token, now=started + timedelta(seconds=30))
    first = get_session(engine, token)
    user_for_token(engine, token, now=started + timedelta(minutes=2))
    second = get_session(engine, token)

    assert first is not None
    assert second is not None
    assert first.last_seen_at == started
    assert second.last_seen_at == started + timedelta(minutes=2)
    assert second.expires_at == started + SESSION_LIFETIME


def test_ending_a_session_signs_out_only_that_browser(engine: Engine) -> None:
    user = create_user(engine, new_email(), PASSWORD)
    token, _ = start_session(engine, user.id)
    other, _ = start_session(engine, user.id)

    assert end_session(engine, token)

    assert user_for_token(engine, token) is None
    assert user_for_token(engine, other) is not None
    assert not end_session(engine, token)


def test_a_password_reset_ends_that_users_sessions_and_leaves_other_users_signed_in(
    engine: Engine,
) -> None:
    user = create_user(engine, new_email(), PASSWORD)
    bystander = create_user(engine, new_email("bystander"), PASSWORD)
    tokens = [start_session(engine, user.id)[0] for _ in range(3)]
    kept, _ = start_session(engine, bystander.id)

    assert set_password(engine, user.id, "a brand new password")

    assert all(user_for_token(engine, token) is None for token in tokens)
    assert user_for_token(engine, kept) is not None


def test_deleting_a_user_deletes_their_sessions(engine: Engine) -> None:
    user = create_user(engine, new_email(), PASSWORD)
    token, _ = start_session(engine, user.id)

    with engine.begin() as conn:
        conn.execute(delete(users).where(users.c.id == user.id))

    assert get_session(engine, token) is None


# The sign-in rate limit (counted in the store; over HTTP in tests/security/test_sign_in.py)

ADDRESS = "198.51.100.7"


def test_ten_attempts_per_email_and_address_then_that_address_is_refused_for_that_email(
    engine: Engine,
) -> None:
    email = new_email()
    for _ in range(10):
        reserve(engine, email, ADDRESS)

    with pytest.raises(TooManyAttempts, match="Too many failed sign-in attempts") as refused:
        reserve(engine, email, ADDRESS)
    assert refused.value.limit == "email_and_ip"
    with pytest.raises(TooManyAttempts):
        reserve(engine, email.upper(), ADDRESS)
    # The same email from another address, and another email from this one, still go.
    reserve(engine, email, "198.51.100.8")
    reserve(engine, new_email(), ADDRESS)


def test_thirty_attempts_per_address_across_emails_then_it_is_refused(engine: Engine) -> None:
    address = f"203.0.113.{secrets.randbelow(250)}"
    for _ in range(30):
        reserve(engine, new_email(), address)

    with pytest.raises(TooManyAttempts, match="from your network") as refused:
        reserve(engine, new_email(), address)
    assert refused.value.limit == "ip"
    reserve(engine, new_email(), "192.0.2.1")


def test_a_refused_attempt_is_not_counted(engine: Engine) -> None:
    address, hammered, other = "198.51.100.99", new_email("hammered"), new_email("other")
    for _ in range(10):
        reserve(engine, hammered, address)
    # Refused for the email: the address's budget (30) is not used up by these.
    for _ in range(5):
        with pytest.raises(TooManyAttempts):
            reserve(engine, hammered, address)
    for _ in range(19):
        reserve(engine, new_email(), address)
    last = reserve(engine, new_email(), address)
    # Refused for the address: nor is the email's budget (10) used up by these.
    for _ in range(10):
        with pytest.raises(TooManyAttempts, match="from your network"):
            reserve(engine, other, address)

    succeeded(engine, last)  # gives the address one attempt back

    reserve(engine, other, address)


def test_ipv6_addresses_are_counted_per_64(engine: Engine) -> None:
    email = new_email()
    for n in range(10):
        reserve(engine, email, f"2001:db8:1:2::{n + 1:x}")

    with pytest.raises(TooManyAttempts):
        reserve(engine, email, "2001:db8:1:2:ffff::1")
    reserve(engine, email, "2001:db8:1:3::1")


def test_concurrent_attempts_never_pass_the_limit(engine: Engine) -> None:
    email = new_email()
    barrier = threading.Barrier(20)

    def attempt() -> bool:
        barrier.wait()
        try:
            reserve(engine, email, ADDRESS)
        except TooManyAttempts:
            return False
        return True

    with ThreadPoolExecutor(20) as pool:
        passed = list(pool.map(lambda _: attempt(), range(20)))

    assert passed.count(True) == 10


def test_a_success_clears_the_email_and_address_and_gives_the_address_its_attempt_back(
    engine: Engine,
) -> None:
    email, address = new_email(), "198.51.100.42"
    for _ in range(9):
        reserve(engine, email, address)
    succeeded(engine, reserve(engine, email, address))

    for _ in range(10):
        reserve(engine, email, address)
    with pytest.raises(TooManyAttempts):
        reserve(engine, email, address)
    # 30 for the address: 9 + 10 failures and one success given back leave 11.
    for _ in range(11):
        reserve(engine, new_email(), address)
    with pytest.raises(TooManyAttempts):
        reserve(engine, new_email(), address)


def test_windows_last_15_minutes_and_finished_ones_are_deleted(engine: Engine) -> None:
    email, address = new_email(), "198.51.100.15"
    now = datetime.now(UTC)
    for _ in range(10):
        reserve(engine, email, address, now=now - timedelta(minutes=16))
    with pytest.raises(TooManyAttempts):
        reserve(engine, email, address, now=now - timedelta(minutes=16))

    reserve(engine, email, address, now=now)
    assert delete_finished_windows(engine, now=now) >= 2
    with engine.connect() as conn:
        windows = set(conn.execute(select(sign_in_limits.c.window_start)).scalars())
    assert {as_utc(w) for w in windows} == {window_start(now)}
