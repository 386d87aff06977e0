"""``sayso seed`` and its generator, on SQLite and PostgreSQL, with small row counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, Table, func, select
from sqlalchemy.engine import RowMapping

from sayso.seed import seed_feedback
from sayso.settings import Settings
from sayso.store.clients import create_client
from sayso.store.schema import feedback, feedback_daily, feedback_pages_daily, feedback_people
from tests.support.cli import Sayso

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _rows(engine: Engine, client_id: str) -> list[RowMapping]:
    query = select(feedback).where(feedback.c.client_id == client_id).order_by(feedback.c.id)
    with engine.connect() as conn:
        return list(conn.execute(query).mappings())


def _total(engine: Engine, table: Table, client_id: str) -> int:
    query = select(func.coalesce(func.sum(table.c.count), 0)).where(table.c.client_id == client_id)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def test_seeding_inserts_the_rows_in_time_order_spread_over_the_days(
    engine: Engine, client_id: str
) -> None:
    assert seed_feedback(engine, client_id, 2_000, days=30, seed=1, now=NOW) == 2_000

    rows = _rows(engine, client_id)
    assert len(rows) == 2_000
    times = [row["created_at"] for row in rows]
    assert times == sorted(times), "ids sort the same way as created_at"
    first, last = min(times), max(times)
    assert first.replace(tzinfo=UTC) >= NOW - timedelta(days=30)
    assert last.replace(tzinfo=UTC) <= NOW
    assert len({t.date() for t in times}) >= 29


def test_seeded_feedback_looks_real_skewed_ratings_languages_pages_people_and_extras(
    engine: Engine, client_id: str
) -> None:
    seed_feedback(engine, client_id, 3_000, days=10, seed=2, now=NOW)
    rows = _rows(engine, client_id)

    ratings = Counter(row["rating"] for row in rows)
    assert ratings[3] + ratings[4] > 2 * (ratings[1] + ratings[2])
    assert ratings[None] > 0
    assert Counter(row["environment"] for row in rows).keys() == {"production", "staging", None}
    comments = [row["comment"] for row in rows if row["comment"]]
    assert 0.5 < len(comments) / len(rows) < 0.9
    assert any("Seite" in str(c) or "página" in str(c) for c in comments), "several languages"
    assert 50 < len({row["page_url"] for row in rows}) < 1_000
    assert any("?" in str(row["page_url"]) for row in rows)
    emails = {str(row["user_email"]).lower() for row in rows if row["user_email"]}
    assert 20 <= len(emails) <= 5_000
    assert any(row["screenshots"] for row in rows)
    assert any(row["session_replay_id"] for row in rows)
    assert all(isinstance(row["metadata"], dict) and "plan" in row["metadata"] for row in rows)


def test_the_same_seed_gives_the_same_feedback(engine: Engine) -> None:
    first = create_client(engine, "one").id
    second = create_client(engine, "two").id
    seed_feedback(engine, first, 300, seed=7, now=NOW)
    seed_feedback(engine, second, 300, seed=7, now=NOW)

    def content(client_id: str) -> list[tuple[object, ...]]:
        return [
            (r["rating"], r["comment"], r["user_email"], r["page_url"], r["created_at"])
            for r in _rows(engine, client_id)
        ]

    assert content(first) == content(second)


def test_the_rollups_count_every_seeded_row(engine: Engine, client_id: str) -> None:
    seed_feedback(engine, client_id, 1_500, seed=3, now=NOW)

    assert _total(engine, feedback_daily, client_id) == 1_500
    assert _total(engine, feedback_pages_daily, client_id) == 1_500
    with engine.connect() as conn:
        with_email = conn.execute(
            select(func.count()).where(
                feedback.c.client_id == client_id, feedback.c.user_email.is_not(None)
            )
        ).scalar_one()
    assert _total(engine, feedback_people, client_id) == with_email


def test_sayso_seed_creates_a_client_when_none_is_given_and_fills_it(
    backend: str, fresh_settings: Callable[..., Settings]
) -> None:
    cli = Sayso(fresh_settings(backend))

    result = cli("seed", "--rows", "250", "--days", "5", "--seed", "4")

    assert result.exit_code == 0, result.output
    client_id = result.stdout.strip()
    assert client_id.startswith("client_")
    assert "inserted 250 feedback items" in result.stderr
    assert client_id in cli.ok("clients", "list")
    second = cli("seed", "--client-id", client_id, "--rows", "100")
    assert second.exit_code == 0, second.output
    assert second.stdout.strip() == client_id
    exported = cli.export_jsonl("--client", client_id)
    assert len(exported) == 350


def test_sayso_seed_refuses_an_unknown_client(
    backend: str, fresh_settings: Callable[..., Settings]
) -> None:
    cli = Sayso(fresh_settings(backend))

    output = cli.fails("seed", "--client-id", "client_nope", "--rows", "10")

    assert "no client 'client_nope'" in output
