"""Benchmark session-replay chunk ingestion: chunks/s, MB/s and server memory.

    python bench/replay.py [--db sqlite|postgres] [--seconds 10] [--rounds 3]
                           [--sessions 256] [--connections 32]

One uvicorn worker pinned to CPU 0, wrk pinned to CPU 1. Each round starts
``--sessions`` fresh sessions over HTTP, then wrk's connections upload chunks
round-robin across them (``PUT /api/replay-sessions/{id}/chunks/{seq}``, seq
counting up per session — no duplicates, so every request does the full work:
inflate with the cap, check it is a JSON array, write the blob with an fsync,
commit the row through the group-commit writer). The body is one gzip chunk of
rrweb-like events (a full snapshot's worth of DOM, then mouse moves, scrolls
and DOM mutations), about what the SDK sends every few seconds.

The baseline is ``/raw`` in the same server and run: it reads the same body
and returns constant JSON. Prints medians of chunks/s and compressed MB/s for
both, the ratio, the server's peak resident memory, and checks that every
acknowledged chunk is stored.
"""

from __future__ import annotations

import gzip
import json
import random
import statistics
from pathlib import Path

import httpx
from harness import (
    database,
    median,
    print_result,
    require_wrk,
    run_wrk,
    save_result,
    sayso_server,
    wrk_options,
)
from sqlalchemy import func, select

from sayso.store.clients import create_client
from sayso.store.database import create_db_engine
from sayso.store.schema import replay_chunks

UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
LUA = """
local f = io.open("%(body)s", "rb")
local body = f:read("*all")
f:close()
local sessions = {%(sessions)s}
local raw = %(raw)s
local n = 0
local headers = {
  ["Content-Type"] = "application/octet-stream",
  ["Origin"] = "https://yourapp.com",
  ["User-Agent"] = "%(ua)s",
  ["X-Usero-Client-Id"] = "%(client)s",
  ["X-Usero-Event-Count"] = "%(events)d",
  ["X-Usero-Duration-Ms"] = "3000",
}
request = function()
  local path = "/raw"
  if not raw then
    local i = n %% #sessions + 1
    local seq = math.floor(n / #sessions)
    path = "/api/replay-sessions/" .. sessions[i] .. "/chunks/" .. seq
  end
  n = n + 1
  return wrk.format("PUT", path, headers, body)
end
"""


def rrweb_like_chunk(rng: random.Random, events: int = 600) -> list[dict[str, object]]:
    """Events shaped like rrweb's: one DOM mutation batch in ten, the rest input."""
    words = ["order", "invoice", "export", "project", "settings", "team", "report", "csv"]
    out: list[dict[str, object]] = []
    t = 1_764_000_000_000
    for i in range(events):
        t += rng.randint(5, 40)
        if i % 10 == 0:
            adds = [
                {
                    "parentId": rng.randint(1, 5000),
                    "nextId": None,
                    "node": {
                        "type": 2,
                        "tagName": rng.choice(["div", "span", "li", "td", "button"]),
                        "attributes": {"class": f"row-{rng.randint(1, 300)} cell"},
                        "childNodes": [
                            {
                                "type": 3,
                                "textContent": " ".join(rng.choices(words, k=4)),
                                "id": rng.randint(5000, 90000),
                            }
                        ],
                        "id": rng.randint(5000, 90000),
                    },
                }
                for _ in range(rng.randint(1, 6))
            ]
            data: dict[str, object] = {
                "source": 0,
                "texts": [],
                "attributes": [],
                "removes": [],
                "adds": adds,
            }
        elif i % 3 == 0:
            data = {"source": 3, "id": 1, "x": 0, "y": rng.randint(0, 8000)}
        else:
            positions = [
                {
                    "x": rng.randint(0, 1440),
                    "y": rng.randint(0, 900),
                    "id": rng.randint(1, 900),
                    "timeOffset": -rng.randint(0, 500),
                }
                for _ in range(rng.randint(1, 8))
            ]
            data = {"source": 1, "positions": positions}
        out.append({"type": 3, "data": data, "timestamp": t})
    return out


def start_sessions(base: str, client_id: str, count: int) -> list[str]:
    ids = []
    with httpx.Client(base_url=base, timeout=30, headers={"User-Agent": UA}) as http:
        for _ in range(count):
            response = http.post(
                "/api/replay-sessions",
                json={"clientId": client_id, "sdkSessionId": random.randbytes(8).hex()},
                headers={"Origin": "https://yourapp.com"},
            )
            response.raise_for_status()
            ids.append(response.json()["sessionReplayId"])
    return ids


def main() -> None:
    parser = wrk_options(__doc__, connections=32)
    parser.add_argument("--sessions", type=int, default=256)
    args = parser.parse_args()
    require_wrk()

    events = rrweb_like_chunk(random.Random(42))
    inflated = json.dumps(events, separators=(",", ":")).encode()
    body = gzip.compress(inflated, compresslevel=6)
    mb = len(body) / 1e6
    with database(args.db) as url, sayso_server(url) as server:
        engine = create_db_engine(server.settings)
        client_id = create_client(engine, "bench", ["https://yourapp.com"]).id
        body_file = server.data_dir / "chunk.gz"
        body_file.write_bytes(body)
        print(
            f"[{args.db}] chunk: {len(events)} events, {len(inflated):,} bytes JSON, "
            f"{len(body):,} bytes gzip",
            flush=True,
        )

        def lua_for(raw: bool) -> Path:
            sessions = [] if raw else start_sessions(server.base, client_id, args.sessions)
            script = server.data_dir / ("raw.lua" if raw else "replay.lua")
            values = {
                "body": body_file,
                "sessions": ",".join(f'"{s}"' for s in sessions),
                "raw": "true" if raw else "false",
                "ua": UA,
                "client": client_id,
                "events": len(events),
            }
            script.write_text(LUA % values)
            return script

        idle_kb = server.rss_kb()
        run_wrk(server.base + "/raw", lua_for(True), 2, args.connections)  # warm-up
        run_wrk(server.base + "/", lua_for(False), 2, args.connections)
        raw, replay, raw_peaks, replay_peaks = [], [], [], []
        for round_no in range(args.rounds):
            with server.peak_rss() as peak:
                raw.append(
                    run_wrk(server.base + "/", lua_for(True), args.seconds, args.connections)
                )
            raw_peaks.append(peak[0])
            script = lua_for(False)
            with server.peak_rss() as peak:
                replay.append(run_wrk(server.base + "/", script, args.seconds, args.connections))
            replay_peaks.append(peak[0])
            print(
                f"[{args.db}] round {round_no + 1}: raw {raw[-1]['rps']:.0f} chunks/s, "
                f"replay {replay[-1]['rps']:.0f} chunks/s ({replay[-1]['rps'] * mb:.1f} MB/s), "
                f"peak RSS {replay_peaks[-1] / 1024:.0f} MB",
                flush=True,
            )
        with engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(replay_chunks)).scalar_one()
        engine.dispose()

    acknowledged = sum(r["requests"] - r["non2xx"] for r in replay)
    result = {
        "database": args.db,
        "blobs": "local disk",
        "events_per_chunk": len(events),
        "chunk_json_bytes": len(inflated),
        "chunk_gzip_bytes": len(body),
        "sessions_per_round": args.sessions,
        "connections": args.connections,
        "raw_chunks_per_s": median(raw, "rps"),
        "raw_mb_per_s": median(raw, "rps") * mb,
        "replay_chunks_per_s": median(replay, "rps"),
        "replay_mb_per_s": median(replay, "rps") * mb,
        "replay_p50_ms": median(replay, "p50_ms"),
        "replay_p99_ms": median(replay, "p99_ms"),
        "ratio": median(replay, "rps") / median(raw, "rps"),
        "idle_rss_mb": idle_kb / 1024,
        "raw_peak_rss_mb": statistics.median(raw_peaks) / 1024,
        "replay_peak_rss_mb": statistics.median(replay_peaks) / 1024,
        "replay_non2xx": sum(r["non2xx"] for r in replay),
        # Measured rounds only, plus the warm-up's chunks in the table.
        "acknowledged_in_rounds": acknowledged,
        "stored_chunks_total": stored,
    }
    print()
    print_result(result)
    if stored < acknowledged:
        raise SystemExit("fewer chunks stored than acknowledged")
    save_result(f"replay-{args.db}", result)


if __name__ == "__main__":
    main()
