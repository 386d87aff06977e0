"""Blobs no row points at, found and deleted by the clean-up.

A blob is written before the row that points at it (a row must never name
missing bytes), and its upload deletes it again if the row fails. But a
process killed between the two, or a delete that failed after its rows were
gone, leaves a blob that nothing refers to and nothing would ever delete.
``delete_orphans`` lists the store under each prefix rows point into, a page
at a time, and deletes the blobs no row names — only those older than
``MARGIN``, so an upload between its blob write and its row's commit (a few
seconds at worst) is never mistaken for one. Every node may run it: deletes
are idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice

from sqlalchemy import Connection, Engine, select

from sayso.store.blobs import BlobStore
from sayso.store.replays import BLOB_PREFIX as REPLAYS
from sayso.store.schema import replay_chunks, screenshots

log = logging.getLogger(__name__)

MARGIN = timedelta(hours=1)
BATCH = 500  # keys checked against the database per query

SCREENSHOTS = "screenshots"  # screenshots/<fileName>, as ingest/screenshots.py names them


def _referenced_screenshots(conn: Connection, keys: list[str]) -> set[str]:
    names = [key[len(SCREENSHOTS) + 1 :] for key in keys]
    query = select(screenshots.c.blob_key).where(screenshots.c.file_name.in_(names))
    return set(conn.execute(query).scalars())


def _referenced_chunks(conn: Connection, keys: list[str]) -> set[str]:
    # replays/<client>/<session>/<seq>[-<attempt>]: the session id finds the
    # rows by their primary key. A key of any other shape is left alone.
    sessions = {parts[2] for parts in (key.split("/") for key in keys) if len(parts) == 4}
    query = select(replay_chunks.c.blob_key).where(
        replay_chunks.c.session_id.in_(sessions), replay_chunks.c.blob_key.in_(keys)
    )
    found = set(conn.execute(query).scalars())
    return found | {key for key in keys if key.count("/") != 3}


@dataclass(frozen=True, slots=True)
class _Kind:
    prefix: str
    referenced: Callable[[Connection, list[str]], set[str]]


KINDS = (_Kind(SCREENSHOTS, _referenced_screenshots), _Kind(REPLAYS, _referenced_chunks))


def delete_orphans(
    engine: Engine,
    blobs: BlobStore,
    *,
    margin: timedelta = MARGIN,
    now: datetime | None = None,
) -> int:
    """Delete screenshot and replay-chunk blobs that no row points at, and
    unfinished writes, last written more than ``margin`` ago; returns how many.

    Memory stays flat: keys come from the store a page at a time and are
    checked against the database ``BATCH`` at a time, by primary key.
    """
    cutoff = (now or datetime.now(UTC)) - margin
    deleted = blobs.delete_unfinished(cutoff)
    for kind in KINDS:
        old = (blob.key for blob in blobs.listing(kind.prefix) if blob.modified < cutoff)
        for keys in _batches(old, BATCH):
            with engine.connect() as conn:
                referenced = kind.referenced(conn, keys)
            for key in keys:
                if key not in referenced:
                    deleted += _delete(blobs, key)
    return deleted


def _delete(blobs: BlobStore, key: str) -> int:
    try:
        blobs.delete(key)
    except Exception:
        log.exception("could not delete orphaned blob %s; the next clean-up retries", key)
        return 0
    return 1


def _batches(items: Iterable[str], size: int) -> Iterator[list[str]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
