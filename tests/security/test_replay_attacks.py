"""Findings 3 and 12: session replay data written by anyone with a client id.

Finding 3: three 16 KB gzip chunks inflating to 16 MiB each made every player
view parse 48 MiB for its gap markers. Now ingest keeps each chunk's first and
last event timestamps and the views read only rows: the proof is that a
player view still draws the right markers after the blobs are deleted from
under it, and the events stream hands out a 16 MiB chunk in small pieces.

Finding 12: two uploads of one seq with different bodies could leave the row
of one and the bytes of the other. Now each attempt writes its own blob and
the loser deletes only its own. Blobs no row points at (a crash between blob
and row) are swept by ``sayso cleanup`` once older than an hour, on local
disk and S3; a deleted session leaves no empty folder.

Both databases throughout; S3 is moto in server mode.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, select

from sayso.accounts.memberships import create_project
from sayso.accounts.users import create_user
from sayso.cli import main
from sayso.settings import Settings
from sayso.store.blobs import BlobStore, LocalBlobStore
from sayso.store.clients import update_client
from sayso.store.orphans import MARGIN
from sayso.store.replays import (
    INFLATE_PIECE,
    array_items,
    delete_expired_sessions,
    iter_events_json,
    session_blob_folder,
)
from sayso.store.schema import replay_chunks
from tests.support.images import png_bytes
from tests.support.live_server import LiveServer, migrated_server
from tests.support.s3 import S3_BUCKET, s3_overrides

PASSWORD = "correct horse battery staple"
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
MIB = 1024 * 1024
T0 = 1_795_000_000_000
DATA = re.compile(r'<script type="application/json" id="replay-data">(.*?)</script>', re.S)


# --- helpers -----------------------------------------------------------------------


def member_of_new_project(server: LiveServer, engine: Engine) -> tuple[str, httpx.Client]:
    """A new project and its owner, signed in: (client id, their browser)."""
    email = f"owner-{secrets.token_hex(4)}@example.com"
    user = create_user(engine, email, PASSWORD)
    client_id = create_project(engine, user.id, f"Replays {secrets.token_hex(3)}").id
    http = httpx.Client(base_url=server.url, timeout=60, follow_redirects=False)
    token = re.search(r'name="csrf_token" value="([^"]+)"', http.get("/login").text)
    assert token
    answer = http.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert answer.status_code == 303, answer.text
    return client_id, http


def start(server: LiveServer, client_id: str) -> str:
    response = httpx.post(
        f"{server.url}/api/replay-sessions",
        json={"clientId": client_id, "sdkSessionId": secrets.token_hex(8), "userAgent": CHROME},
        headers={"User-Agent": CHROME},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return str(response.json()["sessionReplayId"])


def put(
    server: LiveServer, client_id: str, session_id: str, seq: int, body: bytes, **headers: str
) -> httpx.Response:
    return httpx.put(
        f"{server.url}/api/replay-sessions/{session_id}/chunks/{seq}",
        content=body,
        headers={"X-Usero-Client-Id": client_id, "User-Agent": CHROME, **headers},
        timeout=60,
    )


def events_inflating_to_16_mib(first: int, last: int) -> bytes:
    """1,024 events of 16 KB each, stamped ``first`` at the start, ``last`` at the
    end and in between: 16 MiB of JSON that gzip takes to about 20 KB."""
    event = b'{"type":3,"timestamp":%d,"data":{"text":"%s"}}'
    pad = b"x" * (16 * 1024 - 60)
    middle = event % ((first + last) // 2, pad)
    return b"[" + b",".join([event % (first, pad), *[middle] * 1_022, event % (last, pad)]) + b"]"


def chunk_times(engine: Engine, session_id: str) -> list[tuple[int, int | None, int | None]]:
    c = replay_chunks.c
    query = (
        select(c.seq, c.first_event_ms, c.last_event_ms)
        .where(c.session_id == session_id)
        .order_by(c.seq)
    )
    with engine.connect() as conn:
        return [(r[0], r[1], r[2]) for r in conn.execute(query)]


def session_blobs(blobs: BlobStore, client_id: str, session_id: str) -> list[str]:
    return sorted(b.key for b in blobs.listing(session_blob_folder(client_id, session_id)))


def gaps_shown(http: httpx.Client, client_id: str, session_id: str) -> list[dict[str, Any]]:
    page = http.get(f"/projects/{client_id}/replays/{session_id}")
    assert page.status_code == 200, page.text
    match = DATA.search(page.text)
    assert match
    return list(json.loads(match.group(1))["gaps"])


# --- finding 3: gap markers without reading blobs -----------------------------------


def test_gap_markers_of_chunks_inflating_to_16_mib_come_from_rows_not_blobs(
    server: LiveServer, engine: Engine
) -> None:
    client_id, member = member_of_new_project(server, engine)
    session_id = start(server, client_id)
    spans = {0: (T0, T0 + 1_000), 2: (T0 + 5_000, T0 + 6_000), 4: (T0 + 9_000, T0 + 9_500)}
    for seq, (first, last) in spans.items():
        body = gzip.compress(events_inflating_to_16_mib(first, last), 9)
        assert len(body) < 64 * 1024 < 16 * MIB - 4096 < len(gzip.decompress(body))
        assert put(server, client_id, session_id, seq, body).status_code == 200

    assert chunk_times(engine, session_id) == [(s, *span) for s, span in spans.items()]
    blobs = server.app.runtime.blobs
    for key in session_blobs(blobs, client_id, session_id):
        blobs.delete(key)  # the view must not need them

    assert gaps_shown(member, client_id, session_id) == [
        {"dropped": 1, "after": T0 + 1_000, "before": T0 + 5_000},
        {"dropped": 1, "after": T0 + 6_000, "before": T0 + 9_000},
    ]
    member.close()


def test_the_probes_empty_objects_are_stored_without_times_and_get_no_marker(
    server: LiveServer, engine: Engine
) -> None:
    # The exact attack: 16 MiB of [{},{},…] at seqs 0, 2 and 4. Its items aren't
    # events, so there is nothing to mark a gap between; nothing is parsed to
    # find that out when the page is viewed.
    client_id, member = member_of_new_project(server, engine)
    session_id = start(server, client_id)
    attack = gzip.compress(b"[" + b"{}," * (16 * MIB // 3 - 2) + b"{}]", 9)
    for seq in (0, 2, 4):
        assert put(server, client_id, session_id, seq, attack).status_code == 200

    assert chunk_times(engine, session_id) == [(0, None, None), (2, None, None), (4, None, None)]
    assert gaps_shown(member, client_id, session_id) == []
    member.close()


def test_an_ordinary_recording_gets_its_markers_from_each_chunks_earliest_and_latest_event(
    server: LiveServer, engine: Engine
) -> None:
    client_id, member = member_of_new_project(server, engine)
    session_id = start(server, client_id)

    def chunk(*stamps: int) -> bytes:
        return gzip.compress(
            json.dumps([{"type": 3, "data": {}, "timestamp": t} for t in stamps]).encode()
        )

    # seq 0 lost; its events slightly out of order; 2 reported lost before seq 2; seq 4 lost
    put(server, client_id, session_id, 1, chunk(T0 + 300, T0 + 100, T0 + 200))
    put(
        server,
        client_id,
        session_id,
        2,
        chunk(T0 + 4_000, T0 + 4_500),
        **{"X-Usero-Dropped-Before": "2"},
    )
    put(
        server,
        client_id,
        session_id,
        3,
        json.dumps([{"type": 3, "timestamp": T0 + 5_000.7}]).encode(),
    )
    put(server, client_id, session_id, 5, chunk(T0 + 8_000))

    assert chunk_times(engine, session_id) == [
        (1, T0 + 100, T0 + 300),
        (2, T0 + 4_000, T0 + 4_500),
        (3, T0 + 5_000, T0 + 5_000),
        (5, T0 + 8_000, T0 + 8_000),
    ]
    assert gaps_shown(member, client_id, session_id) == [
        {"dropped": 1, "after": None, "before": T0 + 100},
        {"dropped": 2, "after": T0 + 300, "before": T0 + 4_000},
        {"dropped": 1, "after": T0 + 5_000, "before": T0 + 8_000},
    ]
    member.close()


def test_the_events_stream_hands_out_a_16_mib_chunk_in_small_pieces(
    server: LiveServer, engine: Engine
) -> None:
    client_id, member = member_of_new_project(server, engine)
    session_id = start(server, client_id)
    big = events_inflating_to_16_mib(T0, T0 + 10)
    put(server, client_id, session_id, 0, gzip.compress(b"[]"))
    put(server, client_id, session_id, 1, gzip.compress(b"  [ \n" + big[1:-1] + b" ]\n\t "))
    put(server, client_id, session_id, 2, b'[{"type":3,"timestamp":%d}]' % (T0 + 20))

    pieces = list(iter_events_json(engine, server.app.runtime.blobs, session_id))
    streamed = member.get(f"/projects/{client_id}/replays/{session_id}/events.json")

    assert max(len(piece) for piece in pieces) <= INFLATE_PIECE
    joined = b"".join(pieces)
    assert joined == b"[" + big[1:-1] + b',{"type":3,"timestamp":%d}]' % (T0 + 20)
    assert streamed.status_code == 200
    assert streamed.content == joined
    member.close()


# --- finding 12: racing uploads, orphans, empty folders ------------------------------


def test_uploads_racing_on_one_seq_with_different_bodies_leave_the_winners_bytes_only(
    server: LiveServer, engine: Engine
) -> None:
    client_id = create_project(
        engine, create_user(engine, f"r-{secrets.token_hex(4)}@example.com", PASSWORD).id, "Race"
    ).id
    session_id = start(server, client_id)
    racers = 12
    # Attempt i sends i + 1 events stamped T0 + i: its size, count and times differ.
    bodies = [
        gzip.compress(
            json.dumps([{"type": 3, "timestamp": T0 + i, "pad": "x" * 20_000}] * (i + 1)).encode()
        )
        for i in range(racers)
    ]
    url = f"{server.url}/api/replay-sessions/{session_id}/chunks"

    for seq in range(4):
        barrier = threading.Barrier(racers)

        def upload(i: int, seq: int = seq, barrier: threading.Barrier = barrier) -> int:
            with httpx.Client(timeout=60) as http:
                http.get(f"{server.url}/api/ping")  # connected before the start line
                barrier.wait()
                return http.put(
                    f"{url}/{seq}",
                    content=bodies[i],
                    headers={"X-Usero-Client-Id": client_id, "X-Usero-Event-Count": str(i + 1)},
                ).status_code

        with ThreadPoolExecutor(max_workers=racers) as pool:
            assert list(pool.map(upload, range(racers))) == [200] * racers

    blobs = server.app.runtime.blobs
    c = replay_chunks.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(c.seq, c.blob_key, c.compressed_bytes, c.event_count, c.first_event_ms)
            .where(c.session_id == session_id)
            .order_by(c.seq)
        ).all()
    assert [row.seq for row in rows] == [0, 1, 2, 3]
    for row in rows:
        stored = blobs.get(row.blob_key)
        assert stored is not None
        winner = row.event_count - 1
        assert stored == bodies[winner], f"seq {row.seq}: the row and the bytes disagree"
        assert row.compressed_bytes == len(stored)
        assert row.first_event_ms == T0 + winner
    # Exactly one blob per seq: every loser deleted its own.
    assert session_blobs(blobs, client_id, session_id) == sorted(row.blob_key for row in rows)


def _backdate(settings: Settings, blobs: BlobStore, key: str, when: datetime) -> None:
    """Make a blob look last written at ``when``: the file's mtime on local disk,
    the object's LastModified on the moto server (it runs in this process)."""
    if isinstance(blobs, LocalBlobStore):
        os.utime(blobs.root / key, (when.timestamp(), when.timestamp()))
        return
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    prefix = settings.storage_url.removeprefix(f"s3://{S3_BUCKET}/")
    bucket = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].get_bucket(S3_BUCKET)
    bucket.keys[f"{prefix}/{key}"].last_modified = when.astimezone(UTC).replace(tzinfo=None)


def _cli_env(settings: Settings) -> dict[str, str]:
    return {
        "SAYSO_DATA_DIR": str(settings.data_dir),
        "SAYSO_DATABASE_URL": settings.database_url,
        "SAYSO_STORAGE_URL": settings.storage_url,
        "SAYSO_S3_ENDPOINT_URL": settings.s3_endpoint_url,
        "SAYSO_S3_ACCESS_KEY_ID": settings.s3_access_key_id,
        "SAYSO_S3_SECRET_ACCESS_KEY": settings.s3_secret_access_key,
        "SAYSO_S3_REGION": settings.s3_region,
    }


@pytest.fixture(params=["disk", "s3"])
def stored_site(
    request: pytest.FixtureRequest,
    backend: str,
    fresh_settings: Callable[..., Settings],
    s3_endpoint: str,
) -> Iterator[tuple[LiveServer, Engine]]:
    overrides = s3_overrides(s3_endpoint, secrets.token_hex(4)) if request.param == "s3" else {}
    with migrated_server(fresh_settings(backend, **overrides)) as (server, engine):
        yield server, engine


def test_cleanup_sweeps_old_blobs_no_row_points_at_and_keeps_fresh_and_referenced_ones(
    stored_site: tuple[LiveServer, Engine],
) -> None:
    server, engine = stored_site
    settings, blobs = server.settings, server.app.runtime.blobs
    client_id = create_project(
        engine, create_user(engine, f"c-{secrets.token_hex(4)}@example.com", PASSWORD).id, "Sweep"
    ).id
    session_id = start(server, client_id)
    assert (
        put(
            server, client_id, session_id, 0, gzip.compress(b'[{"type":3,"timestamp":1}]')
        ).status_code
        == 200
    )
    shot = httpx.post(
        f"{server.url}/api/screenshots",
        data={"clientId": client_id},
        files={"screenshot": ("s.png", png_bytes(), "image/png")},
        timeout=30,
    )
    assert shot.status_code == 200, shot.text
    referenced = [
        *session_blobs(blobs, client_id, session_id),
        f"screenshots/{shot.json()['screenshot']['fileName']}",
    ]
    folder = session_blob_folder(client_id, session_id)
    # A process killed between blob and row: a chunk and a screenshot nobody names.
    old_orphans = [f"{folder}/1-{secrets.token_hex(8)}", f"screenshots/{client_id}/lost.png"]
    fresh_orphans = [f"{folder}/2-{secrets.token_hex(8)}", f"screenshots/{client_id}/new.png"]
    for key in old_orphans + fresh_orphans:
        blobs.put(key, b"orphan", "application/octet-stream")
    long_ago = datetime.now(UTC) - MARGIN - timedelta(minutes=5)
    for key in old_orphans + referenced:  # referenced ones are old too: kept for their rows
        _backdate(settings, blobs, key, long_ago)

    result = CliRunner(env=_cli_env(settings)).invoke(main, ["cleanup"], catch_exceptions=False)

    assert result.exit_code == 0, result.output
    assert "deleted 2 blobs no row points at" in result.output
    for key in old_orphans:
        assert blobs.get(key) is None, key
    for key in fresh_orphans + referenced:
        assert blobs.get(key) is not None, key
    replayed = b"".join(iter_events_json(engine, blobs, session_id))
    assert json.loads(replayed) == [{"type": 3, "timestamp": 1}]


def test_a_running_server_sweeps_orphans_in_its_periodic_clean_up(
    backend: str, fresh_settings: Callable[..., Settings]
) -> None:
    settings = fresh_settings(backend, cleanup_interval_seconds=0.2)
    with migrated_server(settings) as (server, _):
        blobs = server.app.runtime.blobs
        key = f"replays/client_gone/{secrets.token_hex(8)}/0-{secrets.token_hex(8)}"
        blobs.put(key, b"orphan", "application/gzip")
        _backdate(server.settings, blobs, key, datetime.now(UTC) - MARGIN - timedelta(minutes=1))
        deadline = time.monotonic() + 20
        while blobs.get(key) is not None:
            assert time.monotonic() < deadline, "the server never swept the orphan"
            time.sleep(0.1)
        assert isinstance(blobs, LocalBlobStore)
        # The sweep deletes the file, then its emptied folders: the test may look between.
        while (blobs.root / "replays").exists():
            assert time.monotonic() < deadline, "its folders did not go with it"
            time.sleep(0.1)


def test_retention_leaves_no_empty_session_folder_on_disk(
    server: LiveServer, engine: Engine
) -> None:
    client_id = create_project(
        engine, create_user(engine, f"e-{secrets.token_hex(4)}@example.com", PASSWORD).id, "Old"
    ).id
    update_client(engine, client_id, replay_retention_days=1)
    session_id = start(server, client_id)
    for seq in (0, 1):
        assert put(server, client_id, session_id, seq, gzip.compress(b"[]")).status_code == 200
    blobs = server.app.runtime.blobs
    assert isinstance(blobs, LocalBlobStore)
    folder = blobs.root / session_blob_folder(client_id, session_id)
    assert len(list(folder.iterdir())) == 2

    delete_expired_sessions(engine, blobs, now=datetime.now(UTC) + timedelta(days=2))

    assert not folder.exists()
    assert not folder.parent.exists(), "the client's replay folder had only that session"


@pytest.mark.parametrize(
    "array",
    [
        b"[]",
        b" \n[ \t ]\r\n ",
        b"[1]",
        b'[{"a": "]  ["}, [2, []], "x   y"]  ',
        b'\n[\n  {"timestamp": 1},\n  {"timestamp": 2}\n]\n\n\n',
    ],
)
def test_a_chunks_items_come_out_the_same_however_the_stream_cuts_it(array: bytes) -> None:
    expected = json.loads(array)
    for size in (1, 2, 3, 7, len(array)):
        pieces = [array[i : i + size] for i in range(0, len(array), size)]
        items = list(array_items(pieces))
        assert json.loads(b"[" + b"".join(items) + b"]") == expected, (size, items)
        assert (items == []) == (expected == []), "an empty array yields nothing at all"


def test_a_session_holds_at_most_100_001_chunks(server: LiveServer, client_id: str) -> None:
    # Any seq up to a billion was accepted: one anonymous session could grow
    # without bound, and its pages read every one of its chunk rows.
    session_id = start(server, client_id)
    body = gzip.compress(b'[{"type":3,"timestamp":1}]')

    assert put(server, client_id, session_id, 100_000, body).status_code == 200
    refused = put(server, client_id, session_id, 100_001, body)

    assert refused.status_code == 400
    assert "100,000" in refused.json()["error"]
