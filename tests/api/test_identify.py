"""POST /api/identify over real HTTP, on SQLite and PostgreSQL, as Usero's SDK sends it.

The SDK posts ``{clientId, anonymousId, externalUserId, email, displayName,
traits}`` with a keepalive fetch or ``sendBeacon`` and expects
``{"accepted": true}``. Checked against what was stored: the identity row, and
the email it gives to that anonymousId's replay sessions.
"""

from __future__ import annotations

import json
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, Row, func, select

from sayso.ingest.identify import MAX_BODY_BYTES, TRAITS_MAX_BYTES, TRAITS_MAX_DEPTH
from sayso.settings import Settings
from sayso.store.blobs import open_blob_store
from sayso.store.clients import create_client, delete_client
from sayso.store.replays import get_session
from sayso.store.schema import identities
from tests.support.live_server import LiveServer
from tests.support.replay import BROWSER_UA


def identify(api: httpx.Client, client_id: str, **fields: Any) -> httpx.Response:
    body = {
        "clientId": client_id,
        "anonymousId": "anon-1",
        "externalUserId": "user-42",
        "email": "ada@example.com",
        "displayName": "Ada Lovelace",
        "traits": {"plan": "pro", "seats": 5},
        **fields,
    }
    return api.post("/api/identify", json=body)


def count(engine: Engine, client_id: str) -> int:
    with engine.connect() as conn:
        query = (
            select(func.count()).select_from(identities).where(identities.c.client_id == client_id)
        )
        return int(conn.execute(query).scalar_one())


def stored_identity(engine: Engine, client_id: str, anonymous_id: str) -> Row[Any] | None:
    """The identity row as stored: nothing in Sayso reads it back yet but the
    email it hands to replay sessions."""
    query = select(identities).where(
        identities.c.client_id == client_id, identities.c.anonymous_id == anonymous_id
    )
    with engine.connect() as conn:
        return conn.execute(query).first()


def start_session(api: httpx.Client, client_id: str, anonymous_id: str, tab: str) -> str:
    response = api.post(
        "/api/replay-sessions",
        json={
            "clientId": client_id,
            "sdkSessionId": tab,
            "anonymousId": anonymous_id,
            "userAgent": BROWSER_UA,
            "startedAt": "2026-11-27T10:00:00Z",
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] is True
    return str(response.json()["sessionReplayId"])


def session_email(engine: Engine, session_id: str) -> str | None:
    session = get_session(engine, session_id)
    assert session is not None
    return session.user_email


def assert_invalid(response: httpx.Response, *fields: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "Invalid data provided"
    assert set(body["issues"]) == set(fields), body["issues"]
    for field in fields:
        assert body["issues"][field]
        assert all(isinstance(message, str) and message for message in body["issues"][field])


# --- accepted and stored ------------------------------------------------------------


def test_an_identify_is_accepted_and_stored(
    api: httpx.Client, client_id: str, engine: Engine
) -> None:
    response = identify(api, client_id)

    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": True}
    identity = stored_identity(engine, client_id, "anon-1")
    assert identity is not None
    assert identity.external_user_id == "user-42"
    assert identity.email == "ada@example.com"
    assert identity.display_name == "Ada Lovelace"
    assert identity.traits == {"plan": "pro", "seats": 5}
    assert identity.created_at == identity.updated_at


def test_only_client_id_and_anonymous_id_are_required(
    api: httpx.Client, client_id: str, engine: Engine
) -> None:
    response = api.post("/api/identify", json={"clientId": client_id, "anonymousId": "a"})
    nulls = identify(
        api,
        client_id,
        anonymousId="b",
        externalUserId=None,
        email=None,
        displayName=None,
        traits=None,
    )
    # The SDK sends "" for what the app left out: stored as absent.
    empties = identify(
        api, client_id, anonymousId="c", externalUserId="", email="", displayName="", traits={}
    )

    assert [r.status_code for r in (response, nulls, empties)] == [200, 200, 200]
    for anonymous_id in ("a", "b", "c"):
        identity = stored_identity(engine, client_id, anonymous_id)
        assert identity is not None
        assert (identity.external_user_id, identity.email, identity.display_name) == (
            None,
            None,
            None,
        )
        assert identity.traits is None


def test_identifying_again_replaces_the_identity_with_the_latest_values(
    api: httpx.Client, client_id: str, engine: Engine
) -> None:
    assert identify(api, client_id).status_code == 200
    first = stored_identity(engine, client_id, "anon-1")

    again = identify(
        api,
        client_id,
        externalUserId=None,
        email="grace@example.com",
        displayName="Grace Hopper",
        traits={"plan": "team"},
    )

    assert again.status_code == 200
    latest = stored_identity(engine, client_id, "anon-1")
    assert first is not None
    assert latest is not None
    assert latest.external_user_id is None
    assert latest.email == "grace@example.com"
    assert latest.display_name == "Grace Hopper"
    assert latest.traits == {"plan": "team"}
    assert latest.created_at == first.created_at
    assert latest.updated_at >= first.updated_at
    assert count(engine, client_id) == 1


def test_the_same_anonymous_id_under_two_clients_is_two_identities(
    api: httpx.Client, client_id: str, engine: Engine
) -> None:
    other = create_client(engine, "other").id
    identify(api, client_id, email="one@example.com")
    identify(api, other, email="two@example.com")

    mine, theirs = (
        stored_identity(engine, client_id, "anon-1"),
        stored_identity(engine, other, "anon-1"),
    )
    assert mine is not None
    assert theirs is not None
    assert (mine.email, theirs.email) == ("one@example.com", "two@example.com")


@pytest.mark.parametrize(
    "content_type", ["text/plain;charset=UTF-8", "application/json", None], ids=str
)
def test_a_beacon_body_is_read_as_json_whatever_its_content_type(
    api: httpx.Client, client_id: str, engine: Engine, content_type: str | None
) -> None:
    body = json.dumps({"clientId": client_id, "anonymousId": "beacon", "email": "b@example.com"})
    headers = {"Content-Type": content_type} if content_type else {}

    response = api.post("/api/identify", content=body.encode(), headers=headers)

    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": True}
    identity = stored_identity(engine, client_id, "beacon")
    assert identity is not None
    assert identity.email == "b@example.com"


def test_text_at_the_maximum_lengths_is_accepted(
    api: httpx.Client, client_id: str, engine: Engine
) -> None:
    email = "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 58 + ".io"
    assert len(email) == 254
    response = identify(
        api,
        client_id,
        anonymousId="x" * 128,
        externalUserId="e" * 255,
        email=email,
        displayName="n" * 200,
    )

    assert response.status_code == 200, response.text
    identity = stored_identity(engine, client_id, "x" * 128)
    assert identity is not None
    assert (identity.external_user_id, identity.email, identity.display_name) == (
        "e" * 255,
        email,
        "n" * 200,
    )


def test_traits_of_exactly_10_kb_are_accepted_and_one_byte_more_is_refused(
    api: httpx.Client, client_id: str, engine: Engine
) -> None:
    padding = TRAITS_MAX_BYTES - len(json.dumps({"k": ""}, separators=(",", ":")))
    exact = {"k": "x" * padding}
    over = {"k": "x" * (padding + 1)}

    refused = identify(api, client_id, anonymousId="over", traits=over)
    accepted = identify(api, client_id, anonymousId="exact", traits=exact)

    assert_invalid(refused, "traits")
    assert accepted.status_code == 200, accepted.text
    identity = stored_identity(engine, client_id, "exact")
    assert identity is not None
    assert identity.traits == exact
    assert stored_identity(engine, client_id, "over") is None


def test_a_literal_backslash_u0000_in_traits_is_just_text(
    api: httpx.Client, client_id: str, engine: Engine
) -> None:
    assert identify(api, client_id, traits={"k": "\\u0000"}).status_code == 200
    identity = stored_identity(engine, client_id, "anon-1")
    assert identity is not None
    assert identity.traits == {"k": "\\u0000"}


def nested(depth: int) -> Any:
    """``depth`` arrays inside each other."""
    value: Any = []
    for _ in range(depth - 1):
        value = [value]
    return value


# --- refused: validation, size, clients ---------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"clientId": None}, "clientId"),
        ({"clientId": 7}, "clientId"),
        ({"clientId": "c" * 65}, "clientId"),
        ({"anonymousId": None}, "anonymousId"),
        ({"anonymousId": ""}, "anonymousId"),
        ({"anonymousId": 12}, "anonymousId"),
        ({"anonymousId": "a" * 129}, "anonymousId"),
        ({"email": "not-an-email"}, "email"),
        ({"email": "a@b"}, "email"),
        ({"email": "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 58 + ".com"}, "email"),
        ({"email": ["ada@example.com"]}, "email"),
        ({"externalUserId": "e" * 256}, "externalUserId"),
        ({"externalUserId": 42}, "externalUserId"),
        ({"displayName": "n" * 201}, "displayName"),
        ({"displayName": {"first": "Ada"}}, "displayName"),
        ({"traits": ["a", "list"]}, "traits"),
        ({"traits": "plan=pro"}, "traits"),
        ({"traits": 5}, "traits"),
        ({"traits": {"k": nested(TRAITS_MAX_DEPTH)}}, "traits"),
    ],
    ids=repr,
)
def test_an_invalid_field_is_a_400_naming_it_and_nothing_is_stored(
    api: httpx.Client, client_id: str, engine: Engine, fields: dict[str, Any], field: str
) -> None:
    body = {"clientId": client_id, "anonymousId": "anon-1", **fields}
    if "clientId" in fields and fields["clientId"] is None:
        del body["clientId"]
    if "anonymousId" in fields and fields["anonymousId"] is None:
        del body["anonymousId"]

    response = api.post("/api/identify", json=body)

    assert_invalid(response, field)
    assert count(engine, client_id) == 0


def test_traits_nested_right_up_to_the_limit_are_accepted(
    api: httpx.Client, client_id: str, engine: Engine
) -> None:
    # The traits object itself is one level.
    traits = {"k": nested(TRAITS_MAX_DEPTH - 1)}
    assert identify(api, client_id, traits=traits).status_code == 200
    identity = stored_identity(engine, client_id, "anon-1")
    assert identity is not None
    assert identity.traits == traits


def test_every_failing_field_is_named_at_once(
    api: httpx.Client, client_id: str, engine: Engine
) -> None:
    response = api.post(
        "/api/identify",
        json={
            "clientId": client_id,
            "anonymousId": "",
            "email": "nope",
            "externalUserId": "e" * 300,
            "displayName": 1,
            "traits": [],
        },
    )
    assert_invalid(response, "anonymousId", "email", "externalUserId", "displayName", "traits")
    assert count(engine, client_id) == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"anonymousId": "an\x00on"},
        {"email": "ada\x00@example.com"},
        {"externalUserId": "\x00"},
        {"displayName": "Ada\x00"},
        {"traits": {"plan": "pr\x00o"}},
        {"traits": {"pl\x00an": "pro"}},
        {"traits": {"deep": [{"x": ["ok", {"y": "\x00"}]}]}},
        {"traits": {"deep": {"ke\x00y": 1}}},
    ],
    ids=repr,
)
def test_nul_anywhere_is_a_400_on_both_databases(
    api: httpx.Client, client_id: str, engine: Engine, fields: dict[str, Any]
) -> None:
    response = identify(api, client_id, **fields)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "Invalid data provided"
    assert "NUL" in json.dumps(response.json()["issues"])
    assert count(engine, client_id) == 0


@pytest.mark.parametrize(
    "body", [b"", b"{nope", b'{"clientId": "x"', b"\xff\xfe", b'{"clientId": "\xff"}'], ids=repr
)
def test_malformed_json_is_a_400_with_a_json_error(api: httpx.Client, body: bytes) -> None:
    response = api.post("/api/identify", content=body)
    assert response.status_code == 400
    assert response.json() == {"error": "Request body must be valid JSON"}


@pytest.mark.parametrize("body", [b"[]", b'"identify"', b"42", b"null"], ids=repr)
def test_a_body_that_is_not_an_object_is_a_400(api: httpx.Client, body: bytes) -> None:
    response = api.post("/api/identify", content=body)
    assert response.status_code == 400
    assert response.json() == {"error": "Request body must be a JSON object"}


def test_a_lone_surrogate_is_refused_not_stored(
    api: httpx.Client, client_id: str, engine: Engine
) -> None:
    body = f'{{"clientId": "{client_id}", "anonymousId": "a", "displayName": "\\ud800"}}'
    response = api.post("/api/identify", content=body.encode())
    assert response.status_code == 400
    assert count(engine, client_id) == 0


def test_a_body_over_16_kb_is_a_413_and_nothing_is_stored(
    api: httpx.Client, client_id: str, engine: Engine
) -> None:
    body = json.dumps({"clientId": client_id, "anonymousId": "big", "traits": {"k": "x" * 20_000}})
    assert len(body) > MAX_BODY_BYTES

    response = api.post("/api/identify", content=body.encode())

    assert response.status_code == 413
    assert "error" in response.json()
    assert count(engine, client_id) == 0


def test_a_declared_oversized_body_is_refused_before_it_is_read(server: LiveServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/identify HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
            + f"Content-Length: {MAX_BODY_BYTES + 1}\r\n\r\n".encode()
        )
        # The server answers and closes without waiting for the body.
        received = b""
        while piece := sock.recv(65536):
            received += piece
    reply = received.decode()
    assert reply.startswith("HTTP/1.1 413")
    assert "access-control-allow-origin: *" in reply.lower()


def test_an_unknown_client_is_a_404_with_a_json_error(api: httpx.Client) -> None:
    response = api.post(
        "/api/identify", json={"clientId": "client_doesnotexist0000000", "anonymousId": "a"}
    )
    assert response.status_code == 404
    assert "clientId" in response.json()["error"]


# --- CORS and the allowlist ----------------------------------------------------------------


def test_a_preflight_allows_post_and_the_requested_headers(api: httpx.Client) -> None:
    response = api.options(
        "/api/identify",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert response.status_code == 204
    assert "POST" in response.headers["access-control-allow-methods"]
    assert response.headers["access-control-allow-headers"] == "content-type"
    assert response.headers["access-control-allow-origin"] == "*"


def test_every_identify_response_allows_any_origin(api: httpx.Client, client_id: str) -> None:
    responses = [
        identify(api, client_id),
        identify(api, client_id, anonymousId=""),
        identify(api, "client_doesnotexist0000000"),
        api.get("/api/identify"),
    ]
    assert [r.status_code for r in responses] == [200, 400, 404, 405]
    assert all(r.headers["access-control-allow-origin"] == "*" for r in responses)


def test_the_clients_allowlist_applies(api: httpx.Client, engine: Engine) -> None:
    client_id = create_client(engine, "listed", ["https://app.example.com"]).id
    body = {"clientId": client_id, "anonymousId": "a", "email": "ada@example.com"}

    refused = api.post("/api/identify", json=body, headers={"Origin": "https://evil.example.net"})
    assert refused.status_code == 403
    assert refused.json() == {"error": "Domain not allowed"}
    assert count(engine, client_id) == 0

    allowed = api.post("/api/identify", json=body, headers={"Origin": "https://app.example.com"})
    assert allowed.status_code == 200
    assert count(engine, client_id) == 1


# --- the person on replay sessions -----------------------------------------------------------


def test_identify_gives_the_email_to_that_anonymous_ids_sessions_without_one(
    api: httpx.Client, client_id: str, engine: Engine
) -> None:
    other_client = create_client(engine, "other").id
    first = start_session(api, client_id, "anon-1", "tab-1")
    second = start_session(api, client_id, "anon-1", "tab-2")
    someone_else = start_session(api, client_id, "anon-2", "tab-3")
    other_project = start_session(api, other_client, "anon-1", "tab-1")

    assert identify(api, client_id, email="ada@example.com").status_code == 200

    assert session_email(engine, first) == "ada@example.com"
    assert session_email(engine, second) == "ada@example.com"
    assert session_email(engine, someone_else) is None
    assert session_email(engine, other_project) is None


def test_a_sessions_email_is_stored_lowercased_so_the_person_filter_can_use_its_index(
    api: httpx.Client, client_id: str, engine: Engine
) -> None:
    before = start_session(api, client_id, "anon-case", "tab-1")
    identify(api, client_id, anonymousId="anon-case", email="Ada@Example.COM")
    after = start_session(api, client_id, "anon-case", "tab-2")

    assert session_email(engine, before) == "ada@example.com"
    assert session_email(engine, after) == "ada@example.com"


def test_a_session_keeps_the_person_it_was_first_shown_with(
    api: httpx.Client, client_id: str, engine: Engine
) -> None:
    session_id = start_session(api, client_id, "anon-1", "tab-1")
    identify(api, client_id, email="ada@example.com")
    identify(api, client_id, email="ada.new@example.com")

    assert session_email(engine, session_id) == "ada@example.com"


def test_an_identify_without_email_leaves_sessions_alone(
    api: httpx.Client, client_id: str, engine: Engine
) -> None:
    session_id = start_session(api, client_id, "anon-1", "tab-1")
    assert identify(api, client_id, email=None).status_code == 200
    assert session_email(engine, session_id) is None


def test_a_session_started_after_identify_has_the_email_from_the_start(
    api: httpx.Client, client_id: str, engine: Engine
) -> None:
    identify(api, client_id, anonymousId="anon-9", email="ada@example.com")

    session_id = start_session(api, client_id, "anon-9", "tab-later")
    stranger = start_session(api, client_id, "anon-10", "tab-stranger")

    assert session_email(engine, session_id) == "ada@example.com"
    assert session_email(engine, stranger) is None


def test_a_start_and_an_identify_sent_together_always_link_the_session_to_its_person(
    server: LiveServer, client_id: str, engine: Engine
) -> None:
    # Usero's SDK may send both at once; whichever commits first, the session
    # must end up with the email.
    def pair(n: int) -> str:
        anonymous_id = f"together-{n}"
        with httpx.Client(base_url=server.url, timeout=30) as http, ThreadPoolExecutor(2) as pool:
            started = pool.submit(start_session, http, client_id, anonymous_id, f"tab-{n}")
            pool.submit(identify, http, client_id, anonymousId=anonymous_id, email=f"p{n}@x.io")
            return str(started.result())

    with ThreadPoolExecutor(8) as pool:
        sessions = list(pool.map(pair, range(24)))

    assert [session_email(engine, s) for s in sessions] == [f"p{n}@x.io" for n in range(24)]


def test_deleting_the_client_deletes_its_identities(
    api: httpx.Client, client_id: str, engine: Engine, settings: Settings
) -> None:
    identify(api, client_id, anonymousId="a")
    identify(api, client_id, anonymousId="b")
    assert count(engine, client_id) == 2

    assert delete_client(engine, open_blob_store(settings), client_id)

    assert count(engine, client_id) == 0
    assert stored_identity(engine, client_id, "a") is None
