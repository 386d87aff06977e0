"""Triage (status, tags, notes) and the daily rollups behind the overview charts.

``feedback.status`` walks new → in_progress → resolved, or archived (spam,
noise). Tags and internal notes are rows of their own, so a tag filter is an
index lookup and a note has an author and a time.

The overview must stay fast at millions of rows, so it never scans
``feedback``: two rollup tables are kept in step by the database itself —
row-level triggers on SQLite, statement-level triggers over transition tables
on PostgreSQL (one grouped upsert per ``COPY`` batch, not one per row, keys
taken in a fixed order so two nodes' writers can't deadlock). Feedback is never
edited in a way that moves it between buckets (rating, environment, page and
time are fixed at ingest), so only inserts and deletes need handling. The page
key is the URL without its query and fragment, cut to 500 characters.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

# ruff: noqa: S608 -- every statement here is assembled from constants, no input

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

PAGE_KEY_LENGTH = 500


def _sqlite_page_key(url: str) -> str:
    """SQL for the URL before its first '#', then before its first '?'."""
    no_fragment = (
        f"CASE WHEN instr({url}, '#') > 0 "
        f"THEN substr({url}, 1, instr({url}, '#') - 1) ELSE {url} END"
    )
    no_query = (
        f"CASE WHEN instr({no_fragment}, '?') > 0 "
        f"THEN substr({no_fragment}, 1, instr({no_fragment}, '?') - 1) ELSE {no_fragment} END"
    )
    return f"substr({no_query}, 1, {PAGE_KEY_LENGTH})"


def _sqlite_triggers() -> list[str]:
    key = (
        "{row}.client_id, coalesce({row}.environment, ''), substr({row}.created_at, 1, 10), "
        "coalesce({row}.rating, 0)"
    )
    page = _sqlite_page_key("coalesce({row}.page_url, '')")
    insert = (
        "CREATE TRIGGER feedback_rollup_insert AFTER INSERT ON feedback BEGIN "
        "INSERT INTO feedback_daily (client_id, environment, day, rating, count) "
        f"VALUES ({key.format(row='new')}, 1) "
        "ON CONFLICT (client_id, environment, day, rating) DO UPDATE SET count = count + 1; "
        "INSERT INTO feedback_pages_daily "
        "(client_id, environment, day, page, count, rating_sum, rated_count) "
        "VALUES (new.client_id, coalesce(new.environment, ''), substr(new.created_at, 1, 10), "
        f"{page.format(row='new')}, 1, coalesce(new.rating, 0), new.rating IS NOT NULL) "
        "ON CONFLICT (client_id, environment, day, page) DO UPDATE SET "
        "count = count + 1, rating_sum = rating_sum + excluded.rating_sum, "
        "rated_count = rated_count + excluded.rated_count; END"
    )
    delete = (
        "CREATE TRIGGER feedback_rollup_delete AFTER DELETE ON feedback BEGIN "
        "UPDATE feedback_daily SET count = count - 1 WHERE "
        "(client_id, environment, day, rating) = "
        f"({key.format(row='old')}); "
        "UPDATE feedback_pages_daily SET count = count - 1, "
        "rating_sum = rating_sum - coalesce(old.rating, 0), "
        "rated_count = rated_count - (old.rating IS NOT NULL) WHERE "
        "(client_id, environment, day, page) = (old.client_id, coalesce(old.environment, ''), "
        f"substr(old.created_at, 1, 10), {page.format(row='old')}); END"
    )
    backfill = [
        "INSERT INTO feedback_daily (client_id, environment, day, rating, count) "
        "SELECT client_id, coalesce(environment, ''), substr(created_at, 1, 10), "
        "coalesce(rating, 0), count(*) FROM feedback GROUP BY 1, 2, 3, 4",
        "INSERT INTO feedback_pages_daily "
        "(client_id, environment, day, page, count, rating_sum, rated_count) "
        "SELECT client_id, coalesce(environment, ''), substr(created_at, 1, 10), "
        f"{page.format(row='feedback')}, count(*), coalesce(sum(rating), 0), count(rating) "
        "FROM feedback GROUP BY 1, 2, 3, 4",
    ]
    return [insert, delete, *backfill]


_PG_DAILY = (
    "INSERT INTO feedback_daily AS d (client_id, environment, day, rating, count) "
    "SELECT client_id, coalesce(environment, ''), (created_at AT TIME ZONE 'UTC')::date, "
    "coalesce(rating, 0), count(*) FROM {rows} GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4 "
    "ON CONFLICT (client_id, environment, day, rating) "
    "DO UPDATE SET count = d.count + excluded.count"
)
_PG_PAGE = (
    f"left(split_part(split_part(coalesce(page_url, ''), '#', 1), '?', 1), {PAGE_KEY_LENGTH})"
)
_PG_PAGES = (
    "INSERT INTO feedback_pages_daily AS p "
    "(client_id, environment, day, page, count, rating_sum, rated_count) "
    "SELECT client_id, coalesce(environment, ''), (created_at AT TIME ZONE 'UTC')::date, "
    f"{_PG_PAGE}, count(*), coalesce(sum(rating), 0), count(rating) FROM {{rows}} "
    "GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4 "
    "ON CONFLICT (client_id, environment, day, page) DO UPDATE SET "
    "count = p.count + excluded.count, rating_sum = p.rating_sum + excluded.rating_sum, "
    "rated_count = p.rated_count + excluded.rated_count"
)
_PG_UNDO_DAILY = (
    "UPDATE feedback_daily AS d SET count = d.count - s.n FROM ("
    "SELECT client_id, coalesce(environment, '') AS environment, "
    "(created_at AT TIME ZONE 'UTC')::date AS day, coalesce(rating, 0) AS rating, count(*) AS n "
    "FROM old_rows GROUP BY 1, 2, 3, 4) s WHERE (d.client_id, d.environment, d.day, d.rating) "
    "= (s.client_id, s.environment, s.day, s.rating)"
)
_PG_UNDO_PAGES = (
    "UPDATE feedback_pages_daily AS p SET count = p.count - s.n, "
    "rating_sum = p.rating_sum - s.rating_sum, rated_count = p.rated_count - s.rated_count "
    "FROM (SELECT client_id, coalesce(environment, '') AS environment, "
    f"(created_at AT TIME ZONE 'UTC')::date AS day, {_PG_PAGE} AS page, count(*) AS n, "
    "coalesce(sum(rating), 0) AS rating_sum, count(rating) AS rated_count "
    "FROM old_rows GROUP BY 1, 2, 3, 4) s WHERE (p.client_id, p.environment, p.day, p.page) "
    "= (s.client_id, s.environment, s.day, s.page)"
)


def _postgres_triggers() -> list[str]:
    return [
        "CREATE FUNCTION feedback_rollup_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"{_PG_DAILY.format(rows='new_rows')}; {_PG_PAGES.format(rows='new_rows')}; "
        "RETURN NULL; END $$",
        "CREATE TRIGGER feedback_rollup_insert AFTER INSERT ON feedback "
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION feedback_rollup_insert()",
        "CREATE FUNCTION feedback_rollup_delete() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"{_PG_UNDO_DAILY}; {_PG_UNDO_PAGES}; RETURN NULL; END $$",
        "CREATE TRIGGER feedback_rollup_delete AFTER DELETE ON feedback "
        "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION feedback_rollup_delete()",
        _PG_DAILY.format(rows="feedback"),
        _PG_PAGES.format(rows="feedback"),
    ]


_SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS feedback_rollup_insert",
    "DROP TRIGGER IF EXISTS feedback_rollup_delete",
]
_POSTGRES_DOWN = [
    "DROP TRIGGER IF EXISTS feedback_rollup_insert ON feedback",
    "DROP TRIGGER IF EXISTS feedback_rollup_delete ON feedback",
    "DROP FUNCTION IF EXISTS feedback_rollup_insert()",
    "DROP FUNCTION IF EXISTS feedback_rollup_delete()",
]


def _client_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["client_id"], ["clients.id"], name=f"fk_{table}_client_id_clients", ondelete="CASCADE"
    )


def upgrade() -> None:
    # A plain ADD COLUMN on both databases: a batch "recreate" on SQLite would
    # drop the search triggers of 0006.
    op.add_column(
        "feedback", sa.Column("status", sa.String(16), nullable=False, server_default="new")
    )
    op.create_index(
        "ix_feedback_client_id_environment_created_at_id",
        "feedback",
        ["client_id", "environment", "created_at", "id"],
    )
    op.create_table(
        "feedback_tags",
        sa.Column("feedback_id", sa.String(32), nullable=False),
        sa.Column("tag", sa.String(40), nullable=False),
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["feedback_id"],
            ["feedback.id"],
            name="fk_feedback_tags_feedback_id_feedback",
            ondelete="CASCADE",
        ),
        _client_fk("feedback_tags"),
        sa.PrimaryKeyConstraint("feedback_id", "tag", name="pk_feedback_tags"),
    )
    op.create_index("ix_feedback_tags_client_id_tag", "feedback_tags", ["client_id", "tag"])
    op.create_table(
        "feedback_notes",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("feedback_id", sa.String(32), nullable=False),
        sa.Column("author_user_id", sa.String(32), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["feedback_id"],
            ["feedback.id"],
            name="fk_feedback_notes_feedback_id_feedback",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_user_id"],
            ["users.id"],
            name="fk_feedback_notes_author_user_id_users",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_feedback_notes"),
    )
    op.create_index(
        "ix_feedback_notes_feedback_id_created_at", "feedback_notes", ["feedback_id", "created_at"]
    )
    op.create_table(
        "feedback_daily",
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("environment", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        _client_fk("feedback_daily"),
        sa.PrimaryKeyConstraint(
            "client_id", "environment", "day", "rating", name="pk_feedback_daily"
        ),
    )
    op.create_table(
        "feedback_pages_daily",
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("environment", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("page", sa.String(PAGE_KEY_LENGTH), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("rating_sum", sa.BigInteger(), nullable=False),
        sa.Column("rated_count", sa.BigInteger(), nullable=False),
        _client_fk("feedback_pages_daily"),
        sa.PrimaryKeyConstraint(
            "client_id", "environment", "day", "page", name="pk_feedback_pages_daily"
        ),
    )
    statements = (
        _postgres_triggers() if op.get_bind().dialect.name == "postgresql" else _sqlite_triggers()
    )
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    down = _POSTGRES_DOWN if op.get_bind().dialect.name == "postgresql" else _SQLITE_DOWN
    for statement in down:
        op.execute(statement)
    op.drop_table("feedback_pages_daily")
    op.drop_table("feedback_daily")
    op.drop_index("ix_feedback_notes_feedback_id_created_at", table_name="feedback_notes")
    op.drop_table("feedback_notes")
    op.drop_index("ix_feedback_tags_client_id_tag", table_name="feedback_tags")
    op.drop_table("feedback_tags")
    op.drop_index("ix_feedback_client_id_environment_created_at_id", table_name="feedback")
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("status")
