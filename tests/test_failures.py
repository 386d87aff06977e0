"""When the database breaks underneath the server: JSON errors, request ids, no half writes."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import text

from sayso.settings import Settings
from sayso.store import migrate
from sayso.store.clients import create_client
from sayso.store.database import create_db_engine
from tests.live_server import LiveServer


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
    assert ingest.status_code == 500
    assert ingest.headers["content-type"] == "application/json"
    assert ingest.json() == {"error": "Internal server error"}
