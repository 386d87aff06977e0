"""Full-text search at the store level: the migration's backfill and the query quoting.

Runs on SQLite (FTS5 + triggers) and PostgreSQL (expression GIN index).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import Engine, delete, inspect, update

from sayso.settings import Settings
from sayso.store import migrate
from sayso.store.clients import create_client
from sayso.store.database import create_db_engine
from sayso.store.feedback_search import Filters, find, fts5_query
from sayso.store.ids import new_sortable_id
from sayso.store.schema import feedback


@pytest.fixture
def fresh_engine(backend: str, fresh_settings: Callable[..., Settings]) -> Iterator[Engine]:
    engine = create_db_engine(fresh_settings(backend))
    yield engine
    engine.dispose()


def add(engine: Engine, client_id: str, comment: str | None) -> str:
    row_id = new_sortable_id()
    with engine.begin() as conn:
        conn.execute(
            feedback.insert().values(
                id=row_id, client_id=client_id, created_at=datetime.now(UTC), comment=comment
            )
        )
    return row_id


def search(engine: Engine, client_id: str, q: str) -> list[str]:
    return [str(r["id"]) for r in find(engine, client_id, Filters(q=q)).rows]


def test_feedback_stored_before_the_search_migration_is_found_after_it(
    fresh_engine: Engine,
) -> None:
    migrate.upgrade(fresh_engine, "0005")
    client = create_client(fresh_engine, "old data")
    old = add(fresh_engine, client.id, "The checkout button is broken")
    add(fresh_engine, client.id, "Lovely colours")

    migrate.upgrade(fresh_engine)

    assert search(fresh_engine, client.id, "checkout") == [old]
    assert search(fresh_engine, client.id, "BROKEN button") == [old]


def test_search_follows_inserts_updates_and_deletes(engine: Engine) -> None:
    client = create_client(engine, "live")
    first = add(engine, client.id, "Café menu is slow")
    add(engine, client.id, None)

    assert search(engine, client.id, "menu") == [first]
    if engine.dialect.name == "sqlite":  # remove_diacritics 2; 'simple' keeps accents
        assert search(engine, client.id, "cafe") == [first]
    with engine.begin() as conn:
        conn.execute(update(feedback).where(feedback.c.id == first).values(comment="fast now"))
    assert search(engine, client.id, "menu") == []
    assert search(engine, client.id, "fast") == [first]
    with engine.begin() as conn:
        conn.execute(delete(feedback).where(feedback.c.id == first))
    assert search(engine, client.id, "fast") == []


def test_search_words_with_query_syntax_are_taken_literally(engine: Engine) -> None:
    client = create_client(engine, "syntax")
    row = add(engine, client.id, 'he said "NEAR" AND left * (fast)')

    for q in ['"NEAR"', "AND", "said AND", "left *", "(fast", 'col:"x', "OR NOT"]:
        found = search(engine, client.id, q)  # never a syntax error
        assert found in ([row], []), q
    assert search(engine, client.id, "said left") == [row]
    assert search(engine, client.id, "said nothing") == []


def test_fts5_queries_quote_every_word() -> None:
    assert fts5_query('a "b"  c') == '"a" """b""" "c"'
    assert fts5_query("   ") == ""


def test_downgrading_past_the_search_migration_removes_its_objects(fresh_engine: Engine) -> None:
    migrate.upgrade(fresh_engine)
    with fresh_engine.connect() as connection:
        command.downgrade(migrate.alembic_config(connection), "0005")
        connection.commit()

    assert not [t for t in inspect(fresh_engine).get_table_names() if "fts" in t]
    indexes = {ix["name"] for ix in inspect(fresh_engine).get_indexes("feedback")}
    assert "ix_feedback_comment_fts" not in indexes
