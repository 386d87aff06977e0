"""The ingest stack the replay and screenshot API tests run on: one live server
on SQLite or PostgreSQL, with blobs on local disk or in S3 (moto), and the
calls the SDK makes against it.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import Engine, func, select

from sayso.settings import Settings
from sayso.store.blobs import BlobStore
from sayso.store.clients import create_client
from sayso.store.replays import session_blob_folder
from sayso.store.schema import replay_chunks, replay_sessions
from tests.support.images import png_bytes
from tests.support.live_server import LiveServer
from tests.support.replay import BROWSER_UA

# database-blob store: every combination a deployment can run.
STACKS = ("sqlite-disk", "postgres-disk", "sqlite-s3", "postgres-s3")


@dataclass
class Stack:
    settings: Settings
    engine: Engine
    server: LiveServer
    http: httpx.Client
    blobs: BlobStore

    def client(self, *origins: str) -> str:
        """A new project (allowing ``origins``, or any when none)."""
        return create_client(self.engine, f"stack {secrets.token_hex(3)}", origins).id

    # --- screenshots --------------------------------------------------------

    def upload(
        self,
        client_id: str | None,
        data: bytes | None,
        *,
        filename: str = "shot.png",
        content_type: str = "image/png",
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        form = {} if client_id is None else {"clientId": client_id}
        files = None if data is None else {"screenshot": (filename, data, content_type)}
        return self.http.post("/api/screenshots", data=form, files=files, headers=headers)

    def uploaded(self, client_id: str, data: bytes | None = None) -> dict[str, Any]:
        response = self.upload(client_id, data or png_bytes())
        assert response.status_code == 200, response.text
        return response.json()["screenshot"]  # type: ignore[no-any-return]

    def fetch(self, shot: dict[str, Any]) -> httpx.Response:
        return self.http.get(str(shot["url"]))

    # --- session replay -----------------------------------------------------

    def start(self, client_id: str, sdk_session_id: str | None = None, **extra: Any) -> Any:
        body = {
            "clientId": client_id,
            "sdkSessionId": sdk_session_id or secrets.token_hex(8),
            "anonymousId": "anon-1",
            "startUrl": "https://app.example.com/start",
            "userAgent": BROWSER_UA,
            "startedAt": "2026-11-27T10:00:00.000Z",
            **extra,
        }
        response = self.http.post("/api/replay-sessions", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    def session(self, client_id: str) -> str:
        started = self.start(client_id)
        assert started["accepted"] is True
        return str(started["sessionReplayId"])

    def put(
        self,
        session_id: str,
        seq: int,
        body: bytes,
        client_id: str,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        return self.http.put(
            f"/api/replay-sessions/{session_id}/chunks/{seq}",
            content=body,
            headers={
                "Content-Type": "application/octet-stream",
                "X-Usero-Client-Id": client_id,
                "X-Usero-Event-Count": "2",
                "X-Usero-Duration-Ms": "3000",
                **(headers or {}),
            },
        )

    def finalise(
        self,
        session_id: str,
        client_id: str,
        ended_at: str | None = "2026-11-27T10:05:00Z",
        **kwargs: Any,
    ) -> httpx.Response:
        end = {"clientId": client_id} | ({"endedAt": ended_at} if ended_at else {})
        body = json.dumps(end)
        headers = {"Content-Type": "text/plain;charset=UTF-8", **kwargs.pop("headers", {})}
        return self.http.post(
            f"/api/replay-sessions/{session_id}/finalise", content=body, headers=headers
        )

    def chunk_rows(self, session_id: str) -> list[Any]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(replay_chunks)
                    .where(replay_chunks.c.session_id == session_id)
                    .order_by(replay_chunks.c.seq)
                ).mappings()
            )

    def session_blobs(self, client_id: str, session_id: str) -> list[str]:
        """The keys of every chunk blob stored for the session, referenced or not."""
        folder = session_blob_folder(client_id, session_id)
        return sorted(blob.key for blob in self.blobs.listing(folder))

    def session_count(self, client_id: str) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(replay_sessions)
                    .where(replay_sessions.c.client_id == client_id)
                ).scalar_one()
            )
