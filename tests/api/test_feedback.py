"""POST /api/feedback over real HTTP, on SQLite and PostgreSQL, as the Usero reference specifies."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select

from sayso.ingest.validation import MAX_LENGTHS, METADATA_MAX_BYTES
from sayso.store.clients import create_client
from sayso.store.schema import feedback
from tests.support.reference import API_FIELDS, FULL_EXAMPLE


def stored(engine: Engine, feedback_id: str) -> dict[str, Any]:
    with engine.connect() as conn:
        row = conn.execute(select(feedback).where(feedback.c.id == feedback_id)).mappings().one()
    return dict(row)


def count(engine: Engine, client_id: str) -> int:
    with engine.connect() as conn:
        query = select(func.count()).select_from(feedback).where(feedback.c.client_id == client_id)
        return int(conn.execute(query).scalar_one())


def assert_invalid(response: httpx.Response, *fields: str) -> dict[str, list[str]]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "Invalid data provided"
    assert set(body["issues"]) == set(fields), body["issues"]
    assert all(
        body["issues"][f] and all(isinstance(m, str) for m in body["issues"][f]) for f in fields
    )
    return body["issues"]  # type: ignore[no-any-return]


# --- the reference's examples ---------------------------------------------------


def test_the_minimal_reference_example_is_stored(
    api: httpx.Client, client_id: str, engine: Engine
) -> None:
    response = api.post("/api/feedback", json={"clientId": client_id, "rating": 3})

    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert isinstance(body["feedbackId"], str)
    assert body["feedbackId"]
    row = stored(engine, body["feedbackId"])
    assert row["client_id"] == client_id
    assert row["rating"] == 3
    assert row["comment"] is None
    assert row["metadata"] is None


def test_the_full_reference_example_keeps_every_field(
    api: httpx.Client, client_id: str, engine: Engine
) -> None:
    response = api.post(
        "/api/feedback",
        json={"clientId": client_id, **FULL_EXAMPLE},
        headers={"User-Agent": "ExampleBrowser/1.0", "Origin": "https://yourapp.com"},
    )

    assert response.status_code == 200, response.text
    row = stored(engine, response.json()["feedbackId"])
    assert row["rating"] == 2
    assert row["comment"] == FULL_EXAMPLE["comment"]
    assert row["user_email"] == "jamie@example.com"
    assert row["page_url"] == FULL_EXAMPLE["pageUrl"]
    assert row["page_title"] == "Export project"
    assert row["referrer"] == FULL_EXAMPLE["referrer"]
    assert row["environment"] == "staging"
    assert row["metadata"] == FULL_EXAMPLE["metadata"]
    assert row["user_agent"] == "ExampleBrowser/1.0"
    assert row["origin"] == "https://yourapp.com"
    assert row["created_at"] is not None


def test_replay_link_and_screenshots_are_stored(
    api: httpx.Client, client_id: str, engine: Engine, upload_screenshot: Callable[..., Any]
) -> None:
    shot = upload_screenshot(api, client_id)
    response = api.post(
        "/api/feedback",
        json={
            "clientId": client_id,
            "comment": "see picture",
            "screenshots": [shot],
            "sessionReplayId": "r" * 128,
            "replayOffsetMs": 183250,
        },
    )

    assert response.status_code == 200, response.text
    row = stored(engine, response.json()["feedbackId"])
    assert row["screenshots"] == [shot]
    assert row["session_replay_id"] == "r" * 128
    assert row["replay_offset_ms"] == 183250


def test_feedback_ids_are_unique_and_opaque(api: httpx.Client, client_id: str) -> None:
    ids = {
        api.post("/api/feedback", json={"clientId": client_id, "rating": 4}).json()["feedbackId"]
        for _ in range(5)
    }
    assert len(ids) == 5
    assert all(client_id not in i and not i.isdigit() for i in ids)


# --- validation ------------------------------------------------------------------


def test_neither_rating_nor_comment_is_refused_naming_rating(
    api: httpx.Client, client_id: str
) -> None:
    assert_invalid(api.post("/api/feedback", json={"clientId": client_id}), "rating")


def test_a_whitespace_only_comment_counts_as_empty(api: httpx.Client, client_id: str) -> None:
    response = api.post("/api/feedback", json={"clientId": client_id, "comment": " \n\t "})
    assert_invalid(response, "rating")


def test_a_comment_alone_is_enough_and_is_trimmed(
    api: httpx.Client, client_id: str, engine: Engine
) -> None:
    response = api.post("/api/feedback", json={"clientId": client_id, "comment": "  great  "})
    assert response.status_code == 200
    assert stored(engine, response.json()["feedbackId"])["comment"] == "great"


@pytest.mark.parametrize("rating", [0, 5, -1, 99, 2.5, "3", True, False, [3], {"v": 3}])
def test_rating_must_be_an_integer_from_1_to_4(
    api: httpx.Client, client_id: str, rating: object
) -> None:
    response = api.post(
        "/api/feedback", json={"clientId": client_id, "rating": rating, "comment": "x"}
    )
    assert_invalid(response, "rating")


def test_an_integral_float_rating_is_the_integer(
    api: httpx.Client, client_id: str, engine: Engine
) -> None:
    # JavaScript can't tell 3.0 from 3, so neither do we.
    response = api.post("/api/feedback", content=f'{{"clientId": "{client_id}", "rating": 3.0}}')
    assert response.status_code == 200
    assert stored(engine, response.json()["feedbackId"])["rating"] == 3


def test_every_failing_field_is_named_at_once(api: httpx.Client) -> None:
    response = api.post(
        "/api/feedback",
        json={
            "rating": "3",
            "comment": 5,
            "userEmail": "not-an-email",
            "pageUrl": 1,
            "pageTitle": [],
            "referrer": {},
            "environment": 7,
            "screenshots": "x",
            "metadata": [1],
            "sessionReplayId": "",
            "replayOffsetMs": -1,
        },
    )
    assert_invalid(response, *API_FIELDS)


def test_an_empty_email_is_treated_as_absent(
    api: httpx.Client, client_id: str, engine: Engine
) -> None:
    response = api.post("/api/feedback", json={"clientId": client_id, "rating": 1, "userEmail": ""})
    assert response.status_code == 200
    assert stored(engine, response.json()["feedbackId"])["user_email"] is None


@pytest.mark.parametrize(
    "email",
    [
        "jamie",
        "jamie@",
        "@example.com",
        "jamie@example",
        "ja mie@example.com",
        "a..b@example.com",
        "jamie@exa_mple.com",
    ],
)
def test_an_invalid_email_is_refused(api: httpx.Client, client_id: str, email: str) -> None:
    response = api.post(
        "/api/feedback", json={"clientId": client_id, "rating": 1, "userEmail": email}
    )
    assert_invalid(response, "userEmail")


def test_null_optional_fields_mean_absent_and_unknown_fields_are_ignored(
    api: httpx.Client, client_id: str, engine: Engine
) -> None:
    body = dict.fromkeys(FULL_EXAMPLE) | {
        "clientId": client_id,
        "rating": 4,
        "screenshots": None,
        "sessionReplayId": None,
        "replayOffsetMs": None,
        "somethingNew": {"nested": True},
        "__proto__": {"admin": True},
    }
    response = api.post("/api/feedback", json=body)
    assert response.status_code == 200, response.text
    row = stored(engine, response.json()["feedbackId"])
    assert row["rating"] == 4
    assert all(
        row[c] is None for c in ("comment", "user_email", "page_title", "metadata", "screenshots")
    )


def test_metadata_of_exactly_10kb_is_accepted_and_one_byte_more_is_refused(
    api: httpx.Client, client_id: str
) -> None:
    def metadata_of(size: int) -> dict[str, str]:
        overhead = len(json.dumps({"k": ""}, separators=(",", ":")))
        return {"k": "x" * (size - overhead)}

    ok = api.post(
        "/api/feedback",
        json={"clientId": client_id, "rating": 3, "metadata": metadata_of(METADATA_MAX_BYTES)},
    )
    too_big = api.post(
        "/api/feedback",
        json={"clientId": client_id, "rating": 3, "metadata": metadata_of(METADATA_MAX_BYTES + 1)},
    )

    assert ok.status_code == 200, ok.text
    assert too_big.status_code == 400
    assert too_big.json() == {"error": "Metadata too large (max 10KB)"}


def test_metadata_size_counts_utf8_bytes(api: httpx.Client, client_id: str) -> None:
    # 4,000 euro signs are 12,000 bytes in UTF-8 though only 4,000 characters.
    response = api.post(
        "/api/feedback", json={"clientId": client_id, "rating": 3, "metadata": {"k": "€" * 4000}}
    )
    assert response.json() == {"error": "Metadata too large (max 10KB)"}


@pytest.mark.parametrize("field", sorted(set(MAX_LENGTHS) - {"clientId", "userEmail"}))
def test_each_free_text_field_has_a_maximum_length(
    api: httpx.Client, client_id: str, field: str
) -> None:
    limit = MAX_LENGTHS[field]
    at_limit = api.post(
        "/api/feedback", json={"clientId": client_id, "rating": 3, field: "a" * limit}
    )
    over = api.post(
        "/api/feedback", json={"clientId": client_id, "rating": 3, field: "a" * (limit + 1)}
    )
    assert at_limit.status_code == 200, at_limit.text
    assert_invalid(over, field)


def test_page_url_falls_back_to_the_referer_header(
    api: httpx.Client, client_id: str, engine: Engine
) -> None:
    referer = "https://yourapp.com/settings?tab=billing"
    response = api.post(
        "/api/feedback", json={"clientId": client_id, "rating": 3}, headers={"Referer": referer}
    )
    explicit = api.post(
        "/api/feedback",
        json={"clientId": client_id, "rating": 3, "pageUrl": "https://yourapp.com/x"},
        headers={"Referer": referer},
    )
    assert stored(engine, response.json()["feedbackId"])["page_url"] == referer
    assert stored(engine, explicit.json()["feedbackId"])["page_url"] == "https://yourapp.com/x"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"sessionReplayId": "x" * 129}, "sessionReplayId"),
        ({"sessionReplayId": 12}, "sessionReplayId"),
        ({"replayOffsetMs": 1.5}, "replayOffsetMs"),
        ({"replayOffsetMs": "10"}, "replayOffsetMs"),
        ({"replayOffsetMs": 2**53}, "replayOffsetMs"),
        ({"screenshots": [{"fileName": "a.png"}]}, "screenshots"),
        ({"screenshots": [1]}, "screenshots"),
        (
            {
                "screenshots": [
                    {"fileName": "a", "url": "u", "fileSize": -1, "mimeType": "image/png"}
                ]
            },
            "screenshots",
        ),
        (
            {
                "screenshots": [
                    {"fileName": "a", "url": "u", "fileSize": 1, "mimeType": "image/png"}
                ]
                * 11
            },
            "screenshots",
        ),
        ({"environment": "x" * 65}, "environment"),
        ({"clientId": 123}, "clientId"),
    ],
)
def test_malformed_optional_fields_are_refused(
    api: httpx.Client, client_id: str, extra: dict[str, object], field: str
) -> None:
    response = api.post("/api/feedback", json={"clientId": client_id, "rating": 3} | extra)
    assert_invalid(response, field)


# --- hostile bodies ------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{",
        b"not json",
        b'{"clientId": "a",}',
        b"\xff\xfe",
        b'{"clientId": "\xff"}',
        b'{"clientId": "\xed\xa0\x80"}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a": NaN}',
    ],
    ids=[
        "empty",
        "truncated",
        "text",
        "trailing-comma",
        "bad-utf8",
        "bad-utf8-in-a-string",
        "surrogate-bytes-in-a-string",
        "deep-nesting",
        "nan",
    ],
)
def test_malformed_json_is_a_400_with_a_json_error(api: httpx.Client, body: bytes) -> None:
    response = api.post("/api/feedback", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert isinstance(response.json()["error"], str)


@pytest.mark.parametrize("body", [b"[]", b'"x"', b"3", b"null", b"true"])
def test_a_body_that_is_not_an_object_is_a_400(api: httpx.Client, body: bytes) -> None:
    response = api.post("/api/feedback", content=body)
    assert response.status_code == 400
    assert "object" in response.json()["error"]


def test_a_lone_surrogate_escape_is_refused_not_stored(api: httpx.Client, client_id: str) -> None:
    body = f'{{"clientId": "{client_id}", "comment": "\\ud800 broken"}}'.encode()
    response = api.post("/api/feedback", content=body)
    assert response.status_code == 400


@pytest.mark.parametrize(
    "extra",
    [
        {"comment": "nul\x00byte"},
        {"pageTitle": "\x00"},
        {"metadata": {"key": "va\x00lue"}},
        {"metadata": {"ke\x00y": "value"}},
        {"metadata": {"deep": [{"x": ["\x00"]}]}},
    ],
)
def test_nul_characters_are_refused_on_both_databases(
    api: httpx.Client, client_id: str, engine: Engine, extra: dict[str, object]
) -> None:
    response = api.post("/api/feedback", json={"clientId": client_id, "rating": 3} | extra)
    assert response.status_code == 400
    assert count(engine, client_id) == 0


def test_a_literal_backslash_u0000_in_metadata_is_just_text(
    api: httpx.Client, client_id: str, engine: Engine
) -> None:
    response = api.post(
        "/api/feedback", json={"clientId": client_id, "rating": 3, "metadata": {"k": "\\u0000"}}
    )
    assert response.status_code == 200
    assert stored(engine, response.json()["feedbackId"])["metadata"] == {"k": "\\u0000"}


def test_a_declared_oversized_body_is_refused_before_it_is_read(server: Any) -> None:
    # Declare 2 MB but send nothing: the 413 must come without waiting for the body.
    import socket

    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/feedback HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 2000000\r\n\r\n"
        )
        # The server answers and closes without waiting for the body.
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    reply = received.decode()
    assert reply.startswith("HTTP/1.1 413")
    assert "access-control-allow-origin: *" in reply.lower()
    assert '"error"' in reply


def test_a_streamed_oversized_body_is_refused(
    api: httpx.Client, client_id: str, engine: Engine
) -> None:
    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"clientId": "' + client_id.encode() + b'", "rating": 3, "comment": "'
        for _ in range(40):
            yield b"x" * 65_536
        yield b'"}'

    response = api.post("/api/feedback", content=chunks())
    assert response.status_code == 413
    assert "error" in response.json()
    assert count(engine, client_id) == 0


def test_an_unknown_client_is_a_404_with_a_json_error(api: httpx.Client) -> None:
    response = api.post(
        "/api/feedback", json={"clientId": "client_doesnotexist0000000", "rating": 3}
    )
    assert response.status_code == 404
    assert "clientId" in response.json()["error"]


def test_the_client_ip_is_not_stored(api: httpx.Client, client_id: str, engine: Engine) -> None:
    response = api.post("/api/feedback", json={"clientId": client_id, "rating": 3})
    row = stored(engine, response.json()["feedbackId"])
    assert "127.0.0.1" not in json.dumps(row, default=str)


# --- CORS and the other public routes ------------------------------------------


@pytest.mark.parametrize(
    "body", [{"clientId": "nope", "rating": 3}, {"rating": 9}, None], ids=["404", "400", "no-body"]
)
def test_every_response_allows_any_origin(api: httpx.Client, body: object) -> None:
    response = api.post("/api/feedback", json=body) if body else api.post("/api/feedback")
    assert response.status_code >= 400
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["x-request-id"]


def test_a_preflight_allows_post_and_the_requested_headers(api: httpx.Client) -> None:
    response = api.options(
        "/api/feedback",
        headers={
            "Origin": "https://yourapp.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, idempotency-key",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert "POST" in response.headers["access-control-allow-methods"]
    assert response.headers["access-control-allow-headers"] == "content-type, idempotency-key"
    assert int(response.headers["access-control-max-age"]) > 0


def test_a_preflight_does_not_echo_a_malformed_header_list(api: httpx.Client) -> None:
    response = api.options(
        "/api/feedback", headers={"Access-Control-Request-Headers": "content-type, <script>; a=b"}
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-headers"] == "content-type"


def test_ping_answers_200(api: httpx.Client) -> None:
    response = api.get("/api/ping")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"


def test_healthz_reports_the_database_reachable(api: httpx.Client) -> None:
    response = api.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "disk": "ok"}


def test_unknown_api_paths_and_methods_get_json_errors(api: httpx.Client) -> None:
    missing = api.get("/api/nothing-here")
    wrong_method = api.get("/api/feedback")
    assert missing.status_code == 404
    assert missing.json()["error"]
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]
    assert "POST" in wrong_method.headers["allow"]


def test_a_second_client_does_not_see_the_first_ones_rows(
    api: httpx.Client, engine: Engine
) -> None:
    first = create_client(engine, "first").id
    second = create_client(engine, "second").id
    api.post("/api/feedback", json={"clientId": first, "rating": 3})
    assert count(engine, first) == 1
    assert count(engine, second) == 0


# --- idempotency keys -------------------------------------------------------------


def test_a_repeated_idempotency_key_returns_the_first_id_and_stores_once(
    api: httpx.Client, client_id: str, engine: Engine
) -> None:
    body = {"clientId": client_id, "rating": 4, "comment": "retried after a lost response"}
    first = api.post("/api/feedback", json=body, headers={"Idempotency-Key": "widget-7f3a"})
    again = api.post("/api/feedback", json=body, headers={"Idempotency-Key": "widget-7f3a"})

    assert first.status_code == again.status_code == 200
    assert again.json()["feedbackId"] == first.json()["feedbackId"]
    assert count(engine, client_id) == 1


def test_different_keys_and_different_clients_are_different_submissions(
    api: httpx.Client, client_id: str, engine: Engine
) -> None:
    other = create_client(engine, "other").id
    ids = {
        api.post(
            "/api/feedback", json={"clientId": c, "rating": 3}, headers={"Idempotency-Key": k}
        ).json()["feedbackId"]
        for c, k in [(client_id, "a"), (client_id, "b"), (other, "a")]
    }
    assert len(ids) == 3
    assert count(engine, client_id) == 2


def test_concurrent_retries_with_one_key_all_get_the_same_id(
    server: Any, client_id: str, engine: Engine
) -> None:
    import asyncio

    from tests.support.raw_http import post_many

    body = json.dumps({"clientId": client_id, "rating": 2}).encode()
    responses = asyncio.run(
        post_many(
            server.url + "/api/feedback",
            [body] * 20,
            connections=20,
            headers={"Idempotency-Key": "same"},
        )
    )
    assert {r.status for r in responses} == {200}
    assert len({r.json()["feedbackId"] for r in responses}) == 1
    assert count(engine, client_id) == 1


@pytest.mark.parametrize("key", ["x" * 256, "has space", "tab\there", "é-accent"])
def test_a_malformed_idempotency_key_is_refused(
    api: httpx.Client, client_id: str, key: str
) -> None:
    response = api.post(
        "/api/feedback",
        json={"clientId": client_id, "rating": 3},
        headers={"Idempotency-Key": key.encode()},
    )
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]
