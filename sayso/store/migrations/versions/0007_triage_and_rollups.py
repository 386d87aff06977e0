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

The People view is a third rollup, ``feedback_people``: one row per project
environment and lowercased ``user_email`` with its count, rating sum and first/last seen.
Counts and sums are decremented on delete; first/last seen can't be, so they
are recomputed for the people a delete touched, through an index on
``(client_id, lower(user_email), environment, created_at, id)`` — the same index
serves the inbox's person filter (with ``id`` it also gives the inbox's order,
which SQLite's planner needs to prefer it over the environment index). A
person whose count reaches 0 is removed.

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
PERSON_INDEX = "ix_feedback_person"


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


_HAS_EMAIL = "{row}.user_email IS NOT NULL AND {row}.user_email <> ''"
# SQLite's lower() folds ASCII only, PostgreSQL's every letter; either way it is
# the same lower() the inbox's person filter uses, so the counts match it.
_SQLITE_SEEN = (
    "(SELECT {agg}(created_at) FROM feedback WHERE client_id = old.client_id "
    "AND lower(user_email) = lower(old.user_email) AND environment IS old.environment)"
)
_SQLITE_PEOPLE = [
    "CREATE TRIGGER feedback_people_insert AFTER INSERT ON feedback "
    f"WHEN {_HAS_EMAIL.format(row='new')} BEGIN "
    "INSERT INTO feedback_people "
    "(client_id, environment, email, count, rating_sum, rated_count, first_seen, last_seen) "
    "VALUES (new.client_id, coalesce(new.environment, ''), lower(new.user_email), 1, "
    "coalesce(new.rating, 0), "
    "new.rating IS NOT NULL, new.created_at, new.created_at) "
    "ON CONFLICT (client_id, environment, email) DO UPDATE SET count = count + 1, "
    "rating_sum = rating_sum + excluded.rating_sum, "
    "rated_count = rated_count + excluded.rated_count, "
    "first_seen = min(first_seen, excluded.first_seen), "
    "last_seen = max(last_seen, excluded.last_seen); END",
    "CREATE TRIGGER feedback_people_delete AFTER DELETE ON feedback "
    f"WHEN {_HAS_EMAIL.format(row='old')} BEGIN "
    "UPDATE feedback_people SET count = count - 1, "
    "rating_sum = rating_sum - coalesce(old.rating, 0), "
    "rated_count = rated_count - (old.rating IS NOT NULL), "
    f"first_seen = coalesce({_SQLITE_SEEN.format(agg='min')}, first_seen), "
    f"last_seen = coalesce({_SQLITE_SEEN.format(agg='max')}, last_seen) "
    "WHERE client_id = old.client_id AND environment = coalesce(old.environment, '') "
    "AND email = lower(old.user_email); "
    "DELETE FROM feedback_people WHERE client_id = old.client_id "
    "AND environment = coalesce(old.environment, '') "
    "AND email = lower(old.user_email) AND count <= 0; END",
    "INSERT INTO feedback_people "
    "(client_id, environment, email, count, rating_sum, rated_count, first_seen, last_seen) "
    "SELECT client_id, coalesce(environment, ''), lower(user_email), count(*), "
    "coalesce(sum(rating), 0), count(rating), min(created_at), max(created_at) "
    f"FROM feedback WHERE {_HAS_EMAIL.format(row='feedback')} GROUP BY 1, 2, 3",
]


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
    return [insert, delete, *backfill, *_SQLITE_PEOPLE]


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


_PG_PEOPLE = (
    "INSERT INTO feedback_people AS p "
    "(client_id, environment, email, count, rating_sum, rated_count, first_seen, last_seen) "
    "SELECT client_id, coalesce(environment, ''), lower(user_email), count(*), "
    "coalesce(sum(rating), 0), count(rating), min(created_at), max(created_at) FROM {rows} "
    "WHERE user_email IS NOT NULL AND user_email <> '' GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 "
    "ON CONFLICT (client_id, environment, email) DO UPDATE SET "
    "count = p.count + excluded.count, rating_sum = p.rating_sum + excluded.rating_sum, "
    "rated_count = p.rated_count + excluded.rated_count, "
    "first_seen = least(p.first_seen, excluded.first_seen), "
    "last_seen = greatest(p.last_seen, excluded.last_seen)"
)
# An AFTER trigger sees the table without the deleted rows, so the recomputed
# first/last seen are those of the person's remaining feedback.
_PG_SEEN = (
    "(SELECT {agg}(f.created_at) FROM feedback f WHERE f.client_id = p.client_id "
    "AND lower(f.user_email) = p.email AND coalesce(f.environment, '') = p.environment)"
)
_PG_UNDO_PEOPLE = (
    "UPDATE feedback_people AS p SET count = p.count - s.n, "
    "rating_sum = p.rating_sum - s.rating_sum, rated_count = p.rated_count - s.rated_count, "
    f"first_seen = coalesce({_PG_SEEN.format(agg='min')}, p.first_seen), "
    f"last_seen = coalesce({_PG_SEEN.format(agg='max')}, p.last_seen) "
    "FROM (SELECT client_id, coalesce(environment, '') AS environment, "
    "lower(user_email) AS email, count(*) AS n, coalesce(sum(rating), 0) AS rating_sum, "
    "count(rating) AS rated_count FROM old_rows "
    "WHERE user_email IS NOT NULL AND user_email <> '' GROUP BY 1, 2, 3) s "
    "WHERE (p.client_id, p.environment, p.email) = (s.client_id, s.environment, s.email)"
)
_PG_DROP_PEOPLE = (
    "DELETE FROM feedback_people AS p USING (SELECT DISTINCT client_id, "
    "coalesce(environment, '') AS environment, lower(user_email) AS email FROM old_rows "
    "WHERE user_email IS NOT NULL) s "
    "WHERE (p.client_id, p.environment, p.email) = (s.client_id, s.environment, s.email) "
    "AND p.count <= 0"
)


# Before the undo UPDATEs, the rows they will change are locked in key order,
# as the insert trigger's ordered upserts take them: an UPDATE … FROM locks in
# join order, so a bulk delete and an ingest batch sharing two keys could
# otherwise deadlock (and the batch's submissions would fail).
_PG_LOCK = (
    "PERFORM 1 FROM {table} t WHERE ({columns}) IN (SELECT {keys} FROM old_rows{where}) "
    "ORDER BY {columns} FOR UPDATE"
)
_PG_LOCKS = "; ".join(
    _PG_LOCK.format(table=table, columns=columns, keys=keys, where=where)
    for table, columns, keys, where in [
        (
            "feedback_daily",
            "t.client_id, t.environment, t.day, t.rating",
            "client_id, coalesce(environment, ''), (created_at AT TIME ZONE 'UTC')::date, "
            "coalesce(rating, 0)",
            "",
        ),
        (
            "feedback_pages_daily",
            "t.client_id, t.environment, t.day, t.page",
            "client_id, coalesce(environment, ''), (created_at AT TIME ZONE 'UTC')::date, "
            + _PG_PAGE,
            "",
        ),
        (
            "feedback_people",
            "t.client_id, t.environment, t.email",
            "client_id, coalesce(environment, ''), lower(user_email)",
            " WHERE user_email IS NOT NULL AND user_email <> ''",
        ),
    ]
)


def _postgres_triggers() -> list[str]:
    return [
        "CREATE FUNCTION feedback_rollup_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"{_PG_DAILY.format(rows='new_rows')}; {_PG_PAGES.format(rows='new_rows')}; "
        f"{_PG_PEOPLE.format(rows='new_rows')}; RETURN NULL; END $$",
        "CREATE TRIGGER feedback_rollup_insert AFTER INSERT ON feedback "
        "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION feedback_rollup_insert()",
        "CREATE FUNCTION feedback_rollup_delete() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"{_PG_LOCKS}; {_PG_UNDO_DAILY}; {_PG_UNDO_PAGES}; {_PG_UNDO_PEOPLE}; "
        f"{_PG_DROP_PEOPLE}; "
        "RETURN NULL; END $$",
        "CREATE TRIGGER feedback_rollup_delete AFTER DELETE ON feedback "
        "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT "
        "EXECUTE FUNCTION feedback_rollup_delete()",
        _PG_DAILY.format(rows="feedback"),
        _PG_PAGES.format(rows="feedback"),
        _PG_PEOPLE.format(rows="feedback"),
    ]


_SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS feedback_rollup_insert",
    "DROP TRIGGER IF EXISTS feedback_rollup_delete",
    "DROP TRIGGER IF EXISTS feedback_people_insert",
    "DROP TRIGGER IF EXISTS feedback_people_delete",
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
    op.create_table(
        "feedback_people",
        sa.Column("client_id", sa.String(64), nullable=False),
        sa.Column("environment", sa.String(64), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("rating_sum", sa.BigInteger(), nullable=False),
        sa.Column("rated_count", sa.BigInteger(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        _client_fk("feedback_people"),
        sa.PrimaryKeyConstraint("client_id", "environment", "email", name="pk_feedback_people"),
    )
    op.create_index(
        "ix_feedback_people_client_id_environment_last_seen_email",
        "feedback_people",
        ["client_id", "environment", "last_seen", "email"],
    )
    op.create_index(
        "ix_feedback_people_client_id_environment_count_email",
        "feedback_people",
        ["client_id", "environment", "count", "email"],
    )
    # The person filter and the people rollup's recount; an expression index,
    # so schema.py leaves it out like the search index (schema.is_search_object).
    op.execute(
        f"CREATE INDEX {PERSON_INDEX} ON feedback "
        "(client_id, lower(user_email), environment, created_at, id)"
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
    op.execute(f"DROP INDEX IF EXISTS {PERSON_INDEX}")
    for column in ("count", "last_seen"):
        op.drop_index(
            f"ix_feedback_people_client_id_environment_{column}_email",
            table_name="feedback_people",
        )
    op.drop_table("feedback_people")
    op.drop_table("feedback_pages_daily")
    op.drop_table("feedback_daily")
    op.drop_index("ix_feedback_notes_feedback_id_created_at", table_name="feedback_notes")
    op.drop_table("feedback_notes")
    op.drop_index("ix_feedback_tags_client_id_tag", table_name="feedback_tags")
    op.drop_table("feedback_tags")
    op.drop_index("ix_feedback_client_id_environment_created_at_id", table_name="feedback")
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("status")
