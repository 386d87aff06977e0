"""Benchmark ``POST /api/screenshots``: uploads/s and peak server memory.

    python bench/screenshots.py [--db sqlite|postgres] [--seconds 10] [--rounds 3]

16 parallel uploaders (wrk, 16 connections, pinned to CPU 1) send the same
~1 MB PNG of random pixels (the worst case to decode and re-encode) to one
uvicorn worker pinned to CPU 0. Each round measures ``/raw`` (reads the same
multipart body, returns constant JSON) and the real upload (stream to a spooled
temp file, decode with a pixel cap, strip metadata, re-encode, write the blob
atomically, commit the row). Prints medians, the upload/raw ratio and the
server's peak resident memory in each phase, sampled every 50 ms.
"""

from __future__ import annotations

import io
import os
import statistics

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
from PIL import Image

from sayso.store.clients import create_client
from sayso.store.database import create_db_engine

BOUNDARY = "----sayso-bench-boundary"
LUA = """
local f = io.open("%s", "rb")
local body = f:read("*all")
f:close()
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = "multipart/form-data; boundary=%s"
"""


def noise_png(target_bytes: int = 1_000_000) -> bytes:
    side = int((target_bytes / 3) ** 0.5)
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def multipart(client_id: str, png: bytes) -> bytes:
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="clientId"\r\n\r\n{client_id}\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="screenshot"; filename="s.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + png
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def main() -> None:
    parser = wrk_options(__doc__, connections=16)
    args = parser.parse_args()
    require_wrk()

    png = noise_png()
    with database(args.db) as url, sayso_server(url) as server:
        engine = create_db_engine(server.settings)
        client_id = create_client(engine, "bench").id
        engine.dispose()
        body_file = server.data_dir / "upload.body"
        body_file.write_bytes(multipart(client_id, png))
        lua = server.data_dir / "upload.lua"
        lua.write_text(LUA % (body_file, BOUNDARY))
        print(
            f"[{args.db}] PNG is {len(png):,} bytes; body {body_file.stat().st_size:,} bytes",
            flush=True,
        )

        idle_kb = server.rss_kb()
        run_wrk(server.base + "/raw", lua, 2, args.connections)  # warm-up
        run_wrk(server.base + "/api/screenshots", lua, 2, args.connections)
        raw, upload, raw_peaks, upload_peaks = [], [], [], []
        for round_no in range(args.rounds):
            with server.peak_rss() as peak:
                raw.append(run_wrk(server.base + "/raw", lua, args.seconds, args.connections))
            raw_peaks.append(peak[0])
            with server.peak_rss() as peak:
                upload.append(
                    run_wrk(server.base + "/api/screenshots", lua, args.seconds, args.connections)
                )
            upload_peaks.append(peak[0])
            print(
                f"[{args.db}] round {round_no + 1}: raw {raw[-1]['rps']:.1f} req/s, "
                f"upload {upload[-1]['rps']:.1f}/s, peak RSS {upload_peaks[-1] / 1024:.0f} MB",
                flush=True,
            )

    result = {
        "database": args.db,
        "png_bytes": len(png),
        "connections": args.connections,
        "raw_rps": median(raw, "rps"),
        "upload_rps": median(upload, "rps"),
        "upload_p50_ms": median(upload, "p50_ms"),
        "upload_p99_ms": median(upload, "p99_ms"),
        "ratio": median(upload, "rps") / median(raw, "rps"),
        "idle_rss_mb": idle_kb / 1024,
        "raw_peak_rss_mb": statistics.median(raw_peaks) / 1024,
        "upload_peak_rss_mb": statistics.median(upload_peaks) / 1024,
        "upload_non2xx": sum(r["non2xx"] for r in upload),
    }
    print()
    print_result(result)
    save_result("screenshots", result)


if __name__ == "__main__":
    main()
