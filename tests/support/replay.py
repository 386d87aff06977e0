"""Recording replays over the public API, as the SDK does: start a session, put chunks."""

from __future__ import annotations

import gzip
import json
import secrets
from typing import Any

import httpx

from tests.support.live_server import LiveServer

# A real browser's user agent: replay refuses to record bots.
BROWSER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def start_session(
    site: LiveServer, client_id: str, start_url: str = "https://shop.example/", **extra: Any
) -> str:
    body = {
        "clientId": client_id,
        "sdkSessionId": secrets.token_hex(8),
        "anonymousId": "anon-" + secrets.token_hex(4),
        "startUrl": start_url,
        "userAgent": BROWSER_UA,
        "startedAt": "2026-11-27T10:00:00.000Z",
        **extra,
    }
    response = httpx.post(
        f"{site.url}/api/replay-sessions",
        json=body,
        headers={"User-Agent": BROWSER_UA},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] is True, response.text
    return str(response.json()["sessionReplayId"])


def put_chunk(
    site: LiveServer,
    client_id: str,
    session_id: str,
    seq: int,
    events: list[dict[str, Any]],
    dropped_before: int = 0,
) -> None:
    headers = {
        "Content-Type": "application/octet-stream",
        "User-Agent": BROWSER_UA,
        "X-Usero-Client-Id": client_id,
        "X-Usero-Event-Count": str(len(events)),
        "X-Usero-Duration-Ms": str(events[-1]["timestamp"] - events[0]["timestamp"]),
    }
    if dropped_before:
        headers["X-Usero-Dropped-Before"] = str(dropped_before)
    response = httpx.put(
        f"{site.url}/api/replay-sessions/{session_id}/chunks/{seq}",
        content=gzip.compress(json.dumps(events).encode()),
        headers=headers,
        timeout=30,
    )
    assert response.status_code == 200, response.text
