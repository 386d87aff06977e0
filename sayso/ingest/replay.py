"""Session replay ingestion, as Usero's browser SDK speaks it.

- ``POST /api/replay-sessions``: start (or, after a reload in the same tab,
  resume) a session → ``{"accepted": true, "sessionReplayId": ...}``; bots get
  ``{"accepted": false, "dropReason": "bot"}`` and nothing is stored.
- ``PUT /api/replay-sessions/{id}/chunks/{seq}``: one chunk of rrweb events, a
  JSON array, gzip-compressed or plain. Stored gzip in the blob store, under
  a key of this attempt's own, then its row through the group-commit writer;
  acknowledged only after the commit. The same seq again is a no-op 200 (two
  attempts racing with different bodies: the committed row names the blob
  that was stored with it, and the loser deletes its own), order doesn't
  matter, a closed session is 409 (the SDK then stops). The row keeps the
  events' first and last timestamps, so the player's gap markers never read
  a blob.
- ``POST /api/replay-sessions/{id}/finalise``: close it; idempotent, and read
  whatever the Content-Type (``navigator.sendBeacon``). A finalise whose
  ``endedAt`` is earlier than the latest (re)start's ``startedAt`` is the
  previous page's late beacon after a reload: acknowledged, and ignored.

Size limits come before any work: over 4 MB on the wire is refused before it
is read, and gzip is inflated with a cap, so a bomb costs at most 16 MB of
buffer and a few milliseconds before its 413. Decoding, validation, the
timestamps and the blob write run in a thread, away from the event loop.
"""

from __future__ import annotations

import codecs
import logging
import re
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import msgspec

from sayso.ingest.client_lookup import allowed_client
from sayso.ingest.fields import Body, Text, Timestamp, checked
from sayso.ingest.http import HTTPError, Request, Response
from sayso.ingest.validation import CLIENT_ID
from sayso.origins import Origin
from sayso.store.identities import claim_person
from sayso.store.ids import new_sortable_id, possible_sortable_id
from sayso.store.replays import (
    ChunkTarget,
    chunk_blob_key,
    chunk_target,
    finalise_session,
    find_session_id,
    reopen_session,
    session_client,
    stored_chunk_blob,
)
from sayso.store.schema import replay_chunks, replay_sessions

if TYPE_CHECKING:
    from sayso.runtime import Runtime

log = logging.getLogger(__name__)

PREFIX = "/api/replay-sessions/"
MAX_CHUNK_BYTES = 4 * 1024 * 1024  # compressed, as sent (the SDK drops bigger chunks itself)
MAX_INFLATED_BYTES = 16 * 1024 * 1024
MAX_CONTROL_BODY = 64 * 1024  # start and finalise: a few short fields
# Bounds the rows one session can hold (its pages read them all): at the SDK's
# one chunk every 3 s, 100,001 chunks are over 3 days of uninterrupted activity.
MAX_SEQ = 100_000
MAX_COUNT = 1_000_000_000
MAX_SDK_ID = 128
MAX_START_URL = 8_192
MAX_USER_AGENT = 1_000
GZIP_LEVEL = 6  # for chunks sent plain: the usual speed/size trade-off

_CHUNK_PATH = re.compile(r"([^/]+)/chunks/([^/]+)")
_FINALISE_PATH = re.compile(r"([^/]+)/finalise")

# Crawlers, link-preview fetchers and headless browsers. HeadlessChrome counts:
# no person browses with it, and scrapers and monitors that do would fill the
# store with recordings nobody wants. (Sayso's own browser tests therefore give
# Chromium an ordinary user agent.) "bot" must end a word, so phone models like
# "Cubot_X19" are not bots; "Cubot " itself is excepted.
_BOT = re.compile(
    r"(?<!cu)bot\b|crawl|spider|slurp|mediapartners|headlesschrome|phantomjs|"
    r"lighthouse|pagespeed|facebookexternalhit|bingpreview|ia_archiver|"
    r"embedly|quora link preview|whatsapp|python-requests|scrapy|"
    r"\bhttpclient\b|go-http-client|\bcurl/|\bwget/",
    re.IGNORECASE,
)


def is_bot(user_agent: str | None) -> bool:
    return bool(user_agent) and _BOT.search(user_agent or "") is not None


START = Body(
    (
        CLIENT_ID,
        Text(
            name="sdkSessionId",
            max_length=MAX_SDK_ID,
            required=True,
            doc="Stable per browser tab: the same id again resumes the session.",
        ),
        Text(
            name="anonymousId",
            max_length=MAX_SDK_ID,
            blank_is_absent=True,
            doc="The browser's anonymous id (see /api/identify).",
        ),
        Text(
            name="startUrl",
            max_length=MAX_START_URL,
            clip=True,
            doc=f"Kept up to {MAX_START_URL} characters, NULs removed.",
        ),
        Text(
            name="userAgent",
            max_length=MAX_USER_AGENT,
            clip=True,
            doc=(
                f"Else the User-Agent header; kept up to {MAX_USER_AGENT} characters. "
                "Bots, crawlers and headless browsers are not recorded."
            ),
        ),
        Timestamp(name="startedAt", doc="When this page started recording."),
    ),
    doc=f"At most {MAX_CONTROL_BODY} bytes. Unknown fields are ignored.",
)

FINALISE = Body(
    (
        Text(
            name="clientId",
            max_length=CLIENT_ID.max_length,
            required=True,
            doc="Must own the session.",
        ),
        Timestamp(
            name="endedAt",
            doc=(
                "When the page stopped recording. Earlier than the latest (re)start's "
                "startedAt means the beacon of the page before a reload: acknowledged, ignored."
            ),
        ),
    ),
    doc=f"At most {MAX_CONTROL_BODY} bytes.",
)


# --- POST /api/replay-sessions ---------------------------------------------------


async def start_session(runtime: Runtime, request: Request) -> Response:
    start = checked(START, await request.body(MAX_CONTROL_BODY))
    client = await allowed_client(runtime.clients, start["clientId"], request.origin())

    header_agent = request.header(b"user-agent")
    if is_bot(header_agent) or is_bot(start["userAgent"]):
        return Response(200, {"accepted": False, "dropReason": "bot"})

    anonymous_id = start["anonymousId"]
    started_at = start["startedAt"]
    session_id = new_sortable_id()
    row = {
        "id": session_id,
        "client_id": client.id,
        "sdk_session_id": start["sdkSessionId"],
        "anonymous_id": anonymous_id,
        "user_email": None,  # claim_person below, once the row is committed
        "start_url": start["startUrl"],
        "user_agent": start["userAgent"] or _clean_text(header_agent, MAX_USER_AGENT),
        "started_at": started_at,
        "resumed_at": None,  # the first start's time is started_at
        "created_at": datetime.now(UTC),
    }
    try:
        await runtime.writer.insert(replay_sessions, row)
    except runtime.writer.integrity_error:
        # The unique index says this tab's session exists (a reload, or the
        # same start racing on another node): hand back that one, open again.
        existing = await runtime.offload(
            find_session_id, runtime.engine, client.id, start["sdkSessionId"]
        )
        if existing is None:  # the client was deleted meanwhile
            raise HTTPError(
                404, "Unknown clientId: check the id in your project settings"
            ) from None
        await runtime.writer.run(reopen_session, existing, started_at)
        session_id = existing
    if anonymous_id:
        await _claim_person(runtime, client.id, anonymous_id, session_id)
    return Response(200, {"accepted": True, "sessionReplayId": session_id})


async def _claim_person(
    runtime: Runtime, client_id: str, anonymous_id: str, session_id: str
) -> None:
    """Link the stored session to its identified person; never fails the start.

    The session is committed by now: a database hiccup here must not turn an
    accepted session into an error the SDK would retry. A retry (the reopen
    path) claims again.
    """
    try:
        await runtime.writer.run(claim_person, client_id, anonymous_id, session_id)
    except Exception:
        log.exception("could not link replay session %s to its person", session_id)


def _clean_text(value: str | None, limit: int) -> str | None:
    if not value:
        return None
    return value.replace("\x00", "")[:limit] or None


# --- PUT /api/replay-sessions/{id}/chunks/{seq} ------------------------------------


def _is_digits(raw: str) -> bool:
    # ASCII only: str.isdigit() is also true for "²", which int() refuses.
    return 0 < len(raw) <= 10 and raw.isascii() and raw.isdigit()


def _int_header(request: Request, name: bytes, label: str) -> int | None:
    raw = request.header(name)
    if raw is None:
        return None
    raw = raw.strip()
    if not _is_digits(raw) or int(raw) > MAX_COUNT:
        raise HTTPError(400, f"{label} must be a whole number from 0 to {MAX_COUNT:,}")
    return int(raw)


def _session_id(raw: str) -> str:
    # Anything that isn't one of our ids can't be a session: no query needed.
    if not possible_sortable_id(raw):
        raise HTTPError(404, "Unknown session")
    return raw


async def put_chunk(runtime: Runtime, request: Request) -> Response:
    match = _CHUNK_PATH.fullmatch(request.scope["path"][len(PREFIX) :])
    if match is None:
        raise HTTPError(404, "Not found")
    session_id = _session_id(match.group(1))
    raw_seq = match.group(2)
    if not _is_digits(raw_seq) or int(raw_seq) > MAX_SEQ:
        raise HTTPError(400, f"seq must be a whole number from 0 to {MAX_SEQ:,}")
    seq = int(raw_seq)
    client_id = (request.header(b"x-usero-client-id") or "").strip()
    if not client_id:
        raise HTTPError(400, "The X-Usero-Client-Id header is required")
    event_count = _int_header(request, b"x-usero-event-count", "X-Usero-Event-Count")
    duration_ms = _int_header(request, b"x-usero-duration-ms", "X-Usero-Duration-Ms")
    dropped = _int_header(request, b"x-usero-dropped-before", "X-Usero-Dropped-Before")

    target = await _target(runtime, session_id, seq, client_id, request.origin())
    if target.has_chunk:
        return _stored(seq, duplicate=True)

    body = await request.body(MAX_CHUNK_BYTES)
    key = chunk_blob_key(client_id, session_id, seq)  # this attempt's own
    stored = await runtime.offload(_store_chunk, runtime, key, body)
    row = {
        "session_id": session_id,
        "seq": seq,
        "blob_key": key,
        "compressed_bytes": stored.size,
        "event_count": event_count,
        "duration_ms": duration_ms,
        "dropped_before": dropped or 0,
        "created_at": datetime.now(UTC),
        "first_event_ms": stored.first_event_ms,
        "last_event_ms": stored.last_event_ms,
    }
    try:
        await runtime.writer.insert(replay_chunks, row)
    except runtime.writer.integrity_error:
        # Another attempt at this seq committed first (with its own blob), or
        # the session was deleted meanwhile: either way ours is no row's.
        if await _drop_blob_unless_stored(runtime, session_id, seq, key):
            return _stored(seq, duplicate=True)
        raise HTTPError(404, "Unknown session") from None
    except BaseException:
        # Overloaded (503), shutting down, a database error, a cancel: no row
        # points at the blob, and nothing else would delete it until the
        # clean-up's orphan sweep.
        await _drop_blob_unless_stored(runtime, session_id, seq, key)
        raise
    return _stored(seq, duplicate=False)


async def _drop_blob_unless_stored(runtime: Runtime, session_id: str, seq: int, key: str) -> bool:
    """Delete this attempt's blob unless the stored row names it; True if the seq is stored.

    The row may have committed even though the insert raised (a cancel after
    the writer took it): then the blob is kept, since the row points at it.
    """
    stored = await runtime.offload(stored_chunk_blob, runtime.engine, session_id, seq)
    if stored != key:
        await runtime.offload(runtime.blobs.delete, key)
    return stored is not None


def _stored(seq: int, *, duplicate: bool) -> Response:
    return Response(200, {"success": True, "seq": seq, "duplicate": duplicate})


async def _target(
    runtime: Runtime, session_id: str, seq: int, client_id: str, origin: Origin | None
) -> ChunkTarget:
    target = await runtime.offload(chunk_target, runtime.engine, session_id, seq)
    if target is None:
        raise HTTPError(404, "Unknown session")
    if target.client_id != client_id:
        raise HTTPError(403, "This session belongs to another clientId")
    await allowed_client(runtime.clients, client_id, origin)
    if target.closed:
        raise HTTPError(409, "This session has ended; start a new one")
    return target


@dataclass(frozen=True, slots=True)
class StoredChunk:
    size: int  # bytes of gzip in the blob store
    first_event_ms: int | None  # see event_times
    last_event_ms: int | None


def _store_chunk(runtime: Runtime, key: str, body: bytes) -> StoredChunk:
    """Check the chunk, write it to the blob store gzip-compressed; what its row needs."""
    stored = body if body[:2] == b"\x1f\x8b" else None
    events = inflate_capped(body) if stored is not None else body
    times = event_times(events)
    if stored is None:
        compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS | 16)
        stored = compressor.compress(body) + compressor.flush()
    runtime.blobs.put(key, stored, "application/gzip")
    first, last = times or (None, None)
    return StoredChunk(len(stored), first, last)


# Epoch ms, as rrweb stamps events (Date.now()); up to JavaScript's largest
# exact integer, so the columns (BIGINT) always take it.
_EpochMs = (
    Annotated[int, msgspec.Meta(ge=0, le=2**53)] | Annotated[float, msgspec.Meta(ge=0, le=2**53)]
)


class _Event(msgspec.Struct, gc=False):
    """What the gap markers need of an rrweb event; msgspec skips the rest in C."""

    type: int
    timestamp: _EpochMs


_EVENTS = msgspec.json.Decoder(list[_Event])
_ANY_JSON = msgspec.json.Decoder(msgspec.Raw)
# Stamping builds a small object per event, so a chunk with more objects than
# this (a hundred times what the SDK's chunks hold) is only validated: 16 MiB
# of "{}," would otherwise mean 5.6 million of them.
MAX_STAMPED_OBJECTS = 100_000
UTF8_STEP = 1024 * 1024


def event_times(events: bytes | bytearray) -> tuple[int, int] | None:
    """Check that a chunk is a JSON array in UTF-8 (400 if not); the earliest and
    latest timestamps of its events, or None when its items aren't all events.

    Its cost is bounded whatever the sender makes of its 16 MiB: msgspec
    builds a two-field struct per event and skips everything else in C, and
    a chunk of over ``MAX_STAMPED_OBJECTS`` objects isn't stamped at all. A
    chunk without times is still stored; gaps next to it are not marked.
    """
    parsed = _events(events)
    if parsed is None:
        try:
            value = _ANY_JSON.decode(events)
        except (msgspec.DecodeError, RecursionError):
            raise _not_an_array() from None
        if bytes(memoryview(value)[:1]) != b"[":  # no copy of a 16 MiB chunk for one byte
            raise _not_an_array()
    _check_utf8(events)
    if not parsed:
        return None
    return int(min(e.timestamp for e in parsed)), int(max(e.timestamp for e in parsed))


def _events(events: bytes | bytearray) -> list[_Event] | None:
    """The chunk's events; None if its items aren't all events, or too many to stamp."""
    if events.count(b"{") > MAX_STAMPED_OBJECTS:  # every object has one
        return None
    try:
        return _EVENTS.decode(events)
    except msgspec.ValidationError:
        return None  # checked as any JSON array by the caller
    except (msgspec.DecodeError, RecursionError):
        raise _not_an_array() from None


def _check_utf8(events: bytes | bytearray) -> None:
    # msgspec doesn't check the UTF-8 inside strings it skips; the player
    # parses every chunk, so a chunk must be text it can read. Checked a MiB
    # at a time: decoding 16 MiB at once would build a string up to 64 MiB.
    if events.isascii():
        return
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(events)
    try:
        for start in range(0, len(view), UTF8_STEP):
            decoder.decode(view[start : start + UTF8_STEP])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        raise _not_an_array() from None


def _not_an_array() -> HTTPError:
    return HTTPError(400, "A chunk must be a JSON array of events, gzip-compressed or plain")


def inflate_capped(data: bytes, limit: int = MAX_INFLATED_BYTES) -> bytearray:
    """Inflate one gzip member, refusing (413) as soon as it passes ``limit`` bytes.

    Output is asked for in bounded steps, so a bomb is stopped after producing
    ``limit`` bytes, whatever its ratio.
    """
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    out = bytearray()
    pending = data
    try:
        while not inflater.eof:
            piece = inflater.decompress(pending, limit + 1 - len(out))
            out += piece
            if len(out) > limit:
                raise HTTPError(
                    413,
                    f"Chunk too large once decompressed (max {limit:,} bytes)",
                    headers=[(b"connection", b"close")],
                )
            pending = inflater.unconsumed_tail
            if not piece and not pending:
                break
    except zlib.error:
        raise HTTPError(400, "The chunk is not valid gzip") from None
    if not inflater.eof:
        raise HTTPError(400, "The chunk's gzip stream is truncated")
    if inflater.unused_data:
        raise HTTPError(400, "The chunk has data after its gzip stream")
    return out


# --- POST /api/replay-sessions/{id}/finalise --------------------------------------


async def finalise(runtime: Runtime, request: Request) -> Response:
    match = _FINALISE_PATH.fullmatch(request.scope["path"][len(PREFIX) :])
    if match is None:
        raise HTTPError(404, "Not found")
    session_id = _session_id(match.group(1))
    # sendBeacon may label JSON as text/plain (or anything): the body decides.
    end = checked(FINALISE, await request.body(MAX_CONTROL_BODY))
    owner = await runtime.offload(session_client, runtime.engine, session_id)
    if owner is None:
        raise HTTPError(404, "Unknown session")
    if owner != end["clientId"]:
        raise HTTPError(403, "This session belongs to another clientId")
    await allowed_client(runtime.clients, owner, request.origin())
    await runtime.writer.run(finalise_session, session_id, end["endedAt"])
    return Response(200, {"success": True})
