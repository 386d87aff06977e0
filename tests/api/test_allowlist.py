"""A client's domain allowlist, enforced on POST /api/feedback over real HTTP."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine

from sayso.store.clients import create_client, update_client


@pytest.fixture
def guarded_client(engine: Engine) -> str:
    return create_client(
        engine,
        "guarded",
        ["https://good.example", "https://*.apps.example", "http://localhost:3000"],
    ).id


def post(api: httpx.Client, client_id: str, **headers: str) -> httpx.Response:
    return api.post("/api/feedback", json={"clientId": client_id, "rating": 3}, headers=headers)


@pytest.mark.parametrize(
    "origin",
    [
        "https://good.example",
        "https://GOOD.example",
        "https://good.example:443",
        "https://a.apps.example",
        "https://a.b.apps.example",
        "http://localhost:3000",
    ],
)
def test_an_origin_on_the_allowlist_is_accepted(
    api: httpx.Client, guarded_client: str, origin: str
) -> None:
    assert post(api, guarded_client, Origin=origin).status_code == 200


@pytest.mark.parametrize(
    "origin",
    [
        "https://good.example.evil.example",
        "https://evilgood.example",
        "https://good.example.evil",
        "http://good.example",
        "https://good.example:8443",
        "https://apps.example",
        "https://evilapps.example",
        "http://a.apps.example",
        "http://localhost:3001",
        "http://localhost",
        "null",
        "garbage",
    ],
)
def test_any_other_origin_is_refused_with_domain_not_allowed(
    api: httpx.Client, guarded_client: str, origin: str
) -> None:
    response = post(api, guarded_client, Origin=origin)
    assert response.status_code == 403
    assert response.json() == {"error": "Domain not allowed"}
    assert response.headers["access-control-allow-origin"] == "*"


def test_a_request_without_any_origin_is_refused(api: httpx.Client, guarded_client: str) -> None:
    assert post(api, guarded_client).status_code == 403


def test_the_referer_origin_is_used_when_there_is_no_origin_header(
    api: httpx.Client, guarded_client: str
) -> None:
    assert (
        post(api, guarded_client, Referer="https://good.example/some/page?q=1").status_code == 200
    )
    assert post(api, guarded_client, Referer="https://evil.example/good.example").status_code == 403


def test_the_origin_header_wins_over_the_referer(api: httpx.Client, guarded_client: str) -> None:
    response = post(
        api, guarded_client, Origin="https://evil.example", Referer="https://good.example/"
    )
    assert response.status_code == 403


def test_a_client_without_allowlist_accepts_every_origin_and_none(
    api: httpx.Client, client_id: str
) -> None:
    assert post(api, client_id, Origin="https://anything.example").status_code == 200
    assert post(api, client_id).status_code == 200


def test_clearing_the_allowlist_opens_the_client_again(
    api: httpx.Client, guarded_client: str, engine: Engine
) -> None:
    assert post(api, guarded_client, Origin="https://other.example").status_code == 403
    update_client(engine, guarded_client, clear_allowlist=True)
    # The test server runs with SAYSO_CLIENT_CACHE_SECONDS=0, so this is immediate.
    assert post(api, guarded_client, Origin="https://other.example").status_code == 200


def test_validation_errors_come_before_the_allowlist(
    api: httpx.Client, guarded_client: str
) -> None:
    response = api.post(
        "/api/feedback",
        json={"clientId": guarded_client},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 400
