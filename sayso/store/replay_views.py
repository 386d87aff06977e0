"""What the dashboard's replay pages read beyond ``store/replays.py``: the
sessions list with its filters, the feedback linked to a session, and where
the recording has gaps.

Kept apart from ``replays.py`` (the ingest path's module) so the two can
change independently; everything here is read-only and synchronous, meant
for a thread. Recordings are written by anyone who has a client id, so every
read here is bounded by what it returns (a page, at most ``MAX_GAPS`` gaps,
500 linked feedback items), and none reads a blob.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, Engine, and_, exists, func, or_, select

from sayso.store.database import as_utc
from sayso.store.schema import feedback, replay_chunks, replay_sessions

PAGE_SIZE = 50

_s = replay_sessions.c
_c = replay_chunks.c
_f = feedback.c


@dataclass(frozen=True, slots=True)
class SessionFilters:
    person: str | None = None  # an email (any case) or an anonymousId, exactly
    has_feedback: bool | None = None
    created_from: datetime | None = None  # inclusive
    created_to: datetime | None = None  # exclusive


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: str
    anonymous_id: str | None
    user_email: str | None
    start_url: str | None
    created_at: datetime
    closed: bool
    chunk_count: int
    duration_ms: int  # see ``approximate_duration_ms``
    dropped_chunks: int
    feedback_count: int


@dataclass(slots=True)
class SessionPage:
    rows: list[SessionRow] = field(default_factory=list)
    older: tuple[datetime, str] | None = None  # the keyset of the next page, if any


def _filtered(client_id: str, filters: SessionFilters) -> ColumnElement[bool]:
    linked = exists().where(_f.client_id == client_id, _f.session_replay_id == _s.id)
    conditions = [_s.client_id == client_id]
    if filters.person:
        conditions.append(
            or_(
                # Stored lowercased, so the (client_id, user_email) index applies.
                _s.user_email == filters.person.lower(),
                _s.anonymous_id == filters.person,
            )
        )
    if filters.has_feedback is True:
        conditions.append(linked)
    elif filters.has_feedback is False:
        conditions.append(~linked)
    if filters.created_from is not None:
        conditions.append(_s.created_at >= filters.created_from)
    if filters.created_to is not None:
        conditions.append(_s.created_at < filters.created_to)
    return and_(*conditions)


def find_sessions(
    engine: Engine,
    client_id: str,
    filters: SessionFilters,
    *,
    before: tuple[datetime, str] | None = None,
    limit: int = PAGE_SIZE,
) -> SessionPage:
    """A page of sessions, newest first, keyset-paginated on (created_at, id).

    The page is chosen on ``replay_sessions`` alone (its (client_id,
    created_at) index), and only those rows are joined to their chunks'
    totals and feedback counts.
    """
    page = select(_s.id).where(_filtered(client_id, filters))
    if before is not None:
        at, last_id = before
        page = page.where(or_(_s.created_at < at, and_(_s.created_at == at, _s.id < last_id)))
    page_ids = page.order_by(_s.created_at.desc(), _s.id.desc()).limit(limit + 1).subquery()
    chunks = (
        select(
            _c.session_id,
            func.count().label("chunk_count"),
            func.coalesce(func.sum(_c.duration_ms), 0).label("duration_ms"),
            func.coalesce(func.sum(_c.dropped_before), 0).label("dropped"),
            func.max(_c.created_at).label("last_chunk_at"),
        )
        .where(_c.session_id.in_(select(page_ids.c.id)))
        .group_by(_c.session_id)
        .subquery()
    )
    linked = (
        select(func.count())
        .where(_f.client_id == client_id, _f.session_replay_id == _s.id)
        .scalar_subquery()
    )
    query = (
        select(
            _s.id,
            _s.anonymous_id,
            _s.user_email,
            _s.start_url,
            _s.created_at,
            _s.closed_at,
            func.coalesce(chunks.c.chunk_count, 0),
            func.coalesce(chunks.c.duration_ms, 0),
            func.coalesce(chunks.c.dropped, 0),
            linked,
            chunks.c.last_chunk_at,
        )
        .select_from(replay_sessions.outerjoin(chunks, chunks.c.session_id == _s.id))
        .where(_s.id.in_(select(page_ids.c.id)))
        .order_by(_s.created_at.desc(), _s.id.desc())
    )
    with engine.connect() as conn:
        rows = [
            SessionRow(
                id=r[0],
                anonymous_id=r[1],
                user_email=r[2],
                start_url=r[3],
                created_at=as_utc(r[4]),
                closed=r[5] is not None,
                chunk_count=int(r[6]),
                duration_ms=approximate_duration_ms(int(r[7]), as_utc(r[4]), as_utc(r[10])),
                dropped_chunks=int(r[8]),
                feedback_count=int(r[9]),
            )
            for r in conn.execute(query)
        ]
    older = None
    if len(rows) > limit:
        rows = rows[:limit]
        older = (rows[-1].created_at, rows[-1].id)
    return SessionPage(rows=rows, older=older)


def approximate_duration_ms(
    chunk_sum_ms: int, created_at: datetime, last_chunk_at: datetime | None
) -> int:
    """A session's length without reading its events.

    Each chunk reports the span of its own events, so their sum leaves out the
    quiet time between chunks; the server's clock (start → last chunk's
    arrival) covers it, a few seconds long at most (a chunk goes every 3 s).
    The browser's clock is never mixed with the server's.
    """
    if last_chunk_at is None:
        return chunk_sum_ms
    arrival_ms = int((last_chunk_at - created_at).total_seconds() * 1000)
    return max(chunk_sum_ms, arrival_ms)


def session_created_at(engine: Engine, client_id: str, session_id: str) -> datetime | None:
    """The keyset position of a session of this client (for ``before=`` links)."""
    query = select(_s.created_at).where(_s.client_id == client_id, _s.id == session_id)
    with engine.connect() as conn:
        value = conn.execute(query).scalar()
    return as_utc(value)


@dataclass(frozen=True, slots=True)
class LinkedFeedback:
    id: str
    created_at: datetime
    rating: int | None
    comment: str | None
    offset_ms: int | None


def feedback_for_session(engine: Engine, client_id: str, session_id: str) -> list[LinkedFeedback]:
    """Every feedback item of this client that points at the session, in offset order."""
    query = (
        select(_f.id, _f.created_at, _f.rating, _f.comment, _f.replay_offset_ms)
        .where(_f.client_id == client_id, _f.session_replay_id == session_id)
        .order_by(_f.replay_offset_ms, _f.id)
        .limit(500)
    )
    with engine.connect() as conn:
        return [
            LinkedFeedback(
                id=r[0], created_at=as_utc(r[1]), rating=r[2], comment=r[3], offset_ms=r[4]
            )
            for r in conn.execute(query)
        ]


def session_in_project(engine: Engine, client_id: str, session_id: str) -> bool:
    query = select(_s.id).where(_s.client_id == client_id, _s.id == session_id)
    with engine.connect() as conn:
        return conn.execute(query).first() is not None


def recorded(engine: Engine, client_id: str, session_ids: list[str]) -> set[str]:
    """Which of ``session_ids`` are stored in the project: a feedback's replay badge means
    there is a recording to watch, not just an id the visitor's SDK sent."""
    wanted = sorted({i for i in session_ids if i})
    if not wanted:
        return set()
    query = select(_s.id).where(_s.client_id == client_id, _s.id.in_(wanted))
    with engine.connect() as conn:
        return set(conn.execute(query).scalars())


def session_person(engine: Engine, client_id: str, session_id: str) -> str | None:
    """The email identify gave the project's session, if any."""
    query = select(_s.user_email).where(_s.client_id == client_id, _s.id == session_id)
    with engine.connect() as conn:
        return conn.execute(query).scalar()


MAX_GAPS = 50


@dataclass(frozen=True, slots=True)
class Gap:
    """Chunks lost in transit: between ``after`` and ``before`` (event timestamps,
    epoch ms; ``after`` is None when the loss was at the very start)."""

    dropped: int
    after: int | None
    before: int | None


def gaps(engine: Engine, session_id: str) -> list[Gap]:
    """Where the recording is missing chunks: a reported ``dropped_before``, or a
    seq missing from the run, marked between the timestamps ingest kept for
    the chunks either side (``first_event_ms``, ``last_event_ms``).

    One query, which returns only the gaps: at most ``MAX_GAPS`` rows however
    many chunks the session has, since gaps are the sender's claim (a header,
    or seqs it skipped). No blob is read. A gap whose bounding timestamps are
    unknown (chunks stored before migration 0009, or whose items aren't
    events) is not marked.
    """
    ordered = (
        select(
            _c.seq,
            _c.dropped_before,
            _c.first_event_ms,
            func.lag(_c.seq).over(order_by=_c.seq).label("previous_seq"),
            func.lag(_c.last_event_ms).over(order_by=_c.seq).label("previous_last"),
        )
        .where(_c.session_id == session_id)
        .subquery()
    )
    o = ordered.c
    missing = o.seq - func.coalesce(o.previous_seq, -1) - 1
    query = (
        select(o.dropped_before, missing, o.previous_last, o.first_event_ms)
        .where(
            or_(o.dropped_before > 0, missing > 0),
            o.first_event_ms.is_not(None),
            or_(o.previous_seq.is_(None), o.previous_last.is_not(None)),
        )
        .order_by(o.seq)
        .limit(MAX_GAPS)
    )
    with engine.connect() as conn:
        return [
            Gap(dropped=max(int(reported), int(skipped)), after=after, before=before)
            for reported, skipped, after, before in conn.execute(query)
        ]
