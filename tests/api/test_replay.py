"""Session replay ingestion as Usero's SDK speaks it, end to end over HTTP.

Every test runs on SQLite and PostgreSQL, each with blobs on local disk and in
S3 (moto in server mode): start a session, upload chunks (gzip or plain, out of
order, twice), finalise, and the failure modes — 404, 403, 409, 413, 400 —
checked against what was stored (rows and blobs), not just the status.
"""

from __future__ import annotations

import gzip
import json
import resource
import secrets
import socket
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import update

from sayso.cli import main
from sayso.settings import Settings
from sayso.store.clients import create_client, delete_client, update_client
from sayso.store.replay_views import SessionFilters, find_sessions
from sayso.store.replays import (
    FINALISE_GRACE,
    close_idle_sessions,
    delete_expired_sessions,
    get_session,
    iter_events_json,
    session_blob_folder,
)
from sayso.store.schema import replay_sessions
from tests.support.live_server import LiveServer, migrated_server
from tests.support.replay import BROWSER_UA
from tests.support.stack import Stack

MB = 1024 * 1024


def events(n: int, start: int = 0) -> list[dict[str, Any]]:
    """rrweb-shaped events: type, data, timestamp."""
    return [
        {"type": 3, "data": {"source": 1, "positions": [{"x": i, "y": i}]}, "timestamp": start + i}
        for i in range(n)
    ]


def gz(value: Any) -> bytes:
    return gzip.compress(json.dumps(value).encode())


def bomb(inflated_bytes: int) -> bytes:
    """A gzip stream of ``inflated_bytes`` zeros, built without inflating them:
    after a full flush, every further MiB of zeros compresses to the same block."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    zeros = bytes(MB)
    head = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    return head + block * (inflated_bytes // MB - 1) + compressor.flush()


# --- starting a session -------------------------------------------------------------


def test_a_session_starts_with_accepted_and_a_session_replay_id(stack: Stack) -> None:
    client_id = stack.client()
    started = stack.start(client_id, "tab-1")

    assert started == {"accepted": True, "sessionReplayId": started["sessionReplayId"]}
    session = get_session(stack.engine, started["sessionReplayId"])
    assert session is not None
    assert (session.client_id, session.sdk_session_id) == (client_id, "tab-1")
    assert session.anonymous_id == "anon-1"
    assert session.start_url == "https://app.example.com/start"
    assert session.user_agent == BROWSER_UA
    assert session.started_at == datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
    assert session.is_open
    assert session.chunk_count == 0


def test_starting_again_with_the_same_sdk_session_id_returns_the_same_id(stack: Stack) -> None:
    client_id = stack.client()
    first = stack.start(client_id, "tab-reload")["sessionReplayId"]
    again = stack.start(client_id, "tab-reload")["sessionReplayId"]
    other_tab = stack.start(client_id, "tab-other")["sessionReplayId"]
    # The same sdkSessionId under another client is another session.
    other_client = stack.start(stack.client(), "tab-reload")["sessionReplayId"]

    assert again == first
    assert len({first, other_tab, other_client}) == 3
    assert stack.session_count(client_id) == 2


def test_concurrent_starts_of_one_tab_on_two_nodes_all_get_one_session(stack: Stack) -> None:
    client_id = stack.client()
    body = {"clientId": client_id, "sdkSessionId": "racing-tab", "userAgent": BROWSER_UA}
    with LiveServer(stack.settings) as second_node:
        urls = [stack.server.url, second_node.url] * 12

        def start(url: str) -> str:
            response = httpx.post(f"{url}/api/replay-sessions", json=body, timeout=60)
            assert response.status_code == 200, response.text
            return str(response.json()["sessionReplayId"])

        with ThreadPoolExecutor(max_workers=len(urls)) as pool:
            ids = set(pool.map(start, urls))

    assert len(ids) == 1
    assert stack.session_count(client_id) == 1


def test_a_reload_after_finalise_resumes_the_session(stack: Stack) -> None:
    client_id = stack.client()
    session_id = stack.start(client_id, "tab-r")["sessionReplayId"]
    assert stack.finalise(session_id, client_id).status_code == 200

    finalised_long_ago(stack, session_id)  # past the grace: only a real reopen takes chunks

    assert stack.start(client_id, "tab-r")["sessionReplayId"] == session_id
    session = get_session(stack.engine, session_id)
    assert session is not None
    assert session.is_open
    assert stack.put(session_id, 5, gz(events(2)), client_id).status_code == 200


def test_the_previous_pages_late_finalise_does_not_close_the_reloaded_page(
    stack: Stack,
) -> None:
    # Page A starts at 10:00 and is reloaded at 10:03; A's beacon (ended 10:02)
    # only arrives after page B's start. Same browser, same clock: it is stale.
    client_id = stack.client()
    session_id = stack.start(client_id, "tab-late", startedAt="2026-11-27T10:00:00Z")[
        "sessionReplayId"
    ]
    stack.start(client_id, "tab-late", startedAt="2026-11-27T10:03:00Z")

    late = stack.finalise(session_id, client_id, "2026-11-27T10:02:00Z")

    assert late.status_code == 200
    assert late.json() == {"success": True}
    session = get_session(stack.engine, session_id)
    assert session is not None
    assert session.is_open
    assert session.resumed_at == datetime(2026, 11, 27, 10, 3, tzinfo=UTC)
    # Still open, not finalised, so no grace period runs out: B's chunks are taken.
    assert stack.put(session_id, 0, gz(events(1)), client_id).status_code == 200
    # Page B's own finalise closes it.
    assert stack.finalise(session_id, client_id, "2026-11-27T10:09:00Z").status_code == 200
    closed = get_session(stack.engine, session_id)
    assert closed is not None
    assert closed.closed_reason == "finalised"
    assert closed.ended_at == datetime(2026, 11, 27, 10, 9, tzinfo=UTC)


def test_a_repeated_beacon_of_the_page_before_does_not_close_the_resumed_session(
    stack: Stack,
) -> None:
    client_id = stack.client()
    session_id = stack.start(client_id, "tab-again", startedAt="2026-11-27T10:00:00Z")[
        "sessionReplayId"
    ]
    assert stack.finalise(session_id, client_id, "2026-11-27T10:05:00Z").status_code == 200
    stack.start(client_id, "tab-again", startedAt="2026-11-27T10:06:00Z")  # reopens it

    again = stack.finalise(session_id, client_id, "2026-11-27T10:05:00Z")

    assert again.status_code == 200
    session = get_session(stack.engine, session_id)
    assert session is not None
    assert session.is_open
    assert session.ended_at is None


def test_a_finalise_before_the_first_start_is_ignored_and_one_at_it_closes(
    stack: Stack,
) -> None:
    client_id = stack.client()
    session_id = stack.start(client_id, startedAt="2026-11-27T10:00:00Z")["sessionReplayId"]

    assert stack.finalise(session_id, client_id, "2026-11-27T09:59:59Z").status_code == 200
    session = get_session(stack.engine, session_id)
    assert session is not None
    assert session.is_open

    assert stack.finalise(session_id, client_id, "2026-11-27T10:00:00Z").status_code == 200
    closed = get_session(stack.engine, session_id)
    assert closed is not None
    assert closed.closed_reason == "finalised"


def test_a_finalise_without_ended_at_closes_the_session_as_before(stack: Stack) -> None:
    client_id = stack.client()
    session_id = stack.start(client_id, "tab-no-end", startedAt="2026-11-27T10:00:00Z")[
        "sessionReplayId"
    ]
    stack.start(client_id, "tab-no-end", startedAt="2026-11-27T10:03:00Z")

    assert stack.finalise(session_id, client_id, None).status_code == 200

    session = get_session(stack.engine, session_id)
    assert session is not None
    assert session.closed_reason == "finalised"
    assert session.ended_at is not None


def test_a_late_retried_start_does_not_move_the_resume_time_back(stack: Stack) -> None:
    client_id = stack.client()
    session_id = stack.start(client_id, "tab-retry", startedAt="2026-11-27T10:00:00Z")[
        "sessionReplayId"
    ]
    stack.start(client_id, "tab-retry", startedAt="2026-11-27T10:06:00Z")
    stack.start(client_id, "tab-retry", startedAt="2026-11-27T10:03:00Z")
    # A restart without startedAt leaves it alone too.
    stack.start(client_id, "tab-retry", startedAt=None)

    session = get_session(stack.engine, session_id)
    assert session is not None
    assert session.resumed_at == datetime(2026, 11, 27, 10, 6, tzinfo=UTC)
    assert stack.finalise(session_id, client_id, "2026-11-27T10:05:00Z").status_code == 200
    still_open = get_session(stack.engine, session_id)
    assert still_open is not None
    assert still_open.is_open


@pytest.mark.parametrize(
    "user_agent",
    [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/131.0.0.0 Safari/537.36",
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    ],
)
def test_bots_are_told_not_to_record_and_nothing_is_stored(stack: Stack, user_agent: str) -> None:
    client_id = stack.client()
    for headers, field in (({"User-Agent": user_agent}, BROWSER_UA), ({}, user_agent)):
        response = stack.http.post(
            "/api/replay-sessions",
            json={"clientId": client_id, "sdkSessionId": "bot-tab", "userAgent": field},
            headers=headers,
        )
        assert response.status_code == 200
        assert response.json() == {"accepted": False, "dropReason": "bot"}
    assert stack.session_count(client_id) == 0


def test_a_phone_whose_model_contains_bot_is_not_a_bot(stack: Stack) -> None:
    ua = "Mozilla/5.0 (Linux; Android 10; Cubot_X19) AppleWebKit/537.36 Chrome/90 Mobile"
    assert stack.start(stack.client(), userAgent=ua)["accepted"] is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"clientId": None, "sdkSessionId": "x"}, "clientId"),
        ({"clientId": 5, "sdkSessionId": "x"}, "clientId"),
        ({"sdkSessionId": ""}, "sdkSessionId"),
        ({"sdkSessionId": "x" * 129}, "sdkSessionId"),
        ({"sdkSessionId": "x", "startedAt": "yesterday"}, "startedAt"),
        ({"sdkSessionId": "x", "startedAt": True}, "startedAt"),
    ],
)
def test_an_invalid_start_is_a_400_naming_the_field(
    stack: Stack, body: dict[str, Any], field: str
) -> None:
    client_id = stack.client()
    response = stack.http.post("/api/replay-sessions", json={"clientId": client_id, **body})
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "Invalid data provided"
    assert field in response.json()["issues"]
    assert stack.session_count(client_id) == 0


def test_an_invalid_start_or_finalise_names_every_failing_field_at_once(stack: Stack) -> None:
    start = stack.http.post(
        "/api/replay-sessions",
        json={"clientId": 5, "sdkSessionId": "", "anonymousId": "a\u0000", "startedAt": True},
    )
    assert start.status_code == 400, start.text
    assert start.json() == {
        "error": "Invalid data provided",
        "issues": {
            "clientId": ["Expected a string, received number"],
            "sdkSessionId": ["Required"],
            "anonymousId": ["Must not contain NUL characters"],
            "startedAt": ["Must be an ISO 8601 time or epoch milliseconds"],
        },
    }
    session_id = stack.session(stack.client())
    finalise = stack.http.post(
        f"/api/replay-sessions/{session_id}/finalise",
        json={"endedAt": "1999-12-31T23:59:59Z"},
    )
    assert finalise.status_code == 400, finalise.text
    assert finalise.json()["issues"] == {
        "clientId": ["Required"],
        "endedAt": ["Must be a plausible time (years 2000 to 2099)"],
    }


def test_garbage_and_unknown_clients_are_refused_with_json(stack: Stack) -> None:
    for body in (b'{"clientId": "\xff", "sdkSessionId": "x"}', b'{"clientId": "\xed\xa0\x80"}'):
        bad_utf8 = stack.http.post("/api/replay-sessions", content=body)
        assert bad_utf8.status_code == 400, body
        assert bad_utf8.json() == {"error": "Request body must be valid JSON"}
    garbage = stack.http.post("/api/replay-sessions", content=b"{nope")
    unknown = stack.http.post(
        "/api/replay-sessions", json={"clientId": "client_nope", "sdkSessionId": "x"}
    )
    assert (garbage.status_code, unknown.status_code) == (400, 404)
    assert "error" in garbage.json()
    assert "error" in unknown.json()


def test_epoch_milliseconds_are_accepted_for_started_at(stack: Stack) -> None:
    session_id = stack.start(stack.client(), startedAt=1_800_000_000_000)["sessionReplayId"]
    session = get_session(stack.engine, session_id)
    assert session is not None
    assert session.started_at == datetime.fromtimestamp(1_800_000_000, UTC)


# --- chunks ---------------------------------------------------------------------------


def test_gzip_and_plain_chunks_are_stored_gzip_and_come_back_in_seq_order(stack: Stack) -> None:
    client_id = stack.client()
    session_id = stack.session(client_id)
    first, second, third = events(3, 0), events(2, 100), events(4, 200)

    # Out of order, one plain (a browser without CompressionStream).
    assert stack.put(session_id, 2, gz(third), client_id).status_code == 200
    assert stack.put(session_id, 0, json.dumps(first).encode(), client_id).status_code == 200
    assert stack.put(session_id, 1, gz(second), client_id).status_code == 200

    rows = stack.chunk_rows(session_id)
    assert [row["seq"] for row in rows] == [0, 1, 2]
    for row in rows:
        blob = stack.blobs.get(row["blob_key"])
        assert blob is not None
        assert blob[:2] == b"\x1f\x8b"
        assert row["compressed_bytes"] == len(blob)
        assert row["blob_key"].startswith(f"{session_blob_folder(client_id, session_id)}/")
        assert row["blob_key"].rpartition("/")[2].startswith(f"{row['seq']}-")
    assert stack.session_blobs(client_id, session_id) == sorted(r["blob_key"] for r in rows)
    assert (rows[0]["event_count"], rows[0]["duration_ms"]) == (2, 3000)
    joined = b"".join(iter_events_json(stack.engine, stack.blobs, session_id))
    assert json.loads(joined) == first + second + third


def test_the_same_seq_twice_is_acknowledged_and_stored_once(stack: Stack) -> None:
    client_id = stack.client()
    session_id = stack.session(client_id)
    original = gz(events(2))

    first = stack.put(session_id, 0, original, client_id)
    retry = stack.put(session_id, 0, original, client_id)
    # A different body under a stored seq does not replace what was acknowledged.
    different = stack.put(session_id, 0, gz(events(9)), client_id)

    assert [r.status_code for r in (first, retry, different)] == [200, 200, 200]
    assert retry.json()["duplicate"] is True
    rows = stack.chunk_rows(session_id)
    assert len(rows) == 1
    assert stack.blobs.get(rows[0]["blob_key"]) == original
    assert stack.session_blobs(client_id, session_id) == [rows[0]["blob_key"]]


def test_concurrent_retries_of_one_chunk_store_it_once(stack: Stack) -> None:
    client_id = stack.client()
    session_id = stack.session(client_id)
    body = gz(events(50))
    url = f"{stack.server.url}/api/replay-sessions/{session_id}/chunks/7"

    def put(_: int) -> int:
        headers = {"X-Usero-Client-Id": client_id}
        return httpx.put(url, content=body, headers=headers, timeout=60).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(put, range(8)))

    assert statuses == [200] * 8
    rows = stack.chunk_rows(session_id)
    assert len(rows) == 1
    assert stack.session_blobs(client_id, session_id) == [rows[0]["blob_key"]]
    assert json.loads(b"".join(iter_events_json(stack.engine, stack.blobs, session_id))) == (
        events(50)
    )


def test_dropped_before_is_recorded_for_the_player_to_mark_the_gap(stack: Stack) -> None:
    client_id = stack.client()
    session_id = stack.session(client_id)
    stack.put(session_id, 0, gz(events(1)), client_id)
    stack.put(session_id, 1, gz(events(1)), client_id, {"X-Usero-Dropped-Before": "3"})

    assert [r["dropped_before"] for r in stack.chunk_rows(session_id)] == [0, 3]
    session = get_session(stack.engine, session_id)
    assert session is not None
    assert (session.chunk_count, session.dropped_chunks, session.duration_ms) == (2, 3, 6000)
    assert session.compressed_bytes == sum(
        r["compressed_bytes"] for r in stack.chunk_rows(session_id)
    )


def finalised_long_ago(stack: Stack, session_id: str) -> None:
    """Move a finalise past the grace period in which late chunks are still taken."""
    with stack.engine.begin() as conn:
        conn.execute(
            update(replay_sessions)
            .where(replay_sessions.c.id == session_id)
            .values(closed_at=datetime.now(UTC) - FINALISE_GRACE - timedelta(seconds=1))
        )


def test_a_chunk_for_a_finalised_session_is_a_409_and_not_stored(stack: Stack) -> None:
    client_id = stack.client()
    session_id = stack.session(client_id)
    stack.put(session_id, 0, gz(events(1)), client_id)
    assert stack.finalise(session_id, client_id).status_code == 200
    finalised_long_ago(stack, session_id)

    late = stack.put(session_id, 1, gz(events(1)), client_id)

    assert late.status_code == 409
    assert "error" in late.json()
    rows = stack.chunk_rows(session_id)
    assert len(rows) == 1
    assert stack.session_blobs(client_id, session_id) == [rows[0]["blob_key"]]


def test_the_pages_last_chunk_arriving_just_after_its_finalise_beacon_is_kept(
    stack: Stack,
) -> None:
    # The beacon needs no CORS preflight and the chunk PUT does, so it can
    # overtake the page's last chunk on a slow network.
    client_id = stack.client()
    session_id = stack.session(client_id)
    assert stack.finalise(session_id, client_id).status_code == 200

    last = stack.put(session_id, 0, gz(events(1)), client_id)

    assert last.status_code == 200
    assert len(stack.chunk_rows(session_id)) == 1
    session = get_session(stack.engine, session_id)
    assert session is not None
    assert session.closed_reason == "finalised"


def test_a_chunk_under_another_clients_id_is_refused_and_nothing_is_stored(stack: Stack) -> None:
    owner, intruder = stack.client(), stack.client()
    session_id = stack.session(owner)

    wrong = stack.put(session_id, 0, gz(events(1)), intruder)
    missing = stack.http.put(f"/api/replay-sessions/{session_id}/chunks/0", content=gz(events(1)))

    assert wrong.status_code == 403
    assert missing.status_code == 400
    assert stack.chunk_rows(session_id) == []
    for client_id in (owner, intruder):
        assert stack.session_blobs(client_id, session_id) == []


@pytest.mark.parametrize(
    "session_id", ["01kmzzzzzzzzzzzzzzzzzzzzzz", "not-an-id", "..%2F..%2Fetc", "A" * 26]
)
def test_a_chunk_for_an_unknown_session_is_a_404(stack: Stack, session_id: str) -> None:
    response = stack.put(session_id, 0, gz(events(1)), stack.client())
    assert response.status_code == 404
    assert "error" in response.json()


@pytest.mark.parametrize(
    "body",
    [
        b"not json at all",
        b'{"an": "object"}',
        b"[1, 2",
        b"\x1f\x8b\x08\x00garbage-after-a-gzip-magic",
        gzip.compress(b"{}", mtime=0),
        gzip.compress(b"[1]", mtime=0)[:-6],  # truncated
        gzip.compress(b"[1]", mtime=0) + b"trailing",
        b"",
        b'["\xff"]',  # not UTF-8 inside a string: the player could not read it
        gzip.compress(b'[{"t": "\xed\xa0\x80"}]', mtime=0),
    ],
)
def test_a_chunk_that_is_not_a_json_array_is_a_400(stack: Stack, body: bytes) -> None:
    client_id = stack.client()
    session_id = stack.session(client_id)
    response = stack.put(session_id, 0, body, client_id)
    assert response.status_code == 400, response.text
    assert "error" in response.json()
    assert stack.chunk_rows(session_id) == []


@pytest.mark.parametrize(
    ("name", "value"),
    [("X-Usero-Event-Count", "many"), ("X-Usero-Duration-Ms", "-5")],
)
def test_malformed_count_headers_are_a_400(stack: Stack, name: str, value: str) -> None:
    client_id = stack.client()
    session_id = stack.session(client_id)
    assert stack.put(session_id, 0, gz(events(1)), client_id, {name: value}).status_code == 400
    assert stack.put(session_id, 10**12, gz(events(1)), client_id).status_code == 400


def test_digits_that_are_not_ascii_are_a_400_not_a_server_error(stack: Stack) -> None:
    # "²".isdigit() is true in Python, but int("²") raises.
    client_id = stack.client()
    session_id = stack.session(client_id)
    superscript_seq = stack.http.put(
        f"/api/replay-sessions/{session_id}/chunks/%C2%B2",
        content=gz(events(1)),
        headers={"X-Usero-Client-Id": client_id},
    )
    superscript_count = stack.http.put(
        f"/api/replay-sessions/{session_id}/chunks/0",
        content=gz(events(1)),
        headers={b"X-Usero-Client-Id": client_id.encode(), b"X-Usero-Event-Count": b"\xb2"},
    )
    assert (superscript_seq.status_code, superscript_count.status_code) == (400, 400)
    assert stack.chunk_rows(session_id) == []


def raw_put(stack: Stack, path: str, head: bytes, blocks: list[bytes]) -> bytes:
    """Send a request over a bare socket and read the answer. (httpx would still
    be sending when the server answers early and closes, and fail at random.)"""
    with socket.create_connection(("127.0.0.1", stack.server.port), timeout=30) as sock:
        sock.sendall(f"PUT {path} HTTP/1.1\r\nHost: x\r\n".encode() + head + b"\r\n")
        for block in blocks:
            sock.sendall(block)
        received = b""
        while piece := sock.recv(65536):
            received += piece
    return received


def test_a_declared_body_over_4_mb_is_a_413_before_it_is_read(stack: Stack) -> None:
    client_id = stack.client()
    session_id = stack.session(client_id)
    head = f"X-Usero-Client-Id: {client_id}\r\nContent-Length: {4 * MB + 1}\r\n".encode()

    answer = raw_put(stack, f"/api/replay-sessions/{session_id}/chunks/0", head, [])

    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert stack.chunk_rows(session_id) == []


def test_a_streamed_body_over_4_mb_is_a_413(stack: Stack) -> None:
    client_id = stack.client()
    session_id = stack.session(client_id)
    head = f"X-Usero-Client-Id: {client_id}\r\nTransfer-Encoding: chunked\r\n".encode()
    # Chunked, so there is no length to refuse up front: the server counts.
    # Just past 4 MB, so the server has read all of it when it answers.
    data = secrets.token_bytes(MB)
    blocks = [b"%x\r\n%s\r\n" % (MB, data)] * 4 + [b"1000\r\n%s\r\n" % data[:4096]]

    answer = raw_put(stack, f"/api/replay-sessions/{session_id}/chunks/0", head, blocks)

    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert stack.chunk_rows(session_id) == []


def test_over_16_mb_once_inflated_is_a_413(stack: Stack) -> None:
    client_id = stack.client()
    session_id = stack.session(client_id)
    big = json.dumps(["x" * 1000] * (17 * 1024)).encode()
    assert len(big) > 16 * MB
    response = stack.put(session_id, 0, gzip.compress(big), client_id)
    assert response.status_code == 413
    assert stack.chunk_rows(session_id) == []


def test_a_gzip_bomb_is_refused_after_16_mb_without_inflating_the_rest(stack: Stack) -> None:
    client_id = stack.client()
    session_id = stack.session(client_id)
    payload = bomb(2048 * MB)  # 2 GiB of zeros in about 2 MB
    assert len(payload) < 4 * MB
    # The server runs in this process: its CPU time and peak memory are ours.
    cpu_before = time.process_time()
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB

    response = stack.put(session_id, 0, payload, client_id)

    cpu_used = time.process_time() - cpu_before
    peak_growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    assert response.status_code == 413
    assert "decompressed" in response.json()["error"]
    # Inflating all 2 GiB would take seconds of CPU and gigabytes; the cap
    # stops it after 16 MB. (CPU time, not wall time: a busy machine can't
    # make this flaky.)
    assert cpu_used < 1.0, cpu_used
    assert peak_growth_mb < 200, peak_growth_mb
    assert stack.chunk_rows(session_id) == []


# --- finalising -----------------------------------------------------------------------


def test_finalise_accepts_text_plain_and_is_idempotent(stack: Stack) -> None:
    client_id = stack.client()
    session_id = stack.session(client_id)

    first = stack.finalise(session_id, client_id)
    again = stack.finalise(session_id, client_id, headers={"Content-Type": "application/json"})

    assert (first.status_code, again.status_code) == (200, 200)
    session = get_session(stack.engine, session_id)
    assert session is not None
    assert session.closed_reason == "finalised"
    assert session.ended_at == datetime(2026, 11, 27, 10, 5, tzinfo=UTC)


def test_finalise_refuses_unknown_sessions_other_clients_and_garbage(stack: Stack) -> None:
    owner = stack.client()
    session_id = stack.session(owner)
    unknown = stack.finalise("01kmzzzzzzzzzzzzzzzzzzzzzz", owner)
    intruder = stack.finalise(session_id, stack.client())
    garbage = stack.http.post(f"/api/replay-sessions/{session_id}/finalise", content=b"x")

    assert (unknown.status_code, intruder.status_code, garbage.status_code) == (404, 403, 400)
    session = get_session(stack.engine, session_id)
    assert session is not None
    assert session.is_open


# --- CORS and the allowlist -------------------------------------------------------------


def test_the_chunk_preflight_allows_put_and_the_usero_headers(stack: Stack) -> None:
    requested = (
        "content-type,x-usero-client-id,x-usero-event-count,x-usero-duration-ms,"
        "x-usero-dropped-before"
    )
    response = stack.http.options(
        "/api/replay-sessions/01kmzzzzzzzzzzzzzzzzzzzzzz/chunks/0",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": requested,
        },
    )
    assert response.status_code == 204
    assert "PUT" in response.headers["access-control-allow-methods"]
    assert response.headers["access-control-allow-headers"] == requested
    assert response.headers["access-control-allow-origin"] == "*"

    start = stack.http.options(
        "/api/replay-sessions",
        headers={
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert start.status_code == 204
    assert "POST" in start.headers["access-control-allow-methods"]


def test_every_replay_response_carries_the_cors_header(stack: Stack) -> None:
    client_id = stack.client()
    session_id = stack.session(client_id)
    responses = [
        stack.put(session_id, 0, gz(events(1)), client_id),
        stack.put(session_id, 1, b"junk", client_id),
        stack.finalise(session_id, client_id),
    ]
    finalised_long_ago(stack, session_id)
    responses.append(stack.put(session_id, 2, gz(events(1)), client_id))
    assert [r.status_code for r in responses] == [200, 400, 200, 409]
    assert all(r.headers["access-control-allow-origin"] == "*" for r in responses)


def test_the_clients_allowlist_applies_to_every_replay_endpoint(stack: Stack) -> None:
    client_id = stack.client("https://app.example.com")
    good = {"Origin": "https://app.example.com"}
    bad = {"Origin": "https://evil.example.net"}
    body = {"clientId": client_id, "sdkSessionId": "tab"}

    refused = stack.http.post("/api/replay-sessions", json=body, headers=bad)
    started = stack.http.post("/api/replay-sessions", json=body, headers=good)
    assert (refused.status_code, started.status_code) == (403, 200)
    assert refused.json() == {"error": "Domain not allowed"}
    session_id = started.json()["sessionReplayId"]

    assert stack.put(session_id, 0, gz(events(1)), client_id, bad).status_code == 403
    assert stack.chunk_rows(session_id) == []
    assert stack.put(session_id, 0, gz(events(1)), client_id, good).status_code == 200
    assert stack.finalise(session_id, client_id, headers=bad).status_code == 403
    assert stack.finalise(session_id, client_id, headers=good).status_code == 200


# --- clean-up, retention, reading back ---------------------------------------------------


def test_sessions_idle_past_the_timeout_are_closed_and_refuse_chunks(stack: Stack) -> None:
    client_id = stack.client()
    quiet, silent = stack.session(client_id), stack.session(client_id)
    stack.put(quiet, 0, gz(events(1)), client_id)
    now = datetime.now(UTC)
    idle = timedelta(minutes=30)

    close_idle_sessions(stack.engine, idle, now=now + timedelta(minutes=10))
    assert all(get_session(stack.engine, s).is_open for s in (quiet, silent))  # type: ignore[union-attr]

    assert close_idle_sessions(stack.engine, idle, now=now + timedelta(minutes=31)) >= 2

    for session_id in (quiet, silent):
        session = get_session(stack.engine, session_id)
        assert session is not None
        assert session.closed_reason == "idle"
        assert session.ended_at is not None
        assert session.ended_at <= now + timedelta(seconds=5)
    assert stack.put(quiet, 1, gz(events(1)), client_id).status_code == 409


def test_retention_deletes_old_sessions_with_their_blobs_and_keeps_the_rest(stack: Stack) -> None:
    short, default = stack.client(), stack.client()
    update_client(stack.engine, short, replay_retention_days=1)
    old, kept = stack.session(short), stack.session(default)
    for session_id, client_id in ((old, short), (kept, default)):
        stack.put(session_id, 0, gz(events(1)), client_id)
        stack.put(session_id, 1, gz(events(1)), client_id)

    delete_expired_sessions(stack.engine, stack.blobs, now=datetime.now(UTC) + timedelta(days=2))

    assert get_session(stack.engine, old) is None
    assert stack.chunk_rows(old) == []
    assert stack.session_blobs(short, old) == []
    assert get_session(stack.engine, kept) is not None
    assert len(stack.session_blobs(default, kept)) == 2


def test_deleting_a_client_deletes_its_replay_blobs(stack: Stack) -> None:
    client_id = stack.client()
    session_id = stack.session(client_id)
    stack.put(session_id, 0, gz(events(1)), client_id)

    assert delete_client(stack.engine, stack.blobs, client_id)

    assert get_session(stack.engine, session_id) is None
    assert stack.session_blobs(client_id, session_id) == []


def test_a_clients_sessions_are_listed_newest_first_with_their_totals(stack: Stack) -> None:
    client_id = stack.client()
    older, newer = stack.session(client_id), stack.session(client_id)
    stack.put(newer, 0, gz(events(3)), client_id)

    listed = find_sessions(stack.engine, client_id, SessionFilters()).rows
    assert [s.id for s in listed] == [newer, older]
    assert (listed[0].chunk_count, listed[1].chunk_count) == (1, 0)
    page_one = find_sessions(stack.engine, client_id, SessionFilters(), limit=1)
    assert [s.id for s in page_one.rows] == [newer]
    assert page_one.older is not None
    page_two = find_sessions(stack.engine, client_id, SessionFilters(), before=page_one.older)
    assert [s.id for s in page_two.rows] == [older]
    assert page_two.older is None


def test_the_cli_prints_the_events_of_every_chunk_as_one_json_array(stack: Stack) -> None:
    client_id = stack.client()
    session_id = stack.session(client_id)
    chunks = [events(5, 0), [], events(3, 500), events(2, 900)]
    for seq in (3, 1, 0, 2):  # out of order; one plain
        body = json.dumps(chunks[seq]).encode() if seq == 2 else gz(chunks[seq])
        assert stack.put(session_id, seq, body, client_id).status_code == 200
    env = {
        "SAYSO_DATA_DIR": str(stack.settings.data_dir),
        "SAYSO_DATABASE_URL": stack.settings.database_url,
        "SAYSO_STORAGE_URL": stack.settings.storage_url,
        "SAYSO_S3_ENDPOINT_URL": stack.settings.s3_endpoint_url,
        "SAYSO_S3_ACCESS_KEY_ID": stack.settings.s3_access_key_id,
        "SAYSO_S3_SECRET_ACCESS_KEY": stack.settings.s3_secret_access_key,
        "SAYSO_S3_REGION": stack.settings.s3_region,
    }
    runner = CliRunner(env=env)

    result = runner.invoke(main, ["replays", "events", session_id], catch_exceptions=False)
    missing = runner.invoke(main, ["replays", "events", "01kmzzzzzzzzzzzzzzzzzzzzzz"])

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout_bytes) == [e for chunk in chunks for e in chunk]
    assert missing.exit_code != 0
    assert "no session replay" in missing.output


def test_an_empty_session_prints_an_empty_array(stack: Stack) -> None:
    session_id = stack.session(stack.client())
    assert b"".join(iter_events_json(stack.engine, stack.blobs, session_id)) == b"[]"


def test_the_cli_sets_a_clients_replay_retention_and_cleanup_applies_it(stack: Stack) -> None:
    client_id = stack.client()
    runner = CliRunner(
        env={
            "SAYSO_DATA_DIR": str(stack.settings.data_dir),
            "SAYSO_DATABASE_URL": stack.settings.database_url,
        }
    )

    updated = runner.invoke(main, ["clients", "update", client_id, "--replay-retention-days", "7"])
    refused = runner.invoke(main, ["clients", "update", client_id, "--replay-retention-days", "0"])
    listed = runner.invoke(main, ["clients", "list", "--json"])
    cleaned = runner.invoke(main, ["cleanup"])

    assert updated.exit_code == 0, updated.output
    assert refused.exit_code != 0
    records = {r["id"]: r for r in map(json.loads, listed.stdout.splitlines())}
    assert records[client_id]["replayRetentionDays"] == 7
    assert cleaned.exit_code == 0, cleaned.output
    assert "idle session replays" in cleaned.output


def test_a_running_server_closes_a_session_soon_after_it_goes_idle(
    fresh_settings: Callable[..., Settings],
) -> None:
    # The idle check runs apart from the hourly clean-up (here both are made
    # fast); the session is made to look idle by moving its start back.
    settings = fresh_settings("sqlite", cleanup_interval_seconds=0.2)
    with (
        migrated_server(settings) as (server, engine),
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        client_id = create_client(engine, "idle").id
        started = http.post(
            "/api/replay-sessions", json={"clientId": client_id, "sdkSessionId": "tab"}
        )
        session_id = started.json()["sessionReplayId"]
        with engine.begin() as conn:
            conn.execute(
                update(replay_sessions)
                .where(replay_sessions.c.id == session_id)
                .values(created_at=datetime.now(UTC) - timedelta(minutes=31))
            )
        deadline = time.monotonic() + 20
        while (session := get_session(engine, session_id)) is not None and session.is_open:
            assert time.monotonic() < deadline, "the server never closed the idle session"
            time.sleep(0.1)
    assert session is not None
    assert session.closed_reason == "idle"
