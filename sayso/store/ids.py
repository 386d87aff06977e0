"""Identifiers handed out to the outside world.

Client ids are pure randomness (they are public, but must not be guessable in
sequence). Feedback ids are ULID-like: a millisecond timestamp followed by 80
random bits, in lowercase Crockford base32, so they sort by creation time —
which keyset pagination relies on — and reveal nothing else.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import string
import threading
import time

_ALNUM = string.ascii_letters + string.digits
# base64.b32encode (in C) uses A-Z2-7; map each symbol to the Crockford symbol of
# the same 5-bit value so that string order is numeric order.
_TO_CROCKFORD = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", b"0123456789abcdefghjkmnpqrstvwxyz"
)


# getrandom() is a syscall that releases and re-takes the GIL, which under load
# costs far more than the bytes; draw it 4 KB at a time instead. Forked children
# drop the pool so no two processes ever hand out the same bytes.
_pool = bytearray()
_pool_lock = threading.Lock()
os.register_at_fork(after_in_child=_pool.clear)


def random_bytes(n: int) -> bytes:
    """``n`` bytes from the OS CSPRNG, served from a small buffer."""
    with _pool_lock:
        if len(_pool) < n:
            _pool.extend(os.urandom(4096))
        chunk = bytes(_pool[:n])
        del _pool[:n]
    return chunk


def new_client_id() -> str:
    """``client_`` + 22 random alphanumerics (about 131 bits)."""
    return "client_" + "".join(secrets.choice(_ALNUM) for _ in range(22))


def new_sortable_id(now_ms: int | None = None) -> str:
    """26 characters: a 48-bit millisecond timestamp, then 80 random bits."""
    if now_ms is None:
        now_ms = time.time_ns() // 1_000_000
    raw = now_ms.to_bytes(6, "big") + random_bytes(10)  # 128 bits
    return base64.b32encode(raw)[:26].translate(_TO_CROCKFORD).decode()


_SORTABLE_ID = re.compile(r"[0-9a-z]{26}")


def possible_sortable_id(value: str) -> bool:
    """Whether ``value`` has the shape ``new_sortable_id`` gives (checked before any query)."""
    return _SORTABLE_ID.fullmatch(value) is not None
