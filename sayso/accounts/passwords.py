"""Password rules and hashing (argon2id through argon2-cffi).

The hasher's parameters are argon2-cffi's defaults (RFC 9106's "low memory"
profile); when a later version raises them, ``needs_rehash`` tells the sign-in
code to store a fresh hash with the new ones.
"""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
# Argon2 accepts any length, but hashing megabytes on request is a cheap way
# to burn a server's CPU.
MAX_LENGTH = 1_024

_hasher = PasswordHasher(type=Type.ID)


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
    return _hasher.check_needs_rehash(password_hash)
