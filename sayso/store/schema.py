"""The database tables, as SQLAlchemy Core metadata.

The Alembic migrations under ``migrations/versions`` are the source of truth for
what exists in a database; this module mirrors them for queries, and a test
checks the two never drift apart. Types are chosen to behave the same on SQLite
and PostgreSQL: JSON becomes JSONB on PostgreSQL, timestamps are always UTC.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    false,
)
from sqlalchemy.dialects.postgresql import JSONB

# One JSON type for both databases: JSONB on PostgreSQL (indexable, for the
# dashboard's metadata filters), plain JSON text on SQLite. Python None is SQL
# NULL, never the JSON value null.
JSONType = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def project_id(*, primary_key: bool = False) -> Column[str]:
    """The owning project's ``client_id``: its rows go when the project does (cascade)."""
    return Column(
        "client_id",
        String(64),
        ForeignKey("clients.id", ondelete="CASCADE"),
        primary_key=primary_key,
        nullable=False,
    )


clients = Table(
    "clients",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    # A JSON list of normalised origins ("https://app.example.com",
    # "https://*.example.com"); empty means every origin is accepted.
    Column("allowed_origins", JSONType, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    # When true, a screenshot stops being served from its public URL once it
    # is attached to submitted feedback (see docs/api.md).
    Column("screenshots_private", Boolean, nullable=False, server_default=false()),
    # Session replays older than this are deleted with their blobs by the
    # periodic clean-up (migration 0008).
    Column("replay_retention_days", Integer, nullable=False, server_default="30"),
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", String(32), primary_key=True),
    project_id(),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("rating", SmallInteger, nullable=True),
    Column("comment", Text, nullable=True),
    Column("user_email", String(254), nullable=True),
    Column("page_url", Text, nullable=True),
    Column("page_title", Text, nullable=True),
    Column("referrer", Text, nullable=True),
    Column("environment", String(64), nullable=True),
    Column("screenshots", JSONType, nullable=True),
    Column("metadata", JSONType, nullable=True),
    Column("session_replay_id", String(128), nullable=True),
    Column("replay_offset_ms", BigInteger, nullable=True),
    # Server-side facts about the request. The client IP is deliberately not
    # stored at all (see docs/privacy.md).
    Column("origin", Text, nullable=True),
    Column("user_agent", Text, nullable=True),
    # The submitter's Idempotency-Key header: a retried submission with the same
    # key is answered with the first one's id instead of being stored twice.
    Column("idempotency_key", String(255), nullable=True),
    # Triage: new → in_progress → resolved, or archived (spam, noise).
    Column("status", String(16), nullable=False, server_default="new"),
    Index(None, "client_id", "created_at", "id"),
    Index(None, "client_id", "environment", "created_at", "id"),
    Index(None, "client_id", "idempotency_key", unique=True),
    Index(None, "client_id", "session_replay_id"),
)

screenshots = Table(
    "screenshots",
    metadata,
    # "<clientId>/<32 random base32 chars>.<ext>": what the API calls fileName.
    Column("file_name", String(200), primary_key=True),
    project_id(),
    Column("blob_key", String(300), nullable=False),
    Column("mime_type", String(100), nullable=False),
    Column("file_size", BigInteger, nullable=False),
    Column("width", Integer, nullable=False),
    Column("height", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index(None, "created_at"),
)

# Which feedback uses which screenshot. An upload nobody links to within a day
# is deleted by `sayso cleanup`.
feedback_screenshots = Table(
    "feedback_screenshots",
    metadata,
    Column(
        "feedback_id",
        String(32),
        ForeignKey("feedback.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column(
        "file_name",
        String(200),
        ForeignKey("screenshots.file_name", ondelete="CASCADE"),
        primary_key=True,
    ),
    Index(None, "file_name"),
)

# Dashboard accounts. Emails are stored lowercased, so the unique index is the
# case-insensitive uniqueness check on both databases.
users = Table(
    "users",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("email", String(254), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("is_admin", Boolean, nullable=False, server_default=false()),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_sign_in_at", DateTime(timezone=True), nullable=True),
    Index(None, "email", unique=True),
)

# Signed-in browsers. Only the SHA-256 of the cookie's token is kept, so a
# leaked database (or backup) hands out no usable sessions.
sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column(
        "user_id",
        String(32),
        ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("last_seen_at", DateTime(timezone=True), nullable=False),
    Column("user_agent", Text, nullable=True),
    Index(None, "user_id"),
)

# Sign-in attempts per key (a SHA-256 of email + client IP, or of the client
# IP) and 15-minute window, kept in the database (not in memory) so the limits
# hold across every app node; one upsert counts an attempt atomically
# (accounts/rate_limit.py, migration 0010).
sign_in_limits = Table(
    "sign_in_limits",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("window_start", DateTime(timezone=True), primary_key=True),
    Column("count", Integer, nullable=False),
    Index(None, "window_start"),
)

# Who may see and change a project (a client), and how: owner (everything),
# member (reads now, triage later), viewer (reads only).
memberships = Table(
    "memberships",
    metadata,
    project_id(primary_key=True),
    Column(
        "user_id",
        String(32),
        ForeignKey("users.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("role", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index(None, "user_id"),
)

# Full-text search over comments lives outside this metadata (migration 0006):
# an FTS5 table and its triggers on SQLite, an expression GIN index on
# PostgreSQL. SQLAlchemy can't declare the first and Alembic doesn't compare
# the second, so schema comparisons skip exactly these names.
SEARCH_TABLE_PREFIX = "feedback_fts"  # the FTS5 table and its shadow tables
SEARCH_INDEX = "ix_feedback_comment_fts"
# Migration 0007's expression index on
# (client_id, lower(user_email), environment, created_at, id):
# the inbox's person filter and the people rollup's recount. Left out for the
# same reason as SEARCH_INDEX.
PERSON_INDEX = "ix_feedback_person"


def is_search_object(name: str | None, type_: str) -> bool:
    """True for the expression indexes and FTS5 tables (0006, 0007) schema.py doesn't declare."""
    if name is None:
        return False
    if type_ == "table":
        return name == SEARCH_TABLE_PREFIX or name.startswith(SEARCH_TABLE_PREFIX + "_")
    return type_ == "index" and name in (SEARCH_INDEX, PERSON_INDEX)


# Who did what, and when. ``client_id`` has no foreign key on purpose: a
# project's entries (its deletion above all) must outlive the project.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column(
        "actor_user_id",
        String(32),
        ForeignKey("users.id", ondelete="SET NULL"),
        nullable=True,
    ),
    Column("client_id", String(64), nullable=True),
    Column("action", String(64), nullable=False),
    Column("details", JSONType, nullable=True),
    # How many times it happened: 1, or for rate-limited sign-ins the attempts
    # in that key's window, all on one row (migration 0010).
    Column("count", Integer, nullable=False, server_default="1"),
    Index(None, "client_id", "at"),
    Index(None, "at"),
)


# Triage labels, per feedback. ``client_id`` is repeated so "every tag of this
# project" and "feedback tagged X" are index lookups.
feedback_tags = Table(
    "feedback_tags",
    metadata,
    Column(
        "feedback_id",
        String(32),
        ForeignKey("feedback.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("tag", String(40), primary_key=True),
    project_id(),
    Index(None, "client_id", "tag"),
)

# Internal notes: the team's conversation about a piece of feedback, never
# shown to the person who gave it.
feedback_notes = Table(
    "feedback_notes",
    metadata,
    Column("id", String(32), primary_key=True),
    Column(
        "feedback_id",
        String(32),
        ForeignKey("feedback.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column(
        "author_user_id",
        String(32),
        ForeignKey("users.id", ondelete="SET NULL"),
        nullable=True,
    ),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index(None, "feedback_id", "created_at"),
)

# Daily rollups for the overview, kept in step by triggers (migration 0007) so
# the charts never scan ``feedback``. environment '' is the default inbox,
# rating 0 is "no rating"; page is the URL without query and fragment.
feedback_daily = Table(
    "feedback_daily",
    metadata,
    project_id(primary_key=True),
    Column("environment", String(64), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("rating", SmallInteger, primary_key=True),
    Column("count", BigInteger, nullable=False),
)

feedback_pages_daily = Table(
    "feedback_pages_daily",
    metadata,
    project_id(primary_key=True),
    Column("environment", String(64), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("page", String(500), primary_key=True),
    Column("count", BigInteger, nullable=False),
    Column("rating_sum", BigInteger, nullable=False),
    Column("rated_count", BigInteger, nullable=False),
)

# One row per project, environment ('' = default) and person (lowercased
# user_email) for the People view,
# kept in step by triggers (migration 0007): a GROUP BY over all feedback would
# not stay fast at millions of rows.
feedback_people = Table(
    "feedback_people",
    metadata,
    project_id(primary_key=True),
    Column("environment", String(64), primary_key=True),
    Column("email", String(254), primary_key=True),
    Column("count", BigInteger, nullable=False),
    Column("rating_sum", BigInteger, nullable=False),
    Column("rated_count", BigInteger, nullable=False),
    Column("first_seen", DateTime(timezone=True), nullable=False),
    Column("last_seen", DateTime(timezone=True), nullable=False),
    # Each sort of the People view, ties broken by email, read straight off an index.
    Index(None, "client_id", "environment", "last_seen", "email"),
    Index(None, "client_id", "environment", "count", "email"),
)


# Recorded sessions (session replay, migration 0008). Written once at start and
# again only when closed (finalised by the SDK, or idle), never per chunk:
# chunk count, bytes and duration are derived from ``replay_chunks``, so many
# nodes taking chunks of one session never contend for its row. A reload in
# the same tab sends the same ``sdk_session_id``; the unique index makes every
# node hand back the same session.
replay_sessions = Table(
    "replay_sessions",
    metadata,
    Column("id", String(32), primary_key=True),
    project_id(),
    Column("sdk_session_id", String(128), nullable=False),
    Column("anonymous_id", String(128), nullable=True),
    # The person, once the host app identifies them (POST /api/identify).
    Column("user_email", String(254), nullable=True),  # lowercased, from identify
    Column("start_url", Text, nullable=True),
    Column("user_agent", Text, nullable=True),
    Column("started_at", DateTime(timezone=True), nullable=True),  # the browser's clock
    # The latest restart's startedAt (same clock): a reload in the same tab
    # resumes the session, and a finalise whose endedAt is earlier than this
    # came from the page before and must not close it.
    Column("resumed_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=True),
    # Set when the session stops taking chunks; reason "finalised" or "idle".
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Column("closed_reason", String(16), nullable=True),
    Index(None, "client_id", "sdk_session_id", unique=True),
    Index(None, "client_id", "created_at"),
    Index(None, "closed_at", "created_at"),
    Index(None, "client_id", "anonymous_id"),  # an identify fills in user_email
    Index(None, "client_id", "user_email", "created_at"),  # the person filter
)

# One row per uploaded chunk; the events themselves are a gzip blob, under a
# key of its own per upload attempt (``replays.chunk_blob_key``).
# ``dropped_before`` counts chunks the SDK lost just before this one, so the
# player can mark the gap between the events either side of it: each chunk's
# first and last event timestamps (epoch ms, the browser's clock) are kept at
# ingest (migration 0009; NULL before it, or when the chunk's elements aren't
# events), so no view ever parses a blob.
replay_chunks = Table(
    "replay_chunks",
    metadata,
    Column(
        "session_id",
        String(32),
        ForeignKey("replay_sessions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("seq", Integer, primary_key=True),
    Column("blob_key", String(300), nullable=False),
    Column("compressed_bytes", Integer, nullable=False),
    Column("event_count", Integer, nullable=True),
    Column("duration_ms", BigInteger, nullable=True),
    Column("dropped_before", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("first_event_ms", BigInteger, nullable=True),
    Column("last_event_ms", BigInteger, nullable=True),
)

# Who is behind an ``anonymousId`` (POST /api/identify), as the host app last
# said. Personal data: deleted with the project (cascade).
identities = Table(
    "identities",
    metadata,
    project_id(primary_key=True),
    Column("anonymous_id", String(128), primary_key=True),
    Column("external_user_id", String(255), nullable=True),
    Column("email", String(254), nullable=True),
    Column("display_name", String(200), nullable=True),
    Column("traits", JSONType, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
