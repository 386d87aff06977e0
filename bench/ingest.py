"""Benchmark ``POST /api/feedback`` against a bare ASGI endpoint in the same server.

    python bench/ingest.py [--db sqlite|postgres|both] [--seconds 10] [--rounds 3]

Starts one uvicorn worker (uvloop + httptools) pinned to CPU 0, then drives it
from wrk pinned to CPU 1 over loopback with 64 connections and a realistic
~700-byte full-field body. Each round measures ``/raw`` (constant JSON, no
framework, no validation, no database) and ``/api/feedback`` (durable: WAL +
synchronous=FULL on SQLite, a 200 only after commit). Prints the medians of
requests/s and p50/p99 latency and the ingest/raw ratio, and checks that every
200 became exactly one stored row.

Needs ``wrk`` (Debian package ``wrk``; ``make bench`` installs it).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sayso.settings import Settings  # noqa: E402
from sayso.store import migrate  # noqa: E402
from sayso.store.clients import create_client  # noqa: E402
from sayso.store.database import create_db_engine  # noqa: E402
from sayso.store.schema import feedback  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def parse_wrk(output: str) -> dict[str, float]:
    def ms(value: str) -> float:
        number, unit = re.match(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
        return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    p50 = ms(re.search(r"\s50%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    p99 = ms(re.search(r"\s99%\s+(\S+)", output).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rps": rps,
        "p50_ms": p50,
        "p99_ms": p99,
        "requests": total,
        "non2xx": int(bad.group(1)) if bad else 0,
        "socket_errors": errors.group(1) if errors else "",
    }


def run_wrk(url: str, lua: Path, seconds: int, connections: int) -> dict[str, float]:
    cmd = [
        "taskset",
        "-c",
        "1",
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(lua),
        url,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=seconds + 60)
    return parse_wrk(out.stdout)


def bench_database(label: str, database_url: str, args: argparse.Namespace) -> dict[str, object]:
    data_dir = Path(tempfile.mkdtemp(prefix="sayso-bench-"))
    env = {**os.environ, "SAYSO_DATA_DIR": str(data_dir), "SAYSO_LOG_LEVEL": "warning"}
    if database_url:
        env["SAYSO_DATABASE_URL"] = database_url
    settings = Settings.from_env(env)
    engine = create_db_engine(settings)
    migrate.upgrade(engine)
    client = create_client(engine, "bench", ["https://yourapp.com"])
    lua = data_dir / "post.lua"
    lua.write_text(LUA % body_for(client.id))
    print(f"[{label}] body is {len(body_for(client.id).encode())} bytes", flush=True)

    port = free_port()
    server = subprocess.Popen(
        [
            "taskset",
            "-c",
            "0",
            sys.executable,
            "-m",
            "uvicorn",
            "bench.asgi_app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(base + "/api/ping", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        run_wrk(base + "/raw", lua, 2, args.connections)  # warm-up
        run_wrk(base + "/api/feedback", lua, 2, args.connections)
        with engine.connect() as conn:
            before = conn.execute(select(func.count()).select_from(feedback)).scalar_one()
        raw, ingest = [], []
        for round_no in range(args.rounds):
            raw.append(run_wrk(base + "/raw", lua, args.seconds, args.connections))
            ingest.append(run_wrk(base + "/api/feedback", lua, args.seconds, args.connections))
            print(
                f"[{label}] round {round_no + 1}: raw {raw[-1]['rps']:.0f} req/s, "
                f"ingest {ingest[-1]['rps']:.0f} req/s",
                flush=True,
            )
        with engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(feedback)).scalar_one() - before
    finally:
        server.terminate()
        server.wait(timeout=30)
        engine.dispose()
        shutil.rmtree(data_dir, ignore_errors=True)

    # wrk counts requests it completed; the server may have committed a few more
    # whose responses arrived after wrk stopped listening.
    acked = sum(r["requests"] - r["non2xx"] for r in ingest)
    failures = sum(r["non2xx"] for r in ingest)

    def med(rows: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    result = {
        "database": label,
        "raw_rps": med(raw, "rps"),
        "raw_p50_ms": med(raw, "p50_ms"),
        "raw_p99_ms": med(raw, "p99_ms"),
        "ingest_rps": med(ingest, "rps"),
        "ingest_p50_ms": med(ingest, "p50_ms"),
        "ingest_p99_ms": med(ingest, "p99_ms"),
        "acknowledged": acked,
        "stored": stored,
        "non2xx": failures,
    }
    result["ratio"] = result["ingest_rps"] / result["raw_rps"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install -y wrk (or `make bench`)")

    results = []
    if args.db in ("sqlite", "both"):
        results.append(bench_database("sqlite", "", args))
    if args.db in ("postgres", "both"):
        name = "sayso_bench_" + secrets.token_hex(4)
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        try:
            results.append(
                bench_database("postgres", f"postgresql://postgres@127.0.0.1:5432/{name}", args)
            )
        finally:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

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
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "ingest.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
