"""Identifiers handed out to the outside world.

Client ids are pure randomness (they are public, but must not be guessable in
sequence). Feedback ids are ULID-shaped: a millisecond timestamp followed by 80
random bits, in lowercase Crockford base32, so they sort by creation time —
which keyset pagination relies on — and reveal nothing else.
"""

from __future__ import annotations

import secrets
import string
import time

_ALNUM = string.ascii_letters + string.digits
_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def new_client_id() -> str:
    """``client_`` + 22 random alphanumerics (about 131 bits)."""
    return "client_" + "".join(secrets.choice(_ALNUM) for _ in range(22))


def _base32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(_CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_sortable_id(now_ms: int | None = None) -> str:
    """26 characters: 10 for the millisecond timestamp, 16 for 80 random bits."""
    if now_ms is None:
        now_ms = time.time_ns() // 1_000_000
    return _base32(now_ms, 10) + _base32(secrets.randbits(80), 16)
