"""Benchmark ``POST /api/feedback`` against a bare ASGI endpoint in the same server.

    python bench/ingest.py [--db sqlite|postgres|both] [--seconds 10] [--rounds 3]

Starts one uvicorn worker (uvloop + httptools) pinned to CPU 0, then drives it
from wrk pinned to CPU 1 over loopback with 64 connections and a realistic
~700-byte full-field body. Each round measures ``/raw`` (constant JSON, no
framework, no validation, no database) and ``/api/feedback`` (durable: WAL +
synchronous=FULL on SQLite, a 200 only after commit). Prints the medians of
requests/s and p50/p99 latency and the ingest/raw ratio, and checks that every
200 became exactly one stored row.

Needs ``wrk`` (Debian package ``wrk``; ``scripts/bench`` installs it).
"""

from __future__ import annotations

import argparse
import json

from harness import (
    database,
    median,
    require_wrk,
    run_wrk,
    save_result,
    sayso_server,
    wrk_options,
)
from sqlalchemy import func, select

from sayso.store.clients import create_client
from sayso.store.database import create_db_engine
from sayso.store.schema import feedback

LUA = """
wrk.method = "POST"
wrk.body = [[%s]]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Origin"] = "https://yourapp.com"
wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
"""


def body_for(client_id: str) -> str:
    payload = {
        "clientId": client_id,
        "rating": 2,
        "comment": "Export to CSV times out on large projects; the spinner keeps going "
        "and after a minute I get a blank page.",
        "userEmail": "jamie@example.com",
        "pageUrl": "https://yourapp.com/projects/42/export?format=csv",
        "pageTitle": "Export project · Yourapp",
        "referrer": "https://yourapp.com/projects/42",
        "environment": "production",
        "metadata": {
            "appVersion": "2.4.1",
            "os": "macOS 15.2",
            "build": 1842,
            "viewport": {"width": 1440, "height": 900},
            "language": "en-GB",
            "timezone": "Europe/London",
            "flags": ["new-export", "beta-dashboard"],
        },
        "sessionReplayId": "01m8f9v4y0wc9fhva7at6gbr0x",
        "replayOffsetMs": 183250,
    }
    return json.dumps(payload, ensure_ascii=False)


def bench_database(label: str, database_url: str, args: argparse.Namespace) -> dict[str, object]:
    with sayso_server(database_url) as server:
        engine = create_db_engine(server.settings)
        client = create_client(engine, "bench", ["https://yourapp.com"])
        lua = server.data_dir / "post.lua"
        lua.write_text(LUA % body_for(client.id))
        print(f"[{label}] body is {len(body_for(client.id).encode())} bytes", flush=True)

        run_wrk(server.base + "/raw", lua, 2, args.connections)  # warm-up
        run_wrk(server.base + "/api/feedback", lua, 2, args.connections)
        with engine.connect() as conn:
            before = conn.execute(select(func.count()).select_from(feedback)).scalar_one()
        raw, ingest = [], []
        for round_no in range(args.rounds):
            raw.append(run_wrk(server.base + "/raw", lua, args.seconds, args.connections))
            ingest.append(
                run_wrk(server.base + "/api/feedback", lua, args.seconds, args.connections)
            )
            print(
                f"[{label}] round {round_no + 1}: raw {raw[-1]['rps']:.0f} req/s, "
                f"ingest {ingest[-1]['rps']:.0f} req/s",
                flush=True,
            )
        with engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(feedback)).scalar_one() - before
        engine.dispose()

    # wrk counts requests it completed; the server may have committed a few more
    # whose responses arrived after wrk stopped listening.
    result: dict[str, object] = {
        "database": label,
        "raw_rps": median(raw, "rps"),
        "raw_p50_ms": median(raw, "p50_ms"),
        "raw_p99_ms": median(raw, "p99_ms"),
        "ingest_rps": median(ingest, "rps"),
        "ingest_p50_ms": median(ingest, "p50_ms"),
        "ingest_p99_ms": median(ingest, "p99_ms"),
        "acknowledged": sum(r["requests"] - r["non2xx"] for r in ingest),
        "stored": stored,
        "non2xx": sum(r["non2xx"] for r in ingest),
    }
    result["ratio"] = median(ingest, "rps") / median(raw, "rps")
    return result


def main() -> None:
    parser = wrk_options(__doc__, connections=64, databases=("both", "sqlite", "postgres"))
    args = parser.parse_args()
    require_wrk()

    results = []
    for kind in ["sqlite", "postgres"] if args.db == "both" else [args.db]:
        with database(kind) as url:
            results.append(bench_database(kind, url, args))
    print()
    print(f"{'database':<10} {'endpoint':<14} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    for r in results:
        print(
            f"{r['database']:<10} {'raw ASGI':<14} {r['raw_rps']:>9.0f} {r['raw_p50_ms']:>8.2f} {r['raw_p99_ms']:>8.2f}"
        )
        print(
            f"{r['database']:<10} {'/api/feedback':<14} {r['ingest_rps']:>9.0f} {r['ingest_p50_ms']:>8.2f} {r['ingest_p99_ms']:>8.2f}"
        )
        print(
            f"{r['database']:<10} ingest/raw ratio {r['ratio']:.3f}; acknowledged {r['acknowledged']}, "
            f"stored {r['stored']}, non-2xx {r['non2xx']}"
        )
    save_result("ingest", results)


if __name__ == "__main__":
    main()
