"""Finding feedback for the dashboard's inbox: filters, full-text search, keyset pages.

One interface over both databases; the few places they differ (JSON access,
array length, full-text search) branch on the dialect here and nowhere else.
Every value a person typed reaches the database as a bound parameter.

Full-text search is migration 0006: an FTS5 table kept in step by triggers on
SQLite, a ``to_tsvector('simple', …)`` expression index on PostgreSQL. The
expressions below must stay textually identical to that index, or PostgreSQL
won't use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Engine,
    Integer,
    Select,
    String,
    Text,
    and_,
    bindparam,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    text,
    true,
    tuple_,
)
from sqlalchemy.engine import Connection, RowMapping

from sayso.store.database import as_utc
from sayso.store.schema import feedback, feedback_tags
from sayso.store.triage import DEFAULT_STATUSES

PAGE_SIZE = 50
HAS_KINDS = ("comment", "screenshot", "replay")


@dataclass(frozen=True, slots=True)
class Filters:
    """A validated inbox query. ``environment`` None is the default inbox (no environment)."""

    environment: str | None = None
    ratings: tuple[int, ...] = ()
    has: tuple[str, ...] = ()
    created_from: datetime | None = None  # inclusive, UTC
    created_before: datetime | None = None  # exclusive, UTC
    page: str | None = None
    person: str | None = None
    meta: tuple[str, str] | None = None
    q: str | None = None
    # Empty: every status but archived (see triage.DEFAULT_STATUSES).
    statuses: tuple[str, ...] = ()
    tag: str | None = None


def _dialect(engine: Engine) -> str:
    return engine.dialect.name


def _has(kind: str, dialect: str) -> ColumnElement[bool]:
    if kind == "comment":
        return and_(feedback.c.comment.is_not(None), feedback.c.comment != "")
    if kind == "replay":
        return feedback.c.session_replay_id.is_not(None)
    length = "jsonb_array_length" if dialect == "postgresql" else "json_array_length"
    return and_(
        feedback.c.screenshots.is_not(None), getattr(func, length)(feedback.c.screenshots) > 0
    )


def _meta(key: str, value: str, dialect: str) -> ColumnElement[bool]:
    extracted: ColumnElement[str]
    if dialect == "postgresql":
        # metadata->>'key': the key is a bound text parameter, never SQL.
        extracted = feedback.c.metadata.op("->>", return_type=Text)(literal(key, Text))
    else:
        # The key is validated (no quotes or backslashes) before it gets here, and
        # the JSON path is bound too. CAST: numbers compare as their text, like ->>.
        path = bindparam("meta_path", f'$."{key}"', type_=String)
        extracted = cast(func.json_extract(feedback.c.metadata, path), Text)
    return extracted == literal(value, Text)


def fts5_query(words: str) -> str:
    """Each word of ``words`` as a quoted FTS5 string, all required (like ``plainto_tsquery``).

    Quoting makes FTS5's own syntax (AND, NEAR, *, column filters) inert.
    """
    # FTS5 reads its query as a C string: a NUL would cut it short mid-quote.
    cleaned = words.replace("\x00", " ")
    terms = [w.replace('"', '""') for w in re.split(r"\s+", cleaned.strip()) if w]
    return " ".join(f'"{term}"' for term in terms)


def _search(q: str, dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return text(
            "to_tsvector('simple', coalesce(feedback.comment, '')) "
            "@@ plainto_tsquery('simple', :search_q)"
        ).bindparams(search_q=q)  # type: ignore[return-value]
    query = fts5_query(q)
    if not query:
        return true()
    matches = text("SELECT rowid FROM feedback_fts WHERE feedback_fts MATCH :search_q")
    return literal_column("feedback.rowid").in_(
        matches.bindparams(search_q=query).columns(literal_column("rowid"))
    )


def _where(
    client_id: str,
    filters: Filters,
    dialect: str,
    client_column: ColumnElement[str] = feedback.c.client_id,
) -> list[ColumnElement[bool]]:
    c = feedback.c
    conditions: list[ColumnElement[bool]] = [client_column == client_id]
    if filters.environment is None:
        conditions.append(c.environment.is_(None))
    else:
        conditions.append(c.environment == filters.environment)
    if filters.ratings:
        conditions.append(c.rating.in_(filters.ratings))
    conditions.extend(_has(kind, dialect) for kind in filters.has)
    # SQLite keeps UTC wall-clock text: bounds must be UTC as well.
    if filters.created_from is not None:
        conditions.append(c.created_at >= as_utc(filters.created_from))
    if filters.created_before is not None:
        conditions.append(c.created_at < as_utc(filters.created_before))
    if filters.page:
        conditions.append(func.lower(c.page_url).contains(filters.page.lower(), autoescape=True))
    if filters.person:
        conditions.append(func.lower(c.user_email) == filters.person.lower())
    if filters.meta is not None:
        conditions.append(_meta(*filters.meta, dialect))
    if filters.q:
        conditions.append(_search(filters.q, dialect))
    conditions.append(c.status.in_(filters.statuses or DEFAULT_STATUSES))
    if filters.tag:
        tagged = select(feedback_tags.c.feedback_id).where(
            feedback_tags.c.client_id == client_id, feedback_tags.c.tag == filters.tag
        )
        conditions.append(c.id.in_(tagged))
    return conditions


def _newest_first(query: Select[tuple[object, ...]]) -> Select[tuple[object, ...]]:
    return query.order_by(feedback.c.created_at.desc(), feedback.c.id.desc())


def any_feedback(engine: Engine, client_id: str) -> bool:
    """Whether the project has received anything at all (the inbox's first-run state)."""
    return first_arrival(engine, client_id) is not None


def first_arrival(engine: Engine, client_id: str) -> tuple[str | None] | None:
    """``(environment,)`` of some feedback the project holds, or None if it has none: where
    the Install page sends a new team to see what arrived (any row: one index probe)."""
    query = select(feedback.c.environment).where(feedback.c.client_id == client_id).limit(1)
    with engine.connect() as conn:
        row = conn.execute(query).first()
    return None if row is None else (row[0],)


def exists(engine: Engine, client_id: str, feedback_id: str) -> bool:
    query = select(feedback.c.id).where(
        feedback.c.client_id == client_id, feedback.c.id == feedback_id
    )
    with engine.connect() as conn:
        return conn.execute(query).first() is not None


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[RowMapping]
    older: str | None  # the ``before`` id for the next page, if there is one


def find(
    engine: Engine,
    client_id: str,
    filters: Filters,
    *,
    before: str | None = None,
    limit: int = PAGE_SIZE,
) -> Page:
    """One page of matching feedback, newest first; ``before`` is the last id of the previous page.

    Keyset pagination on (created_at, id): the page after a row is everything
    strictly older than it in that order, so rows arriving meanwhile never
    shift a page (no gaps, no repeats).
    """
    dialect = _dialect(engine)
    match = fts5_query(filters.q) if dialect == "sqlite" and filters.q else ""
    if match:
        filters = replace(filters, q=None)  # searched separately, see _sqlite_search
    conditions = _where(client_id, filters, dialect)
    keyset: list[ColumnElement[bool]] = []
    if before is not None:
        # The boundary row's own timestamp, read in SQL (no round trip through Python).
        boundary = (
            select(feedback.c.created_at)
            .where(feedback.c.client_id == client_id, feedback.c.id == before)
            .scalar_subquery()
        )
        keyset.append(
            or_(
                feedback.c.created_at < boundary,
                and_(feedback.c.created_at == boundary, feedback.c.id < before),
            )
        )
    with engine.connect() as conn:
        if match:
            rows = _sqlite_search(conn, client_id, filters, keyset, match, limit + 1)
        else:
            query = _newest_first(select(feedback).where(*conditions, *keyset))
            rows = list(conn.execute(query.limit(limit + 1)).mappings())
    if len(rows) > limit:
        return Page(rows[:limit], str(rows[limit - 1]["id"]))
    return Page(rows, None)


# SQLite full-text search, planned by hand: the planner has no statistics, so
# it always walks the project's (client_id, environment, created_at) index
# and checks each row against the whole match list — a list it first builds
# in full. At a million rows that is slow both ways: building the list of a
# common word's 300k matches, and walking 600k rows for a rare word's 20.
# So: a word with few matches overall has them looked up by rowid and sorted;
# a common one walks the index newest first in growing chunks, asking FTS5
# only for matches within each chunk's rowid range (a seek, not a scan).
FEW_MATCHES = 5_000
FIRST_CHUNK = 1_000
MAX_CHUNK = 64_000


def _sqlite_search(
    conn: Connection,
    client_id: str,
    filters: Filters,
    keyset: list[ColumnElement[bool]],
    match: str,
    want: int,
) -> list[RowMapping]:
    rowid: ColumnElement[int] = literal_column("feedback.rowid", Integer)
    matches = text("SELECT rowid FROM feedback_fts WHERE feedback_fts MATCH :q LIMIT :n")
    few = list(conn.execute(matches, {"q": match, "n": FEW_MATCHES + 1}).scalars())
    if len(few) <= FEW_MATCHES:
        if not few:
            return []
        # "+client_id": the same test, but no index can drive it, so SQLite
        # looks the matches up by rowid instead of walking the project.
        unindexed = literal_column("+feedback.client_id", String)
        conditions = _where(client_id, filters, "sqlite", client_column=unindexed)
        query = _newest_first(select(feedback).where(*conditions, *keyset, rowid.in_(few)))
        return list(conn.execute(query.limit(want)).mappings())
    conditions = _where(client_id, filters, "sqlite")
    in_range = text(
        "SELECT rowid FROM feedback_fts WHERE feedback_fts MATCH :q AND rowid BETWEEN :lo AND :hi"
    )
    found: list[RowMapping] = []
    chunk_size = FIRST_CHUNK
    while len(found) < want:
        candidates = _newest_first(
            select(rowid, feedback.c.created_at, feedback.c.id).where(*conditions, *keyset)
        ).limit(chunk_size)
        chunk = conn.execute(candidates).all()
        if not chunk:
            break
        rowids = [row[0] for row in chunk]
        bounds = {"q": match, "lo": min(rowids), "hi": max(rowids)}
        hits = set(conn.execute(in_range, bounds).scalars())
        keep = [r for r in rowids if r in hits][: want - len(found)]
        if keep:
            page = _newest_first(select(feedback).where(rowid.in_(keep)))
            found.extend(conn.execute(page).mappings())
        if len(chunk) < chunk_size:
            break
        last = chunk[-1]._mapping
        last_at, last_id = last["created_at"], last["id"]
        keyset = [
            *keyset,
            or_(
                feedback.c.created_at < last_at,
                and_(feedback.c.created_at == last_at, feedback.c.id < last_id),
            ),
        ]
        chunk_size = min(chunk_size * 2, MAX_CHUNK)
    return found


def neighbours(
    engine: Engine, client_id: str, filters: Filters, row: RowMapping
) -> tuple[str | None, str | None]:
    """The ids just newer and just older than ``row`` among the feedback ``filters``
    match (the detail page's previous and next), in the inbox's order."""
    older = find(engine, client_id, filters, before=str(row["id"]), limit=1).rows
    c = feedback.c
    # The row's own timestamp read in SQL, as find() does: compared as stored.
    boundary = (
        select(c.created_at).where(c.client_id == client_id, c.id == row["id"]).scalar_subquery()
    )
    # A row value, not an OR of two comparisons: SQLite then walks the index from the
    # row up (the OR made it sort every newer row first: 170 ms at a million rows).
    after = tuple_(c.created_at, c.id) > tuple_(boundary, row["id"])
    newer = (
        select(c.id)
        .where(*_where(client_id, filters, _dialect(engine)), after)
        .order_by(c.created_at.asc(), c.id.asc())
        .limit(1)
    )
    with engine.connect() as conn:
        newer_id = conn.execute(newer).scalar()
    return (str(newer_id) if newer_id else None, str(older[0]["id"]) if older else None)


def get(engine: Engine, client_id: str, feedback_id: str) -> RowMapping | None:
    """One feedback item, only if it belongs to ``client_id``."""
    query = select(feedback).where(feedback.c.client_id == client_id, feedback.c.id == feedback_id)
    with engine.connect() as conn:
        return conn.execute(query).mappings().first()


def from_same_person(
    engine: Engine, client_id: str, row: RowMapping, limit: int = 10
) -> list[RowMapping]:
    """Other feedback in this project with the same ``user_email``, newest first."""
    email = row["user_email"]
    if not email:
        return []
    query = _newest_first(
        select(feedback).where(
            feedback.c.client_id == client_id,
            func.lower(feedback.c.user_email) == str(email).lower(),
            feedback.c.id != row["id"],
        )
    ).limit(limit)
    with engine.connect() as conn:
        return list(conn.execute(query).mappings())
