"""The hostile probe's resource attacks (issue 10, findings 1-5), measured.

    python bench/attacks.py [--db sqlite|postgres] [--seconds 8] [--only NAME …]

Each attack runs against a fresh ``sayso serve`` (one process, its production
uvicorn settings) pinned to CPU 0, with the attackers and a probe in this
process on CPU 1. The probe is one visitor: it alternates ``POST /api/feedback``
and ``GET /api/screenshots/<name>`` on its own connection. For every attack it
prints the probe's median and p99 latency without the attack and under it (the
ratio is what to compare across runs), the server's peak resident memory
during the attack and its memory 3 s after, and what the attack achieved. A bare
uvicorn app in its own process, probed the same way, gives the machine's floor.

Attacks:
  form-flood   4 connections POSTing ~9.9 MB of ``a=1&a=1…`` forms to /login
  login-flood  24 connections signing in with random emails (valid CSRF)
  replay-view  a member reloading the player of a recording made of three
               16 KB gzip chunks that inflate to 16 MiB of ``[{},{},…]``
  slow-conns   300 connections stuck mid-headers and 300 stuck mid-body (with 5 s
               header and body deadlines, so they pass within the window)
  image-flood  4 connections uploading a solid 6300x6300 RGBA PNG (~170 KB)
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import io
import math
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from harness import ROOT, database, free_port, pinned_uvicorn
from PIL import Image

from sayso.accounts.memberships import create_project
from sayso.accounts.users import create_user
from sayso.settings import Settings
from sayso.store import migrate
from sayso.store.database import create_db_engine

PASSWORD = "bench password 123"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Target:
    base: str
    pid: int
    client_id: str = ""
    email: str = ""
    screenshot: str = ""
    peak_kb: int = 0
    notes: list[str] = field(default_factory=list)

    def rss_kb(self) -> int:
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except FileNotFoundError:
            return 0
        match = re.search(r"VmRSS:\s+(\d+)", status)
        return int(match.group(1)) if match else 0


def solid_png(side: int = 6300) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (side, side), (200, 30, 30, 255)).save(out, "PNG", optimize=True)
    return out.getvalue()


async def wait_until_up(http: httpx.AsyncClient) -> None:
    """Until the server answers (at most 30 s: it may be running migrations)."""
    for _ in range(300):
        try:
            await http.get("/api/ping")
            return
        except httpx.HTTPError:
            await asyncio.sleep(0.1)


@asynccontextmanager
async def sayso_serve(database_url: str, **settings_env: str) -> AsyncIterator[Target]:
    """``sayso serve`` as an operator runs it, on CPU 0, with a user and a project."""
    data_dir = Path(tempfile.mkdtemp(prefix="sayso-attack-"))
    port = free_port()
    env = {
        **os.environ,
        "SAYSO_DATA_DIR": str(data_dir),
        "SAYSO_PORT": str(port),
        "SAYSO_LOG_LEVEL": "error",
        **settings_env,
    }
    if database_url:
        env["SAYSO_DATABASE_URL"] = database_url
    settings = Settings.from_env(env)
    engine = create_db_engine(settings)
    migrate.upgrade(engine)
    email = f"owner-{secrets.token_hex(3)}@example.com"
    user = create_user(engine, email, PASSWORD)
    client_id = create_project(engine, user.id, "attacked").id
    engine.dispose()
    process = subprocess.Popen(  # noqa: ASYNC220 (start-up, before any measurement)
        ["taskset", "-c", "0", sys.executable, "-m", "sayso", "serve"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.DEVNULL,
    )
    target = Target(f"http://127.0.0.1:{port}", process.pid, client_id, email)
    try:
        async with httpx.AsyncClient(base_url=target.base, timeout=5) as http:
            await wait_until_up(http)
            shot = await http.post(
                "/api/screenshots",
                data={"clientId": client_id},
                files={"screenshot": ("s.png", solid_png(64), "image/png")},
            )
            target.screenshot = shot.json()["screenshot"]["fileName"]
        yield target
    finally:
        process.terminate()
        process.wait(timeout=30)


@asynccontextmanager
async def bare_uvicorn() -> AsyncIterator[Target]:
    """A bare ASGI app (no framework, no database) under uvicorn, in its own process."""
    port = free_port()
    process = subprocess.Popen(  # noqa: ASYNC220 (start-up, before any measurement)
        pinned_uvicorn("bare_app:app", port, "error"),
        cwd=Path(__file__).parent,
        stderr=subprocess.DEVNULL,
    )
    target = Target(f"http://127.0.0.1:{port}", process.pid, "bare", screenshot="bare")
    try:
        async with httpx.AsyncClient(base_url=target.base, timeout=5) as http:
            await wait_until_up(http)
        yield target
    finally:
        process.terminate()
        process.wait(timeout=30)


async def probe(target: Target, seconds: float) -> dict[str, list[float]]:
    """One visitor, one connection: feedback and a screenshot read, alternately."""
    timings: dict[str, list[float]] = {"feedback": [], "screenshot": []}
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(base_url=target.base, timeout=60) as http:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            await http.post("/api/feedback", json={"clientId": target.client_id, "rating": 3})
            timings["feedback"].append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            await http.get(f"/api/screenshots/{target.screenshot}")
            timings["screenshot"].append((time.perf_counter() - started) * 1000)
            await asyncio.sleep(0.02)
    return timings


async def sample_peak(target: Target, stop: asyncio.Event) -> None:
    while not stop.is_set():
        target.peak_kb = max(target.peak_kb, target.rss_kb())
        await asyncio.sleep(0.05)


async def signed_in(target: Target) -> httpx.AsyncClient:
    http = httpx.AsyncClient(base_url=target.base, timeout=60)
    page = await http.get("/login")
    token = CSRF.search(page.text)
    assert token, page.text
    await http.post(
        "/login", data={"email": target.email, "password": PASSWORD, "csrf_token": token[1]}
    )
    return http


# --- the attacks: each runs until ``stop`` is set and notes what it achieved ---------


async def form_flood(target: Target, stop: asyncio.Event) -> None:
    body = b"a=1&" * 2_475_000  # ~9.9 MB
    head = (
        "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    statuses: list[str] = []

    async def one() -> None:
        while not stop.is_set():
            reader, writer = await asyncio.open_connection("127.0.0.1", port(target))
            try:
                writer.write(head)
                # Like a real attacker: keep sending unless the server answers first.
                for start in range(0, len(body), 1 << 20):
                    if reader.at_eof() or stop.is_set():
                        break
                    writer.write(body[start : start + (1 << 20)])
                    await writer.drain()
                line = await asyncio.wait_for(reader.readline(), 60)
                statuses.append(line.decode(errors="replace").split(" ")[1] if line else "closed")
            except (TimeoutError, OSError):
                statuses.append("reset")
            finally:
                writer.close()

    await asyncio.gather(*(one() for _ in range(4)))
    target.notes.append(f"{len(statuses)} posts, answers {summary(statuses)}")


async def login_flood(target: Target, stop: asyncio.Event) -> None:
    statuses: list[str] = []

    async def one() -> None:
        async with httpx.AsyncClient(base_url=target.base, timeout=60) as http:
            token = CSRF.search((await http.get("/login")).text)
            assert token
            while not stop.is_set():
                email = f"{secrets.token_hex(6)}@example.com"
                data = {"email": email, "password": "wrong password!", "csrf_token": token[1]}
                statuses.append(str((await http.post("/login", data=data)).status_code))

    await asyncio.gather(*(one() for _ in range(24)))
    target.notes.append(f"{len(statuses)} sign-ins, answers {summary(statuses)}")


async def replay_view(target: Target, stop: asyncio.Event) -> None:
    views: list[str] = []
    async with httpx.AsyncClient(base_url=target.base, timeout=60) as http:
        start = await http.post(
            "/api/replay-sessions",
            json={
                "clientId": target.client_id,
                "sdkSessionId": secrets.token_hex(8),
                "startUrl": "https://example.com/",
                "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/120.0",
                "startedAt": int(time.time() * 1000),
            },
        )
        session = start.json()["sessionReplayId"]
        inflated = b"[" + b"{}," * (16 * 1024 * 1024 // 3 - 2) + b"{}]"
        chunk = gzip.compress(inflated, 9)
        for seq in (0, 2, 4):
            put = await http.put(
                f"/api/replay-sessions/{session}/chunks/{seq}",
                content=chunk,
                headers={
                    "X-Usero-Client-Id": target.client_id,
                    "Content-Type": "application/octet-stream",
                },
            )
            target.notes.append(f"chunk {seq}: {len(chunk):,} B gzip → {put.status_code}")
    member = await signed_in(target)
    try:
        while not stop.is_set():
            page = await member.get(f"/projects/{target.client_id}/replays/{session}")
            views.append(str(page.status_code))
    finally:
        await member.aclose()
    target.notes.append(f"{len(views)} player views, answers {summary(views)}")


async def slow_conns(target: Target, stop: asyncio.Event) -> None:
    heads = b"POST /api/feedback HTTP/1.1\r\nHost: x\r\nContent-Type: appl"
    bodies = (
        b"POST /api/feedback HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b'Content-Length: 1000\r\n\r\n{"clientId": "'
    )
    conns = []
    for payload in [heads] * 300 + [bodies] * 300:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port(target))
        except OSError:
            continue
        writer.write(payload)
        conns.append((reader, writer))
    await stop.wait()
    still_open = 0
    for reader, writer in conns:
        try:
            data = await asyncio.wait_for(reader.read(1), 0.01)
            still_open += 0 if (data or reader.at_eof()) else 1
        except TimeoutError:
            still_open += 1
        except OSError:
            pass
        writer.close()
    target.notes.append(f"{len(conns)} opened, {still_open} still open at the end")


async def image_flood(target: Target, stop: asyncio.Event) -> None:
    png = solid_png()
    times: list[float] = []
    statuses: list[str] = []

    async def one() -> None:
        async with httpx.AsyncClient(base_url=target.base, timeout=120) as http:
            while not stop.is_set():
                started = time.perf_counter()
                response = await http.post(
                    "/api/screenshots",
                    data={"clientId": target.client_id},
                    files={"screenshot": ("s.png", png, "image/png")},
                )
                times.append(time.perf_counter() - started)
                statuses.append(str(response.status_code))

    await asyncio.gather(*(one() for _ in range(4)))
    median_s = statistics.median(times) if times else 0.0
    target.notes.append(
        f"PNG {len(png):,} B; {len(times)} uploads, answers {summary(statuses)}, "
        f"median answer {median_s:.2f} s"
    )


# Deadlines shorter than the defaults (20 s for headers, 60 s of body silence)
# so that they pass within the attack's window.
SETTINGS = {
    "slow-conns": {"SAYSO_HEADER_TIMEOUT_SECONDS": "5", "SAYSO_BODY_IDLE_SECONDS": "5"},
}

ATTACKS: dict[str, Callable[[Target, asyncio.Event], Awaitable[None]]] = {
    "form-flood": form_flood,
    "login-flood": login_flood,
    "replay-view": replay_view,
    "slow-conns": slow_conns,
    "image-flood": image_flood,
}


def port(target: Target) -> int:
    return int(target.base.rsplit(":", 1)[1])


def summary(statuses: list[str]) -> str:
    counts: dict[str, int] = {}
    for status in statuses:
        counts[status] = counts.get(status, 0) + 1
    return ", ".join(f"{k}x{v}" for k, v in sorted(counts.items())) or "none"


def quantiles(values: list[float]) -> str:
    if not values:
        return "no requests"
    p99 = sorted(values)[math.ceil(len(values) * 0.99) - 1]  # nearest rank
    return f"p50 {statistics.median(values):7.1f} ms  p99 {p99:7.1f} ms  (n={len(values)})"


async def measure(name: str, target: Target, seconds: float) -> None:
    quiet = await probe(target, 3)
    stop = asyncio.Event()
    target.peak_kb = target.rss_kb()
    sampler = asyncio.create_task(sample_peak(target, stop))
    attack = asyncio.create_task(ATTACKS[name](target, stop))
    await asyncio.sleep(1)  # let the attack ramp up
    loud = await probe(target, seconds)
    stop.set()
    await asyncio.wait_for(attack, 120)
    await sampler
    await asyncio.sleep(3)
    print(f"\n## {name}")
    for kind in ("feedback", "screenshot"):
        ratio = statistics.median(loud[kind]) / statistics.median(quiet[kind])
        print(f"  {kind:10} quiet {quantiles(quiet[kind])}")
        print(f"  {kind:10} under {quantiles(loud[kind])}  x{ratio:.1f}")
    print(
        f"  server RSS peak {target.peak_kb / 1024:.0f} MB, 3 s after {target.rss_kb() / 1024:.0f} MB"
    )
    for note in target.notes:
        print(f"  {note}")


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--only", nargs="*", choices=list(ATTACKS), default=list(ATTACKS))
    args = parser.parse_args()
    os.sched_setaffinity(0, {1})
    async with bare_uvicorn() as bare:
        floor = await probe(bare, 3)
        print(f"bare uvicorn app: feedback {quantiles(floor['feedback'])}")
    for name in args.only:
        with database(args.db) as url:
            async with sayso_serve(url, **SETTINGS.get(name, {})) as target:
                await measure(name, target, args.seconds)


if __name__ == "__main__":
    asyncio.run(main())
