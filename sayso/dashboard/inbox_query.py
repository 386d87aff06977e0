"""The inbox's URL query: read it into ``Filters``, and write filters back into links.

Filters live in the URL so a view can be bookmarked and shared. Anything that
doesn't parse is dropped with a note for the page to show — never an error
page. Empty fields (a GET form submits every input) simply mean "no filter".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

from sayso.store.feedback_search import HAS_KINDS, Filters
from sayso.store.triage import STATUSES, clean_tag

MAX_TEXT = 200
# Metadata keys become part of a JSON path on SQLite; quotes, backslashes and
# control characters would change its meaning, so such keys are refused.
_META_KEY = re.compile(r'[^"\\\x00-\x1f]{1,100}')
_ID = re.compile(r"[0-9a-z]{26}")


# The rollups behind the overview and People count archived feedback too; their
# links into the inbox ask for every status so it lists exactly what was counted.
EVERY_STATUS: list[tuple[str, str]] = [("status", status) for status in STATUSES]


@dataclass(slots=True)
class InboxQuery:
    filters: Filters = field(default_factory=Filters)
    before: str | None = None
    notes: list[str] = field(default_factory=list)


# ``notice=`` value of a bulk action sent with nothing ticked: the triage
# page redirects back to the list with it, and the inbox says so.
NOTHING_SELECTED = "none-selected"


def parse_date(raw: str | None, name: str, notes: list[str]) -> date | None:
    """A date filter; ``None`` (with a note for the page) when absent or not a date.

    The last representable day is refused too: an inclusive "to" becomes "before
    the next day", which doesn't exist.
    """
    if raw is None or not raw.strip():
        return None
    try:
        value = date.fromisoformat(raw.strip())
    except ValueError:
        value = None
    if value is None or value == date.max:
        notes.append(f"Ignored {name}={raw!r}: use a date such as 2026-11-27.")
        return None
    return value


def _text(raw: str, name: str, notes: list[str]) -> str | None:
    value = raw.strip()
    if "\x00" in value:  # neither database can compare text with a NUL in it
        notes.append(f"Ignored {name}: it contains a NUL character.")
        return None
    if len(value) > MAX_TEXT:
        notes.append(f"Ignored {name}: at most {MAX_TEXT} characters.")
        return None
    return value or None


def parse(params: Mapping[str, list[str]]) -> InboxQuery:
    """``params`` maps each query key to all of its values, in order."""
    notes: list[str] = []

    def one(name: str) -> str:
        values = params.get(name) or [""]
        return values[-1]

    env = _text(one("env"), "env", notes)
    ratings: list[int] = []
    for raw in params.get("rating", []):
        if raw.strip() in {"1", "2", "3", "4"}:
            ratings.append(int(raw))
        elif raw.strip():
            notes.append(f"Ignored rating={raw!r}: ratings are 1 to 4.")
    has: list[str] = []
    for raw in params.get("has", []):
        if raw in HAS_KINDS:
            has.append(raw)
        elif raw.strip():
            notes.append(f"Ignored has={raw!r}: use comment, screenshot or replay.")
    start = parse_date(one("from"), "from", notes)
    end = parse_date(one("to"), "to", notes)
    meta: tuple[str, str] | None = None
    raw_meta = one("meta").strip()
    if raw_meta:
        key, sep, value = raw_meta.partition("=")
        if (
            sep
            and "\x00" not in value
            and _META_KEY.fullmatch(key.strip())
            and len(value) <= MAX_TEXT
        ):
            meta = (key.strip(), value.strip())
        else:
            notes.append(f"Ignored meta={raw_meta!r}: use key=value (a top-level key).")
    statuses: list[str] = []
    for raw in params.get("status", []):
        if raw in STATUSES:
            statuses.append(raw)
        elif raw.strip():
            notes.append(f"Ignored status={raw!r}: use new, in_progress, resolved or archived.")
    tag = None
    if one("tag").strip():
        try:
            tag = clean_tag(one("tag"))
        except ValueError as exc:
            notes.append(f"Ignored tag: {exc}")
    before = one("before").strip() or None
    if before is not None and not _ID.fullmatch(before):
        notes.append("Ignored before: not a feedback id.")
        before = None
    filters = Filters(
        environment=env,
        ratings=tuple(sorted(set(ratings))),
        has=tuple(k for k in HAS_KINDS if k in has),
        created_from=datetime.combine(start, time(), UTC) if start else None,
        # "to" is inclusive: everything before the next day starts.
        created_before=datetime.combine(end + timedelta(days=1), time(), UTC) if end else None,
        page=_text(one("page"), "page", notes),
        person=_text(one("person"), "person", notes),
        meta=meta,
        q=_text(one("q"), "q", notes),
        statuses=tuple(k for k in STATUSES if k in statuses),
        tag=tag,
    )
    return InboxQuery(filters, before, notes)


def query_pairs(filters: Filters) -> list[tuple[str, str]]:
    """The filters as URL query pairs (the inverse of ``parse``)."""
    pairs: list[tuple[str, str]] = []
    if filters.environment is not None:
        pairs.append(("env", filters.environment))
    pairs += [("rating", str(r)) for r in filters.ratings]
    pairs += [("has", k) for k in filters.has]
    pairs += [("status", k) for k in filters.statuses]
    if filters.tag:
        pairs.append(("tag", filters.tag))
    if filters.created_from is not None:
        pairs.append(("from", filters.created_from.date().isoformat()))
    if filters.created_before is not None:
        pairs.append(("to", (filters.created_before - timedelta(days=1)).date().isoformat()))
    for name, value in (("page", filters.page), ("person", filters.person), ("q", filters.q)):
        if value:
            pairs.append((name, value))
    if filters.meta is not None:
        pairs.append(("meta", "=".join(filters.meta)))
    return pairs


def href(base: str, filters: Filters, extra: Iterable[tuple[str, str]] = ()) -> str:
    query = urlencode([*query_pairs(filters), *extra])
    return f"{base}?{query}" if query else base


def with_environment(filters: Filters, environment: str | None) -> Filters:
    return replace(filters, environment=environment)
