"""Session replays: sessions, their chunks, reading the events back, and clean-up.

The ingest API (``sayso.ingest.replay``) writes through the group-commit
writer: its rows as inserts, and ``reopen_session`` and ``finalise_session``
as functions the writer runs in its transaction (they take its connection).
Everything here is synchronous and meant for a thread (or the CLI).
The dashboard's player reads a session with ``get_session`` and its events
with ``iter_events_json``; what its pages list and mark (sessions, linked
feedback, gaps) is in ``replay_views``.

A chunk's events are stored gzip-compressed in the blob store, exactly one
JSON array per blob (checked at ingest), so the events of a whole session are
produced by stripping each array's brackets and joining the insides with
commas: the chunk rows are read a page at a time and each blob is inflated a
piece at a time, so memory stays flat however long the session or large the
chunk. Each upload attempt writes its own blob (``chunk_blob_key``); the row
that commits names the one that counts, and the others are deleted.
"""

from __future__ import annotations

import logging
import secrets
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    Connection,
    DateTime,
    Engine,
    Row,
    bindparam,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)

from sayso.store.blobs import BlobStore
from sayso.store.database import as_utc
from sayso.store.schema import clients, replay_chunks, replay_sessions

log = logging.getLogger(__name__)

BLOB_PREFIX = "replays"
CLOSED_FINALISED = "finalised"
FINALISE_GRACE = timedelta(seconds=30)
CLOSED_IDLE = "idle"
_JSON_SPACE = b" \t\r\n"
CHUNK_PAGE = 100  # chunk rows read per query while streaming a session's events
INFLATE_PIECE = 256 * 1024  # bytes of JSON inflated (and sent) at a time


def session_blob_folder(client_id: str, session_id: str) -> str:
    """Where a session's chunk blobs live: ``replays/<client>/<session>``."""
    return f"{BLOB_PREFIX}/{client_id}/{session_id}"


def chunk_blob_key(client_id: str, session_id: str, seq: int) -> str:
    """A new blob key for one upload attempt of chunk ``seq``: the seq, then a
    random part. Two attempts racing on one seq never write the same blob, so
    the row that wins always names the bytes it was stored with. (Chunks
    stored before this named their blob by the seq alone.)"""
    return f"{session_blob_folder(client_id, session_id)}/{seq}-{secrets.token_hex(8)}"


@dataclass(frozen=True, slots=True)
class ReplaySession:
    """A session row plus what its chunks add up to."""

    id: str
    client_id: str
    sdk_session_id: str
    anonymous_id: str | None
    user_email: str | None
    start_url: str | None
    user_agent: str | None
    started_at: datetime | None  # the browser's clock
    resumed_at: datetime | None  # the latest restart's startedAt (a reload), same clock
    created_at: datetime  # the server's clock, like everything below
    ended_at: datetime | None
    closed_at: datetime | None
    closed_reason: str | None  # "finalised", "idle", or None while open
    chunk_count: int
    compressed_bytes: int
    event_count: int
    duration_ms: int  # the sum of the chunks' durations
    dropped_chunks: int  # chunks the SDK reported lost, over the whole session
    last_chunk_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


@dataclass(frozen=True, slots=True)
class ChunkTarget:
    """What the chunk endpoint must know about a session before storing a chunk."""

    client_id: str
    closed: bool
    has_chunk: bool  # this seq is already stored


_c = replay_chunks.c
_s = replay_sessions.c
_SESSION_WITH_TOTALS = (
    select(
        replay_sessions,
        func.count(_c.seq).label("chunk_count"),
        func.coalesce(func.sum(_c.compressed_bytes), 0).label("total_bytes"),
        func.coalesce(func.sum(_c.event_count), 0).label("total_events"),
        func.coalesce(func.sum(_c.duration_ms), 0).label("total_duration_ms"),
        func.coalesce(func.sum(_c.dropped_before), 0).label("total_dropped"),
        func.max(_c.created_at).label("last_chunk_at"),
    )
    .select_from(replay_sessions.outerjoin(replay_chunks, _c.session_id == _s.id))
    .group_by(*replay_sessions.columns)
)


def _session(row: Row[tuple[object, ...]]) -> ReplaySession:
    m = row._mapping
    return ReplaySession(
        id=m["id"],
        client_id=m["client_id"],
        sdk_session_id=m["sdk_session_id"],
        anonymous_id=m["anonymous_id"],
        user_email=m["user_email"],
        start_url=m["start_url"],
        user_agent=m["user_agent"],
        started_at=as_utc(m["started_at"]),
        resumed_at=as_utc(m["resumed_at"]),
        created_at=as_utc(m["created_at"]),
        ended_at=as_utc(m["ended_at"]),
        closed_at=as_utc(m["closed_at"]),
        closed_reason=m["closed_reason"],
        chunk_count=int(m["chunk_count"]),
        compressed_bytes=int(m["total_bytes"]),
        event_count=int(m["total_events"]),
        duration_ms=int(m["total_duration_ms"]),
        dropped_chunks=int(m["total_dropped"]),
        last_chunk_at=as_utc(m["last_chunk_at"]),
    )


# --- reads -------------------------------------------------------------------


def get_session(engine: Engine, session_id: str) -> ReplaySession | None:
    with engine.connect() as conn:
        row = conn.execute(_SESSION_WITH_TOTALS.where(_s.id == session_id)).first()
    return _session(row) if row else None


def iter_events_json(engine: Engine, blobs: BlobStore, session_id: str) -> Iterator[bytes]:
    """The session's events as one JSON array, in seq order, in pieces.

    Joining the pieces gives valid JSON (``[]`` for a session without chunks).
    At most ``CHUNK_PAGE`` chunk rows, one compressed blob and one
    ``INFLATE_PIECE`` of its JSON are held at a time, whatever the session's
    length or its chunks' size. A chunk whose blob has gone missing is
    skipped (and logged) rather than failing the whole session.
    """
    yield b"["
    first = True
    for key in _chunk_blob_keys(engine, session_id):
        data = blobs.get(key)
        if data is None:
            log.warning("replay chunk blob %s is missing; skipped", key)
            continue
        items = array_items(inflated(data))
        head = next(items, None)
        if head is None:  # an empty array
            continue
        if not first:
            yield b","
        first = False
        yield head
        yield from items
    yield b"]"


def _chunk_blob_keys(engine: Engine, session_id: str) -> Iterator[str]:
    """The session's chunk blobs in seq order, read a page of rows at a time."""
    after = -1
    while True:
        query = (
            select(_c.seq, _c.blob_key)
            .where(_c.session_id == session_id, _c.seq > after)
            .order_by(_c.seq)
            .limit(CHUNK_PAGE)
        )
        with engine.connect() as conn:
            page = conn.execute(query).all()
        for _, key in page:
            yield key
        if len(page) < CHUNK_PAGE:
            return
        after = page[-1][0]


def inflated(data: bytes, piece: int = INFLATE_PIECE) -> Iterator[bytes]:
    """A stored chunk's JSON, ``piece`` bytes at a time (stored chunks are gzip,
    size-checked at ingest)."""
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    pending = data
    while not inflater.eof:
        out = inflater.decompress(pending, piece)
        pending = inflater.unconsumed_tail
        if out:
            yield out
        elif not pending:
            break
    if rest := inflater.flush():
        yield rest


def array_items(pieces: Iterable[bytes]) -> Iterator[bytes]:
    """The inside of a JSON array's text, given in pieces, without its brackets:
    ``[b"[1, ", b"2]"]`` → ``b"1, "``, ``b"2"``. Nothing at all for an empty array.

    Only the last piece with text in it, and whitespace after it, is held
    back (to find the closing bracket): one piece, for JSON as browsers write
    it; never more than the chunk, however it is padded.
    """
    stream = iter(pieces)
    text = b""
    for piece in stream:  # up to the opening bracket
        text = piece.lstrip(_JSON_SPACE)
        if text:
            break
    text = text[1:].lstrip(_JSON_SPACE)
    while not text:  # up to the first item, or the closing bracket
        more = next(stream, None)
        if more is None:
            return
        text = more.lstrip(_JSON_SPACE)
    if text.startswith(b"]"):
        return
    held = text
    for piece in stream:
        # JSON text has no other whitespace outside strings, nor control
        # characters inside them, so isspace() is the JSON whitespace test here.
        if piece.isspace():
            held += piece
        else:
            yield held
            held = piece
    if tail := held.rstrip(_JSON_SPACE)[:-1].rstrip(_JSON_SPACE):
        yield tail


# --- the ingest path's helpers -------------------------------------------------


def find_session_id(engine: Engine, client_id: str, sdk_session_id: str) -> str | None:
    query = select(_s.id).where(_s.client_id == client_id, _s.sdk_session_id == sdk_session_id)
    with engine.connect() as conn:
        return conn.execute(query).scalar()


def _latest_start() -> ColumnElement[datetime]:
    """When the latest (re)start began, on the browser's clock."""
    return func.coalesce(_s.resumed_at, _s.started_at)


def reopen_session(conn: Connection, session_id: str, started_at: datetime | None = None) -> None:
    """A reload in the same tab starts the same session again: if the previous
    page finalised it (pagehide), it takes chunks again.

    The new page's ``startedAt`` is kept as ``resumed_at`` (only ever moving
    forward), so the previous page's finalise beacon, if it arrives after
    this, is recognised as stale by ``finalise_session`` and ignored.
    Runs in the caller's transaction (the writer's, on the ingest path).
    """
    if started_at is not None:
        new = bindparam("resumed", started_at, type_=DateTime(timezone=True))
        latest = _latest_start()
        conn.execute(
            update(replay_sessions)
            .where(_s.id == session_id, or_(latest.is_(None), latest < new))
            .values(resumed_at=new)
        )
    conn.execute(
        update(replay_sessions)
        .where(_s.id == session_id, _s.closed_at.is_not(None))
        .values(closed_at=None, closed_reason=None, ended_at=None)
    )


def stored_chunk_blob(engine: Engine, session_id: str, seq: int) -> str | None:
    """The blob key of the stored chunk ``seq``, or None if that seq is not stored."""
    query = select(_c.blob_key).where(_c.session_id == session_id, _c.seq == seq)
    with engine.connect() as conn:
        return conn.execute(query).scalar()


def chunk_target(
    engine: Engine, session_id: str, seq: int, *, now: datetime | None = None
) -> ChunkTarget | None:
    """The session's client and state, and whether ``seq`` is stored; None if no session.

    A session finalised less than ``FINALISE_GRACE`` ago still takes chunks:
    the finalise beacon needs no CORS preflight and a chunk PUT does, so on a
    slow network the page's last chunk can arrive just after its own finalise.
    """
    stored = exists().where(_c.session_id == session_id, _c.seq == seq)
    query = select(_s.client_id, _s.closed_at, _s.closed_reason, stored.label("has_chunk")).where(
        _s.id == session_id
    )
    with engine.connect() as conn:
        row = conn.execute(query).first()
    if row is None:
        return None
    client_id, closed_at, reason, has_chunk = row
    closed_at = as_utc(closed_at)
    closed = closed_at is not None
    if closed_at is not None and reason == CLOSED_FINALISED:
        closed = closed_at < (now or datetime.now(UTC)) - FINALISE_GRACE
    return ChunkTarget(client_id=client_id, closed=closed, has_chunk=bool(has_chunk))


def session_client(engine: Engine, session_id: str) -> str | None:
    with engine.connect() as conn:
        return conn.execute(select(_s.client_id).where(_s.id == session_id)).scalar()


def finalise_session(
    conn: Connection, session_id: str, ended_at: datetime | None, *, now: datetime | None = None
) -> bool:
    """Close an open session; False if it was closed already (finalise is idempotent)
    or the finalise is stale.

    Stale: its ``ended_at`` is earlier than the latest (re)start's ``startedAt``
    — the beacon of the page before a reload, arriving after the new page
    resumed the session. Both times come from the same browser's clock, so the
    comparison is sound; without ``ended_at`` there is nothing to compare and
    the session is closed as before. Runs in the caller's transaction (the
    writer's, on the ingest path).
    """
    now = now or datetime.now(UTC)
    conditions = [_s.id == session_id, _s.closed_at.is_(None)]
    if ended_at is not None:
        latest = _latest_start()
        conditions.append(or_(latest.is_(None), latest <= ended_at))
    closed = conn.execute(
        update(replay_sessions)
        .where(*conditions)
        .values(closed_at=now, closed_reason=CLOSED_FINALISED, ended_at=ended_at or now)
    ).rowcount
    return bool(closed)


# --- clean-up ------------------------------------------------------------------


def close_idle_sessions(engine: Engine, idle: timedelta, *, now: datetime | None = None) -> int:
    """Close open sessions with no chunk (and no start) for ``idle``; returns how many.

    Their end is the last chunk's arrival, or the start when none came. A
    chunk racing the close may still land; it is kept, nothing is lost.
    """
    now = now or datetime.now(UTC)
    cutoff = now - idle
    recent_chunk = exists().where(_c.session_id == _s.id, _c.created_at >= cutoff)
    last_chunk = select(func.max(_c.created_at)).where(_c.session_id == _s.id).scalar_subquery()
    with engine.begin() as conn:
        closed = conn.execute(
            update(replay_sessions)
            .where(_s.closed_at.is_(None), _s.created_at < cutoff, ~recent_chunk)
            .values(
                closed_at=now,
                closed_reason=CLOSED_IDLE,
                ended_at=func.coalesce(last_chunk, _s.created_at),
            )
            .execution_options(synchronize_session=False)
        ).rowcount
    return int(closed)


def delete_expired_sessions(
    engine: Engine, blobs: BlobStore, *, now: datetime | None = None
) -> int:
    """Delete sessions older than their client's retention, then their blobs.

    Like screenshots, a blob goes only after the rows pointing at it are
    gone. The session row is locked first, so on PostgreSQL a chunk being
    stored at that moment waits on its foreign key and then fails (its
    handler removes the blob it wrote); SQLite writers are serial anyway.
    On local disk the session's folder goes with its last blob.
    """
    now = now or datetime.now(UTC)
    with engine.connect() as conn:
        retention = conn.execute(select(clients.c.id, clients.c.replay_retention_days)).all()
        expired: list[str] = []
        for client_id, days in retention:
            cutoff = now - timedelta(days=days)
            expired += conn.execute(
                select(_s.id).where(_s.client_id == client_id, _s.created_at < cutoff)
            ).scalars()
    deleted = 0
    for session_id in expired:
        with engine.begin() as conn:
            conn.execute(select(_s.id).where(_s.id == session_id).with_for_update())
            keys = list(
                conn.execute(
                    delete(replay_chunks).where(_c.session_id == session_id).returning(_c.blob_key)
                ).scalars()
            )
            gone = conn.execute(delete(replay_sessions).where(_s.id == session_id)).rowcount
        delete_blobs(blobs, keys)
        deleted += gone
    return deleted


def delete_blobs(blobs: BlobStore, keys: list[str]) -> None:
    for key in keys:
        try:
            blobs.delete(key)
        except Exception:
            # The rows are gone; an orphaned blob wastes space but breaks nothing.
            log.exception("could not delete blob %s; its row is gone", key)
