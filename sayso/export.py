"""Feedback as JSON Lines or CSV, with the public API's field names.

Used by ``sayso feedback export`` and the dashboard's export links.
CSV cells that a spreadsheet could run as a formula are prefixed with ``'``
(OWASP's CSV injection rule): a visitor's comment must never become code on a
teammate's machine. A cell is neutralised when, after any leading whitespace
or control characters, its first character is one of ``= + - @ |`` or ``%``
— in ASCII or in any form that Unicode compatibility folding turns into one
(fullwidth U+FF1D, small U+FE66 …), since spreadsheets and their input methods
fold those too — or when it starts with a tab, carriage return or line feed.
Every cell is quoted, so a separator or quote inside a value can't start a
new cell either.
"""

from __future__ import annotations

import csv
import unicodedata
from collections.abc import Iterable
from datetime import UTC
from typing import IO, Any

import msgspec
from sqlalchemy import RowMapping

from sayso.store.database import as_utc

# API name -> column, in export order.
FIELDS: dict[str, str] = {
    "id": "id",
    "createdAt": "created_at",
    "clientId": "client_id",
    "rating": "rating",
    "comment": "comment",
    "userEmail": "user_email",
    "pageUrl": "page_url",
    "pageTitle": "page_title",
    "referrer": "referrer",
    "environment": "environment",
    "screenshots": "screenshots",
    "metadata": "metadata",
    "sessionReplayId": "session_replay_id",
    "replayOffsetMs": "replay_offset_ms",
    "origin": "origin",
    "userAgent": "user_agent",
    "status": "status",
}
# What a spreadsheet may treat as the start of a formula or a DDE call.
_FORMULA_START = frozenset("=+-@|%")
_CONTROL_START = ("\t", "\r", "\n")


# Whitespace, control and invisible format characters a formula may hide behind
# (spreadsheets skip leading blanks, ASCII or not, before looking for "=").
_SKIPPABLE = "".join(
    chr(c)
    for c in range(0x10000)
    if chr(c).isspace() or unicodedata.category(chr(c)) in ("Cc", "Cf")
)


def is_formula(text: str) -> bool:
    """Whether a spreadsheet opening ``text`` as a cell could evaluate it."""
    if text.startswith(_CONTROL_START):
        return True
    stripped = text.lstrip(_SKIPPABLE)
    return bool(stripped) and unicodedata.normalize("NFKC", stripped[0])[:1] in _FORMULA_START


def csv_writer(out: IO[str]) -> Any:
    """A CSV writer that quotes every cell (with ``csv_row``'s neutralised values)."""
    return csv.writer(out, quoting=csv.QUOTE_ALL)


def as_record(row: RowMapping) -> dict[str, Any]:
    record = {name: row[column] for name, column in FIELDS.items()}
    created = as_utc(record["createdAt"]).astimezone(UTC)
    record["createdAt"] = created.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return record


def write_jsonl(rows: Iterable[RowMapping], out: IO[bytes]) -> int:
    encoder = msgspec.json.Encoder()
    count = 0
    for row in rows:
        out.write(encoder.encode(as_record(row)) + b"\n")
        count += 1
    return count


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = msgspec.json.encode(value).decode()
    text = str(value)
    return "'" + text if is_formula(text) else text


def csv_row(row: RowMapping) -> list[str]:
    return [_csv_cell(v) for v in as_record(row).values()]


def write_csv(rows: Iterable[RowMapping], out: IO[str]) -> int:
    writer = csv_writer(out)
    writer.writerow(FIELDS)
    count = 0
    for row in rows:
        writer.writerow(csv_row(row))
        count += 1
    return count
