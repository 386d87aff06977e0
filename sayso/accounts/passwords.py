"""Password rules and hashing (argon2id through argon2-cffi).

Parameters: OWASP's argon2id recommendation ``m=19 MiB, t=2, p=1``, which
OWASP rates as strong as its alternative ``m=46 MiB, t=1, p=1`` for less than
half the memory. ``p=1`` keeps one hash on one core: hashes run one at a time
in their own thread (``accounts/hashing.py``), so a sign-in flood costs at
most one core and ~19 MiB per process, and the public API keeps the other
cores. argon2-cffi's defaults (``m=64 MiB, t=3, p=4``), used before, cost four
threads and 64 MiB per hash.

Measured on the 2-core test machine (median of 15 verifications, while
other work kept both cores busy): ~35 ms a hash with these parameters (fastest
30 ms); ``m=46 MiB, t=1``: ~79 ms; the old defaults: ~180 ms (~250 ms of CPU).

A hash made with other parameters still verifies; ``needs_rehash`` tells the
sign-in code to store a fresh one with these, on the next successful sign-in.
"""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
# Argon2 accepts any length, but hashing megabytes on request is a cheap way
# to burn a server's CPU.
MAX_LENGTH = 1_024

MEMORY_KIB = 19 * 1024
TIME_COST = 2
PARALLELISM = 1

_hasher = PasswordHasher(
    time_cost=TIME_COST, memory_cost=MEMORY_KIB, parallelism=PARALLELISM, type=Type.ID
)


class PasswordRejected(ValueError):
    """A new password does not meet the rules; the message says which."""


def check_rules(password: str) -> None:
    """Raise ``PasswordRejected`` unless ``password`` may be set."""
    if len(password) < MIN_LENGTH:
        raise PasswordRejected(f"a password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise PasswordRejected(f"a password has at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    check_rules(password)
    return _hasher.hash(password)


def rehash(password: str) -> str:
    """A fresh hash of a password that just verified, without re-checking the rules.

    Rules apply when a password is set; tightening them later must not stop
    people with older passwords from signing in.
    """
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches; never raises for a wrong or over-long password."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with other parameters (cheap: parses, doesn't hash)."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
