"""The published OpenAPI document, and a schemathesis run against the live server."""

from __future__ import annotations

import httpx
import hypothesis
import pytest
import schemathesis
from schemathesis.checks import positive_data_acceptance
from schemathesis.generation import GenerationMode
from sqlalchemy import Engine

from sayso.ingest import replay
from sayso.ingest.identify import MAX_BODY_BYTES as IDENTIFY_MAX_BODY
from sayso.ingest.identify import TRAITS_MAX_BYTES
from sayso.ingest.validation import MAX_LENGTHS, METADATA_MAX_BYTES
from sayso.store.clients import create_client
from tests.support.live_server import LiveServer


def test_the_document_describes_the_feedback_endpoint(api: httpx.Client) -> None:
    document = api.get("/openapi.json").json()
    operation = document["paths"]["/api/feedback"]["post"]
    request = operation["requestBody"]["content"]["application/json"]["schema"]
    assert request["required"] == ["clientId"]
    assert request["properties"]["rating"]["minimum"] == 1
    assert request["properties"]["rating"]["maximum"] == 4
    assert request["properties"]["comment"]["maxLength"] == MAX_LENGTHS["comment"]
    assert str(METADATA_MAX_BYTES) in request["properties"]["metadata"]["description"]
    assert {"200", "400", "403", "404", "413", "500"} <= set(operation["responses"])


def test_the_document_describes_replay_and_identify_with_their_real_limits(
    api: httpx.Client,
) -> None:
    paths = api.get("/openapi.json").json()["paths"]
    start = paths["/api/replay-sessions"]["post"]
    chunk = paths["/api/replay-sessions/{sessionReplayId}/chunks/{seq}"]["put"]
    finalise = paths["/api/replay-sessions/{sessionReplayId}/finalise"]["post"]
    identify = paths["/api/identify"]["post"]

    start_body = start["requestBody"]["content"]["application/json"]["schema"]
    assert start_body["required"] == ["clientId", "sdkSessionId"]
    assert start_body["properties"]["sdkSessionId"]["maxLength"] == replay.MAX_SDK_ID
    headers = {p["name"]: p for p in chunk["parameters"] if p["in"] == "header"}
    assert set(headers) == {
        "X-Usero-Client-Id",
        "X-Usero-Event-Count",
        "X-Usero-Duration-Ms",
        "X-Usero-Dropped-Before",
    }
    assert headers["X-Usero-Client-Id"]["required"] is True
    assert set(chunk["requestBody"]["content"]) == {"application/octet-stream"}
    assert str(replay.MAX_CHUNK_BYTES) in chunk["responses"]["413"]["description"]
    assert {"200", "400", "403", "404", "409", "413"} <= set(chunk["responses"])
    assert {"200", "403", "404"} <= set(finalise["responses"])
    identify_body = identify["requestBody"]["content"]["application/json"]["schema"]
    assert identify_body["required"] == ["clientId", "anonymousId"]
    assert identify_body["properties"]["anonymousId"]["maxLength"] == 128
    assert identify_body["properties"]["displayName"]["maxLength"] == 200
    assert identify_body["properties"]["externalUserId"]["maxLength"] == 255
    assert str(TRAITS_MAX_BYTES) in identify_body["properties"]["traits"]["description"]
    assert str(IDENTIFY_MAX_BODY) in identify["responses"]["413"]["description"]


@pytest.fixture(scope="session")
def fuzz_client_id(engine: Engine) -> str:
    return create_client(engine, "fuzzed").id


@pytest.fixture(scope="session")
def fuzz_sessions(server: LiveServer, fuzz_client_id: str) -> dict[str, str]:
    """A real replay session per operation that takes one, so fuzzed chunks and
    finalises get past the 404 into the code that reads their bodies (separate
    ones: a fuzzed finalise may close its session)."""
    ids = {}
    for method in ("PUT", "POST"):
        response = httpx.post(
            server.url + "/api/replay-sessions",
            json={"clientId": fuzz_client_id, "sdkSessionId": f"fuzz-{method}"},
            headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        ids[method] = response.json()["sessionReplayId"]
    return ids


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
def test_no_generated_request_gets_a_server_error(
    server: LiveServer, fuzz_client_id: str, fuzz_sessions: dict[str, str], mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {
        "/api/feedback",
        "/api/screenshots",
        "/api/ping",
        "/api/replay-sessions",
        "/api/replay-sessions/{sessionReplayId}/chunks/{seq}",
        "/api/replay-sessions/{sessionReplayId}/finalise",
        "/api/identify",
    }
    for operation in operations:
        if mode == GenerationMode.NEGATIVE and operation.method.upper() == "GET":
            continue  # nothing in these GETs' free-form path can be made invalid

        @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
        @hypothesis.settings(
            max_examples=80,
            deadline=None,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            # Aim positive cases at a real client half the time so the fuzzer gets
            # past the 404 into storage. (Negative cases are left as generated:
            # patching them could undo the very violation being tested.)
            if (
                mode == GenerationMode.POSITIVE
                and isinstance(case.body, dict)
                and len(str(case.body)) % 2
            ):
                case.body["clientId"] = fuzz_client_id
            # Likewise aim half the positive replay chunks and finalises at a real
            # session, so their bodies (random bytes for a chunk) are actually read.
            if (
                mode == GenerationMode.POSITIVE
                and case.path_parameters
                and "sessionReplayId" in case.path_parameters
                and len(str(case.path_parameters)) % 2
            ):
                case.path_parameters["sessionReplayId"] = fuzz_sessions[case.method.upper()]
                if case.headers and "X-Usero-Client-Id" in case.headers:
                    case.headers["X-Usero-Client-Id"] = fuzz_client_id
            # JSON Schema can't say "no NUL in any nested metadata or traits
            # string", "an ISO 8601 time" or "a gzip-compressed JSON array" (a
            # chunk is fuzzed with random bytes), so a schema-valid request may
            # still be refused with a 400: that check is off. Every other one
            # (no 5xx, documented statuses and bodies) is on.
            case.call_and_validate(excluded_checks=[positive_data_acceptance])

        check()
