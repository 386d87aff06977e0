"""Migrations and the database connection, on SQLite and PostgreSQL.

The Alembic migrations are what creates a database; ``sayso.store.schema`` is what
queries are written against. These tests keep the two identical, prove the
migrations run down and up again, that many processes may migrate one fresh
database at the same moment, and that SQLite is opened the way a server needs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Connection, Engine, MetaData, String, delete, inspect, select
from sqlalchemy.exc import IntegrityError

from sayso.settings import Settings
from sayso.store import migrate
from sayso.store.clients import create_client
from sayso.store.database import SQLITE_BUSY_TIMEOUT_MS, create_db_engine
from sayso.store.ids import new_sortable_id
from sayso.store.schema import clients, feedback, is_search_object, metadata

HEAD = ScriptDirectory(str(migrate.MIGRATIONS)).get_current_head()
# Every table schema.py declares: none before the first migration, none after
# a downgrade to base.
TABLES = set(metadata.tables)


@pytest.fixture
def fresh_engine(backend: str, fresh_settings: Callable[..., Settings]) -> Iterator[Engine]:
    """An engine on a brand-new, empty database (nothing migrated yet)."""
    engine = create_db_engine(fresh_settings(backend))
    yield engine
    engine.dispose()


def only_declared(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Skip the full-text search objects of migration 0006 and nothing else.

    They exist only in the migration (an FTS5 table and its shadow tables on
    SQLite, an expression index on PostgreSQL; see schema.py); every other
    table, column and index is still compared.
    """
    return not (reflected and compare_to is None and is_search_object(name, type_))


def schema_drift(engine: Engine, target: MetaData = metadata) -> list[object]:
    """What autogenerate would change to make the live database match ``target``."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_object": only_declared}
        )
        return list(compare_metadata(context, target))


def test_there_is_exactly_one_head_revision() -> None:
    assert ScriptDirectory(str(migrate.MIGRATIONS)).get_heads() == [HEAD]


def test_migrating_a_fresh_database_gives_exactly_the_schema_of_schema_py(
    fresh_engine: Engine,
) -> None:
    assert migrate.current_revision(fresh_engine) is None
    assert not TABLES & set(inspect(fresh_engine).get_table_names())

    migrate.upgrade(fresh_engine)

    assert migrate.current_revision(fresh_engine) == HEAD
    assert schema_drift(fresh_engine) == []


def test_the_drift_check_notices_a_changed_type_and_a_missing_column(engine: Engine) -> None:
    # Guard against a vacuous comparison: schema.py edited without a migration.
    drifted = MetaData(naming_convention=metadata.naming_convention)
    for table in metadata.tables.values():
        table.to_metadata(drifted)
    drifted.tables["clients"].c.name.type = String(100)
    drifted.tables["feedback"].append_column(Column("sentiment", String(20), nullable=True))

    diff = schema_drift(engine, drifted)

    kinds = {entry[0][0] if isinstance(entry, list) else entry[0] for entry in diff}
    assert kinds == {"modify_type", "add_column"}, diff


def test_upgrading_an_up_to_date_database_changes_nothing(engine: Engine) -> None:
    client = create_client(engine, "kept")

    migrate.upgrade(engine)

    assert migrate.current_revision(engine) == HEAD
    with engine.connect() as connection:
        ids = connection.execute(select(clients.c.id)).scalars().all()
    assert client.id in ids
    assert schema_drift(engine) == []


def test_downgrade_to_base_then_upgrade_to_head_round_trips(fresh_engine: Engine) -> None:
    migrate.upgrade(fresh_engine)

    with fresh_engine.connect() as connection:
        command.downgrade(migrate.alembic_config(connection), "base")
        connection.commit()

    assert migrate.current_revision(fresh_engine) is None
    assert not TABLES & set(inspect(fresh_engine).get_table_names())

    with fresh_engine.connect() as connection:
        command.upgrade(migrate.alembic_config(connection), "head")
        connection.commit()

    assert migrate.current_revision(fresh_engine) == HEAD
    assert schema_drift(fresh_engine) == []
    assert create_client(fresh_engine, "after the round trip").name == "after the round trip"


def _sayso_script() -> str:
    script = Path(sys.executable).parent / "sayso"
    assert script.exists(), f"the sayso console script is not installed next to {sys.executable}"
    return str(script)


# Runs the installed ``sayso`` script, but only once the parent says go: Python
# start-up takes long and varies, so processes simply launched together would
# reach the migration one after another rather than at the same moment.
_AT_THE_SIGNAL = """
import runpy, sys
import sayso.cli  # the slow imports, before the start signal
script = sys.argv[1]
print("ready", flush=True)
sys.stdin.readline()
sys.argv = [script, "migrate"]
runpy.run_path(script, run_name="__main__")
"""
MIGRATING_PROCESSES = 3


def test_many_sayso_migrate_processes_at_once_all_succeed_and_leave_the_database_at_head(
    backend: str, fresh_settings: Callable[..., Settings]
) -> None:
    settings = fresh_settings(backend)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAYSO_")}
    env["SAYSO_DATA_DIR"] = str(settings.data_dir)
    env["SAYSO_DATABASE_URL"] = settings.database_url
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _AT_THE_SIGNAL, _sayso_script()],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(MIGRATING_PROCESSES)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            if process.stdout.readline() != "ready\n":
                pytest.fail(f"a migrating process failed to start: {process.communicate()[1]}")
        for process in processes:
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        outcomes = [(*p.communicate(timeout=60), p.returncode) for p in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()

    for _, stderr, returncode in outcomes:
        assert returncode == 0, stderr
        assert f"database at revision {HEAD}" in stderr
    engine = create_db_engine(settings)
    try:
        assert migrate.current_revision(engine) == HEAD
        assert schema_drift(engine) == []
    finally:
        engine.dispose()


def test_the_schema_refuses_feedback_for_an_unknown_client_and_cascades_deletes(
    engine: Engine,
) -> None:
    row = {"id": new_sortable_id(), "created_at": create_client(engine, "x").created_at}
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(feedback.insert().values(client_id="client_missing0000000000", **row))

    client = create_client(engine, "cascade")
    with engine.begin() as connection:
        connection.execute(feedback.insert().values(client_id=client.id, rating=3, **row))
        connection.execute(delete(clients).where(clients.c.id == client.id))
        left = connection.execute(select(feedback.c.id).where(feedback.c.id == row["id"])).all()
    assert left == []


def pragma(connection: Connection, name: str) -> object:
    return connection.exec_driver_sql(f"PRAGMA {name}").scalar()


def test_sqlite_connections_use_wal_full_sync_foreign_keys_and_a_busy_timeout(
    fresh_settings: Callable[..., Settings],
) -> None:
    engine = create_db_engine(fresh_settings("sqlite"))
    try:
        # Two connections at once: every pooled connection is tuned, not just the first.
        with engine.connect() as first, engine.connect() as second:
            for connection in (first, second):
                assert pragma(connection, "journal_mode") == "wal"
                assert pragma(connection, "synchronous") == 2  # FULL
                assert pragma(connection, "foreign_keys") == 1
                assert pragma(connection, "busy_timeout") == SQLITE_BUSY_TIMEOUT_MS
        assert SQLITE_BUSY_TIMEOUT_MS >= 1_000
    finally:
        engine.dispose()
