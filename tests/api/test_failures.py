"""When the database breaks underneath the server: JSON errors, request ids, no half writes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from sayso.settings import Settings
from sayso.store import migrate
from sayso.store.clients import create_client, delete_client
from sayso.store.database import create_db_engine
from sayso.store.replays import session_blob_folder
from tests.support.images import png_bytes
from tests.support.live_server import LiveServer, migrated_server
from tests.support.replay import BROWSER_UA


def test_an_unexpected_failure_is_a_logged_json_500_with_a_request_id(
    backend: str, fresh_settings: Callable[..., Settings], caplog: pytest.LogCaptureFixture
) -> None:
    settings = fresh_settings(backend)
    engine = create_db_engine(settings)
    migrate.upgrade(engine)
    client_id = create_client(engine, "doomed").id
    with engine.begin() as conn:  # sabotage: the table the writer inserts into is gone
        for table in ("feedback_screenshots", "feedback_tags", "feedback_notes", "feedback"):
            conn.execute(text(f"DROP TABLE {table}"))

    with LiveServer(settings) as server, caplog.at_level(logging.ERROR):
        response = httpx.post(
            server.url + "/api/feedback", json={"clientId": client_id, "rating": 3}
        )

    assert response.status_code == 500
    assert response.json() == {"error": "Internal server error"}
    assert response.headers["access-control-allow-origin"] == "*"
    request_id = response.headers["x-request-id"]
    assert any(request_id in record.getMessage() for record in caplog.records)
    engine.dispose()


def test_an_unreachable_database_fails_health_and_ingest_with_json(
    fresh_settings: Callable[..., Settings],
) -> None:
    settings = fresh_settings(
        "sqlite", database_url="postgresql://postgres@127.0.0.1:5432/sayso_no_such_database"
    )
    with LiveServer(settings) as server:
        health = httpx.get(server.url + "/healthz")
        ingest = httpx.post(
            server.url + "/api/feedback", json={"clientId": "client_x", "rating": 3}
        )

    assert health.status_code == 503
    assert health.json()["database"] == "unreachable"
    assert ingest.status_code == 503  # an outage, not a bug: see tests/security/test_outages.py
    assert ingest.headers["content-type"] == "application/json"
    assert ingest.json() == {"error": "Service temporarily unavailable, please retry"}


def test_a_chunk_whose_row_cannot_be_written_leaves_no_blob_behind(
    fresh_settings: Callable[..., Settings],
) -> None:
    # Sabotage on PostgreSQL: every chunk insert raises (not a constraint
    # error), as an overloaded or failing database would. The blob was written
    # first; nothing but this request could ever delete it.
    settings = fresh_settings("postgres")
    with (
        migrated_server(settings) as (server, engine),
        httpx.Client(base_url=server.url, timeout=30, headers={"User-Agent": BROWSER_UA}) as http,
    ):
        client_id = create_client(engine, "chunks").id
        with engine.begin() as conn:
            conn.execute(
                text(
                    "CREATE FUNCTION sabotage() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'sabotage'; END $$"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER sabotage BEFORE INSERT ON replay_chunks "
                    "FOR EACH ROW EXECUTE FUNCTION sabotage()"
                )
            )
        started = http.post(
            "/api/replay-sessions", json={"clientId": client_id, "sdkSessionId": "tab"}
        )
        session_id = started.json()["sessionReplayId"]

        response = http.put(
            f"/api/replay-sessions/{session_id}/chunks/0",
            content=b'[{"type": 4}]',
            headers={"X-Usero-Client-Id": client_id},
        )

        assert response.status_code == 500
        folder = session_blob_folder(client_id, session_id)
        assert list(server.app.runtime.blobs.listing(folder)) == []


def test_a_screenshot_for_a_project_deleted_elsewhere_is_a_409_and_keeps_no_blob(
    backend: str, fresh_settings: Callable[..., Settings]
) -> None:
    # This node still has the client cached when another node (here: the
    # store directly) deletes it; the upload's row then fails its foreign key.
    settings = fresh_settings(backend, client_cache_seconds=300.0)
    with (
        migrated_server(settings) as (server, engine),
        httpx.Client(base_url=server.url, timeout=30) as http,
    ):
        client_id = create_client(engine, "soon gone").id

        def upload() -> httpx.Response:
            return http.post(
                "/api/screenshots",
                data={"clientId": client_id},
                files={"screenshot": ("s.png", png_bytes(), "image/png")},
            )

        assert upload().status_code == 200  # now cached
        blobs = server.app.runtime.blobs
        assert delete_client(engine, blobs, client_id)

        late = upload()

        assert late.status_code == 409
        assert late.json() == {"error": "The project was just removed; nothing was saved"}
        root = Path(settings.blob_location) / "screenshots" / client_id
        assert not root.exists() or list(root.iterdir()) == []
