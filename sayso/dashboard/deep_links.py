"""Where sign-in leads: back to the page that asked for it.

A signed-out visit to a dashboard page is sent to ``/login?next=<that page>``
and, once signed in, lands there. ``next`` comes from the visitor's URL, so it
is an open-redirect vector unless it can only name a page of this dashboard: a
path starting with one ``/`` (not ``//`` or ``/\\``, which browsers read as
another host), printable ASCII only (no scheme can hide in it, no header can be
split by it), bounded in length.
"""

from __future__ import annotations

import re
from urllib.parse import quote

MAX_NEXT = 2_000
# One slash, then no slash or backslash; every character a visible ASCII one.
_SAFE = re.compile(r"/(?![/\\])[\x21-\x7e]*")


def safe_next(value: str | None) -> str | None:
    """``value`` if it names a page of this dashboard, else None."""
    if not value or len(value) > MAX_NEXT or not _SAFE.fullmatch(value):
        return None
    if "\\" in value:
        return None
    return value


def login_url(path: str, query: str) -> str:
    """The sign-in page that leads back to ``path?query`` (or to / for the home page)."""
    target = f"{path}?{query}" if query else path
    if target == "/" or safe_next(target) is None:
        return "/login"
    return "/login?next=" + quote(target, safe="")
