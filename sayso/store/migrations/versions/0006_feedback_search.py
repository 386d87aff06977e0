"""Full-text search over feedback comments, one mechanism per database.

SQLite: an FTS5 table ``feedback_fts`` with external content (the ``feedback``
table itself, joined by rowid, so comments aren't stored twice), kept in step
by triggers — the ingest writer inserts with raw ``executemany``, and a
trigger sees those rows like any other. Existing rows are indexed by a
``rebuild``.

PostgreSQL: a GIN index on ``to_tsvector('simple', coalesce(comment, ''))``.
An expression index needs no upkeep: ``COPY`` rows are indexed as they land.
The 'simple' configuration (no stemming, no stop words) because feedback comes
in every language.

Neither object is declared in ``schema.py`` (SQLAlchemy can't describe an FTS5
table, and Alembic doesn't compare expression indexes); the schema comparison
leaves them out by name (``schema.is_search_object``).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_SQLITE_UP = [
    # remove_diacritics 2: "café" finds "cafe" and the other way round.
    "CREATE VIRTUAL TABLE feedback_fts USING fts5("
    "comment, content='feedback', content_rowid='rowid', "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER feedback_fts_insert AFTER INSERT ON feedback BEGIN "
    "INSERT INTO feedback_fts(rowid, comment) VALUES (new.rowid, new.comment); END",
    # An external-content table must be told the old text to remove it.
    "CREATE TRIGGER feedback_fts_delete AFTER DELETE ON feedback BEGIN "
    "INSERT INTO feedback_fts(feedback_fts, rowid, comment) "
    "VALUES ('delete', old.rowid, old.comment); END",
    "CREATE TRIGGER feedback_fts_update AFTER UPDATE OF comment ON feedback BEGIN "
    "INSERT INTO feedback_fts(feedback_fts, rowid, comment) "
    "VALUES ('delete', old.rowid, old.comment); "
    "INSERT INTO feedback_fts(rowid, comment) VALUES (new.rowid, new.comment); END",
    # The backfill: index every row already stored.
    "INSERT INTO feedback_fts(feedback_fts) VALUES ('rebuild')",
]
_SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS feedback_fts_update",
    "DROP TRIGGER IF EXISTS feedback_fts_delete",
    "DROP TRIGGER IF EXISTS feedback_fts_insert",
    "DROP TABLE IF EXISTS feedback_fts",
]
# Creating the index reads every existing row: that is the backfill.
_POSTGRES_UP = [
    "CREATE INDEX ix_feedback_comment_fts ON feedback "
    "USING gin (to_tsvector('simple', coalesce(comment, '')))",
]
_POSTGRES_DOWN = ["DROP INDEX IF EXISTS ix_feedback_comment_fts"]


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _run(_POSTGRES_UP)
    else:
        _run(_SQLITE_UP)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _run(_POSTGRES_DOWN)
    else:
        _run(_SQLITE_DOWN)
