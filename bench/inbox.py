"""The dashboard's server time at a million feedback rows, on SQLite and PostgreSQL.

    python bench/inbox.py [--db sqlite|postgres|both] [--rows 1000000] [--runs 20]

Seeds ``--rows`` feedback items into one project (``sayso.seed``: 90 days,
production/staging/no environment, thousands of people, hundreds of pages)
in a SQLite file under /var/tmp/sayso-bench and in a PostgreSQL database
``sayso_bench_inbox_<rows>_<key>``. Both are kept for the next run: the key
is a hash of the migrations, so a changed schema seeds afresh (and the stale
copies are removed).

What is timed: whole requests, in-process through the ASGI app (Sayso's own
dispatcher, Litestar, the signed-in session lookup, the membership check, the
queries and the template rendering) with httpx's ASGI transport — no sockets,
no HTTP parsing. Each page is requested twice to warm up, then ``--runs``
times; the medians are printed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import shutil
import statistics
import time
from dataclasses import replace
from pathlib import Path

import httpx
import psycopg
from harness import PG_ADMIN, ROOT
from sqlalchemy import select

from sayso.accounts.memberships import add_member
from sayso.accounts.sessions import start_session
from sayso.accounts.users import create_user, find_user_by_email
from sayso.app import create_app
from sayso.dashboard.security import SESSION_COOKIE
from sayso.seed import COMMON_WORD, RARE_WORD, seed_feedback
from sayso.settings import Settings
from sayso.store import migrate
from sayso.store.clients import create_client
from sayso.store.database import create_db_engine
from sayso.store.schema import feedback, feedback_people

CACHE = Path("/var/tmp/sayso-bench")
USER = "bench@example.com"
PASSWORD = "bench-password-not-secret"  # a throwaway local account


def schema_key() -> str:
    versions = ROOT / "sayso" / "store" / "migrations" / "versions"
    digest = hashlib.sha256()
    for path in sorted(versions.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:10]


def _pg_url(name: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def prepare(kind: str, rows: int) -> tuple[Settings, str]:
    """Settings on a database holding ``rows`` seeded feedback, and the seeded client id."""
    key = schema_key()
    label = f"inbox-{rows}-{key}"
    data_dir = CACHE / f"{kind}-{label}"
    marker = data_dir / "seeded.json"
    for stale in CACHE.glob(f"{kind}-inbox-{rows}-*"):
        if stale != data_dir:
            shutil.rmtree(stale, ignore_errors=True)
    database_url = ""
    if kind == "postgres":
        name = f"sayso_bench_inbox_{rows}_{key}"
        database_url = _pg_url(name)
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            existing = [
                r[0]
                for r in conn.execute(
                    "SELECT datname FROM pg_database WHERE datname LIKE %s",
                    (f"sayso_bench_inbox_{rows}_%",),
                )
            ]
            for other in existing:
                if other != name or not marker.exists():
                    conn.execute(f'DROP DATABASE "{other}" WITH (FORCE)')
            if name not in existing or not marker.exists():
                conn.execute(f'CREATE DATABASE "{name}"')
    elif not marker.exists():
        shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    settings = Settings(data_dir=data_dir, database_url=database_url, cleanup_interval_seconds=0)
    if marker.exists():
        print(f"[{kind}] reusing {rows:,} seeded rows ({data_dir})", flush=True)
        return settings, str(json.loads(marker.read_text())["client_id"])
    engine = create_db_engine(settings)
    migrate.upgrade(engine)
    client_id = create_client(engine, f"bench {rows}").id
    started = time.perf_counter()
    done = 0

    def progress(n: int) -> None:
        nonlocal done
        done += n
        if done % 100_000 < n:
            print(
                f"[{kind}] seeded {done:,} rows, {time.perf_counter() - started:.0f} s", flush=True
            )

    seed_feedback(engine, client_id, rows, days=90, seed=1, progress=progress)
    print(f"[{kind}] seeding {rows:,} rows took {time.perf_counter() - started:.0f} s", flush=True)
    user = create_user(engine, USER, PASSWORD)
    add_member(engine, client_id, user.id, "owner")
    engine.dispose()
    marker.write_text(json.dumps({"client_id": client_id}))
    return settings, client_id


def pages(client_id: str, person: str, item: str) -> list[tuple[str, str]]:
    base = f"/projects/{client_id}"
    return [
        (
            "item, opened from rating=1 (production)",
            f"{base}/feedback/{item}?env=production&rating=1",
        ),
        ("inbox, first page (default environment)", f"{base}/inbox"),
        ("inbox, first page (production)", f"{base}/inbox?env=production"),
        (
            "inbox, rating=1 + has=comment (production)",
            f"{base}/inbox?env=production&rating=1&has=comment",
        ),
        ("inbox, person (production)", f"{base}/inbox?env=production&person={person}"),
        (
            f"inbox, search common word {COMMON_WORD!r}",
            f"{base}/inbox?env=production&q={COMMON_WORD}",
        ),
        (f"inbox, search rare word {RARE_WORD!r}", f"{base}/inbox?env=production&q={RARE_WORD}"),
        ("overview, 30 days (production)", f"{base}/overview?env=production"),
        ("overview, 365 days (production)", f"{base}/overview?env=production&period=365"),
        ("people, by last seen (production)", f"{base}/people?env=production"),
        (
            "people, by count, page 3 (production)",
            f"{base}/people?env=production&sort=count&page=3",
        ),
        ("people, email prefix (production)", f"{base}/people?env=production&q=ana"),
    ]


async def measure(settings: Settings, client_id: str, runs: int) -> list[tuple[str, float, int]]:
    app = create_app(settings)
    engine = app.runtime.engine
    user = find_user_by_email(engine, USER)
    assert user is not None
    token, _ = start_session(engine, user.id)
    with engine.connect() as conn:
        person = conn.execute(
            feedback_people.select()
            .with_only_columns(feedback_people.c.email)
            .where(feedback_people.c.client_id == client_id)
            .order_by(feedback_people.c.count)
            .limit(1)
        ).scalar_one()
        # A rating-1 item a third of the way down production's list: newer and older exist.
        item = conn.execute(
            select(feedback.c.id)
            .where(
                feedback.c.client_id == client_id,
                feedback.c.environment == "production",
                feedback.c.rating == 1,
            )
            .order_by(feedback.c.created_at.desc())
            .offset(1_000)
            .limit(1)
        ).scalar_one()
    await app.runtime.start()
    results = []
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", cookies={SESSION_COOKIE: token}
        ) as client:
            for label, url in pages(client_id, person, item):
                times = []
                for attempt in range(runs + 2):
                    started = time.perf_counter()
                    response = await client.get(url)
                    elapsed = (time.perf_counter() - started) * 1000
                    assert response.status_code == 200, (url, response.status_code)
                    if attempt >= 2:
                        times.append(elapsed)
                rows = response.text.count('class="feedback-row"') + response.text.count(
                    'class="person-row"'
                )
                results.append((label, statistics.median(times), rows))
                print(f"  {label:<48} {statistics.median(times):8.1f} ms", flush=True)
    finally:
        await app.runtime.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    kinds = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    report: dict[str, list[tuple[str, float, int]]] = {}
    for kind in kinds:
        settings, client_id = prepare(kind, args.rows)
        print(f"[{kind}] medians of {args.runs} requests:", flush=True)
        report[kind] = asyncio.run(measure(replace(settings), client_id, args.runs))
    print(f"\n| page ({args.rows:,} rows) | " + " | ".join(f"{k} ms" for k in kinds) + " |")
    print("| --- |" + " ---: |" * len(kinds))
    for index, (label, _, _) in enumerate(report[kinds[0]]):
        cells = " | ".join(f"{report[k][index][1]:.1f}" for k in kinds)
        print(f"| {label} | {cells} |")


if __name__ == "__main__":
    main()
