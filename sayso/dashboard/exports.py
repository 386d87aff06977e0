"""Export the inbox's current view (its URL filters) as CSV or JSON.

Every member may export what they can read, and every export is written to the
audit log with its filters: exports are how data leaves Sayso (a HEAD reads and
records nothing). The file is
streamed in keyset batches, so a million rows never sit in memory at once.
CSV cells are made formula-safe by ``sayso.export``.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import HttpMethod, Response
from litestar.di import NamedDependency
from litestar.response import Stream
from sqlalchemy import Engine
from sqlalchemy.engine import RowMapping

from sayso.dashboard.access import Access, AnyRequest, page_context, runtime_of
from sayso.dashboard.inbox_query import parse, query_pairs
from sayso.dashboard.pages import get_or_head, render
from sayso.export import FIELDS, as_record, csv_row, csv_writer
from sayso.store import audit, feedback_search
from sayso.store.feedback_search import Filters

BATCH = 1_000
FORMATS = {"csv": "text/csv", "json": "application/json"}  # Litestar adds the charset


async def _batches(
    engine: Engine, client_id: str, filters: Filters
) -> AsyncIterator[Sequence[RowMapping]]:
    before: str | None = None
    while True:
        page = await asyncio.to_thread(
            feedback_search.find, engine, client_id, filters, before=before, limit=BATCH
        )
        if page.rows:
            yield page.rows
        if page.older is None:
            return
        before = page.older


async def _csv(batches: AsyncIterator[Sequence[RowMapping]]) -> AsyncIterator[bytes]:
    # A byte-order mark so spreadsheet programs read the file as UTF-8.
    head = io.StringIO()
    csv_writer(head).writerow(FIELDS)
    yield ("\ufeff" + head.getvalue()).encode()
    async for rows in batches:
        out = io.StringIO()
        writer = csv_writer(out)
        for row in rows:
            writer.writerow(csv_row(row))
        yield out.getvalue().encode()


async def _json(batches: AsyncIterator[Sequence[RowMapping]]) -> AsyncIterator[bytes]:
    encoder = msgspec.json.Encoder()
    first = True
    yield b"["
    async for rows in batches:
        for row in rows:
            yield (b"\n" if first else b",\n") + encoder.encode(as_record(row))
            first = False
    yield b"\n]\n"


@get_or_head("/projects/{client_id:str}/export")
async def export_feedback(request: AnyRequest, access: NamedDependency[Access]) -> Response[Any]:
    client_id = access.client.id
    fmt = request.query_params.get("format", "")
    if fmt not in FORMATS:
        return render(
            "triage_error.html",
            status_code=400,
            error="Choose CSV or JSON.",
            back=f"/projects/{client_id}/inbox",
            **page_context(access),
        )
    parsed = parse({k: list(request.query_params.getall(k)) for k in request.query_params})
    engine = runtime_of(request).engine
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    headers = {
        "content-disposition": f'attachment; filename="sayso-{client_id}-{stamp}.{fmt}"',
        "cache-control": "no-store",
    }
    if request.method == HttpMethod.HEAD:
        # The headers only: no data leaves, so nothing is read or audited.
        return Stream((), media_type=FORMATS[fmt], headers=headers)
    await asyncio.to_thread(
        audit.record,
        engine,
        access.user.id,
        client_id,
        "feedback_exported",
        # Pairs, not a dict: rating, has and status repeat.
        {"format": fmt, "filters": [list(pair) for pair in query_pairs(parsed.filters)]},
    )
    body = _batches(engine, client_id, parsed.filters)
    return Stream(
        _csv(body) if fmt == "csv" else _json(body), media_type=FORMATS[fmt], headers=headers
    )


ROUTES = [export_feedback]
