"""What every benchmark here shares: a Sayso server pinned to CPU 0, wrk pinned to
CPU 1, throwaway databases, and medians.

The server runs ``bench/asgi_app.py``: Sayso plus ``/raw``, a bare ASGI
endpoint that reads the request body and returns constant JSON. Measuring both
in the same process and run turns noisy absolute numbers into a stable ratio.
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
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sayso.settings import Settings  # noqa: E402
from sayso.store import migrate  # noqa: E402
from sayso.store.database import create_db_engine  # noqa: E402

PG_ADMIN = os.environ.get(
    "SAYSO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def wrk_options(
    doc: str, *, connections: int, databases: tuple[str, ...] = ("sqlite", "postgres")
) -> argparse.ArgumentParser:
    """The options every wrk benchmark takes; the first of ``databases`` is the default."""
    parser = argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=list(databases), default=databases[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=connections)
    return parser


def pinned_uvicorn(app: str, port: int, log_level: str) -> list[str]:
    """The command for one uvicorn worker (uvloop + httptools) on CPU 0."""
    return [
        *("taskset", "-c", "0", sys.executable, "-m", "uvicorn", app),
        *("--host", "127.0.0.1", "--port", str(port)),
        *("--loop", "uvloop", "--http", "httptools"),
        *("--no-access-log", "--log-level", log_level),
    ]


def print_result(result: dict[str, object]) -> None:
    """One aligned line per figure, floats to two places."""
    width = max(map(len, result))
    for key, value in result.items():
        shown = f"{value:.2f}" if isinstance(value, float) else str(value)
        print(f"{key:<{width}} {shown}")


def save_result(name: str, result: object) -> None:
    """``bench/results/<name>.json`` (git-ignored), for comparing runs."""
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(result, indent=2))


def require_wrk() -> None:
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install -y wrk (scripts/bench does it)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def parse_wrk(output: str) -> dict[str, float]:
    def number(pattern: str) -> str:
        match = re.search(pattern, output)
        if match is None:
            raise ValueError(f"wrk output has no {pattern!r}:\n{output}")
        return match.group(1)

    def ms(value: str) -> float:
        amount, unit = re.fullmatch(r"([\d.]+)(\w+)", value).groups()  # type: ignore[union-attr]
        return float(amount) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {
        "rps": float(number(r"Requests/sec:\s+([\d.]+)")),
        "p50_ms": ms(number(r"\s50%\s+(\S+)")),
        "p99_ms": ms(number(r"\s99%\s+(\S+)")),
        "requests": int(number(r"(\d+) requests in")),
        "non2xx": int(bad.group(1)) if bad else 0,
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


def median(rows: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in rows)


@contextmanager
def database(kind: str) -> Iterator[str]:
    """A database URL for ``kind`` ("sqlite": empty, i.e. the data dir's file)."""
    if kind == "sqlite":
        yield ""
        return
    name = "sayso_bench_" + secrets.token_hex(4)
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@dataclass
class Server:
    base: str
    process: subprocess.Popen[bytes]
    settings: Settings
    data_dir: Path
    rss_samples: list[int] = field(default_factory=list)

    def rss_kb(self) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    @contextmanager
    def peak_rss(self) -> Iterator[list[int]]:
        """Samples the server's resident memory every 50 ms; yields [peak_kb] after."""
        peak = [0]
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.05):
                peak[0] = max(peak[0], self.rss_kb())

        thread = threading.Thread(target=sample)
        thread.start()
        try:
            yield peak
        finally:
            stop.set()
            thread.join()


@contextmanager
def sayso_server(database_url: str) -> Iterator[Server]:
    """One uvicorn worker (uvloop + httptools) pinned to CPU 0, on a fresh data dir."""
    data_dir = Path(tempfile.mkdtemp(prefix="sayso-bench-"))
    port = free_port()
    env = {
        **os.environ,
        "SAYSO_DATA_DIR": str(data_dir),
        "SAYSO_LOG_LEVEL": "warning",
        # The load comes from one client on purpose: no per-client limits here.
        "SAYSO_SCREENSHOT_MEGAPIXELS_PER_MINUTE": "0",
        "SAYSO_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    if database_url:
        env["SAYSO_DATABASE_URL"] = database_url
    settings = Settings.from_env(env)
    engine = create_db_engine(settings)
    migrate.upgrade(engine)
    engine.dispose()
    process = subprocess.Popen(
        pinned_uvicorn("bench.asgi_app:app", port, "warning"), cwd=ROOT, env=env
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(base + "/api/ping", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield Server(base, process, settings, data_dir)
    finally:
        process.terminate()
        process.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)
