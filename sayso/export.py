"""Feedback as JSON Lines or CSV, with the public API's field names.

Used by ``sayso feedback export`` and the dashboard's export links.
CSV cells that a spreadsheet would run as a formula (starting with ``=``, ``+``,
``-``, ``@``, tab or carriage return) are prefixed with ``'``: a visitor's
comment must never become code on a teammate's machine.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import UTC
from typing import IO, Any

import msgspec
from sqlalchemy import RowMapping

from sayso.store.clients import as_utc

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
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


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
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def csv_row(row: RowMapping) -> list[str]:
    return [_csv_cell(v) for v in as_record(row).values()]


def write_csv(rows: Iterable[RowMapping], out: IO[str]) -> int:
    writer = csv.writer(out)
    writer.writerow(FIELDS)
    count = 0
    for row in rows:
        writer.writerow(csv_row(row))
        count += 1
    return count
