"""The audit log in words: each entry as a sentence a teammate reads at a glance.

"renamed the project from Shop to Store", "exported the inbox (CSV) filtered by
rating 1 and status new", "deleted 3 feedback items". The actor is shown
beside it; an action this module doesn't know yet still reads as words, with
its details listed plainly, never as a Python repr.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sayso.store.audit import Entry

_FILTER_NAMES = {
    "env": "environment",
    "has": "has",
    "from": "from",
    "to": "to",
    "q": "search",
    "person": "person",
    "page": "page",
    "meta": "metadata",
}


def _plural(n: Any, one: str, many: str) -> str:
    count = n if isinstance(n, int) else 0
    return f"{count:,} {one if count == 1 else many}"


def _member(details: dict[str, Any]) -> str:
    return str(details.get("email") or "a member")


def _filters(pairs: Any) -> str:
    if not isinstance(pairs, list) or not pairs:
        return ""
    words = [
        f"{_FILTER_NAMES.get(str(pair[0]), str(pair[0]))} {pair[1]}"
        for pair in pairs
        if isinstance(pair, list | tuple) and len(pair) == 2
    ]
    return " filtered by " + " and ".join(words) if words else ""


def _allowlist(d: dict[str, Any]) -> str:
    change, origin = d.get("change"), d.get("origin")
    if change == "add_origin" and origin:
        return f"allowed {origin} to send feedback"
    if change == "remove_origin" and origin:
        return f"stopped allowing {origin}"
    return "let any website send feedback (cleared the allowlist)"


_SENTENCES: dict[str, Callable[[dict[str, Any]], str]] = {
    "project_created": lambda d: "created the project",
    "project_renamed": lambda d: f"renamed the project from {d.get('old')} to {d.get('new')}",
    "project_deleted": lambda d: f"deleted the project {d.get('name')}",
    "allowlist_changed": _allowlist,
    "screenshots_privacy_changed": lambda d: (
        "made screenshots private (members only)"
        if d.get("private")
        else "made screenshot links public"
    ),
    "replay_retention_changed": lambda d: (
        f"set session replays to be kept {_plural(d.get('days'), 'day', 'days')}"
    ),
    "member_added": lambda d: f"added {_member(d)} as {d.get('role')}",
    "member_role_changed": lambda d: f"made {_member(d)} {d.get('new')} (was {d.get('old')})",
    "member_removed": lambda d: f"removed {_member(d)} ({d.get('role')})",
    "feedback_deleted": lambda d: (
        f"deleted {_plural(d.get('count'), 'feedback item', 'feedback items')}"
    ),
    "feedback_exported": lambda d: (
        f"exported the inbox ({str(d.get('format', '')).upper()}){_filters(d.get('filters'))}"
    ),
    "test_feedback_sent": lambda d: "sent a test feedback from the Install page",
    "sign_in": lambda d: "signed in",
    "sign_out": lambda d: "signed out",
    "sign_in_failed": lambda d: f"failed to sign in as {d.get('email')}",
}


def sentence(entry: Entry) -> str:
    """What ``entry`` records, as words (without who did it)."""
    words = _SENTENCES.get(entry.action)
    if words is not None:
        text = words(entry.details)
    else:
        text = entry.action.replace("_", " ")
        listed = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in entry.details.items())
        if listed:
            text += f" ({listed})"
    if entry.count > 1:
        text += f", {entry.count:,} times"
    return text
