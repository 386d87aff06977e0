"""One project's data never answers for another's (the probe's missed mutations).

Two planted bugs went unnoticed: dropping the client from the idempotency
lookup (a retry could get another client's id, or a 500), and dropping the
project filter from the detail page's "more from this person". Both are
checked here with two projects that share what could be confused: the
same ``Idempotency-Key``, the same person's email. Both databases.
"""

from __future__ import annotations

import re
import secrets

import httpx
from sqlalchemy import Engine, func, select

from sayso.accounts.memberships import create_project
from sayso.accounts.users import create_user
from sayso.store.clients import create_client
from sayso.store.schema import feedback
from tests.support.live_server import LiveServer

PASSWORD = "correct horse battery staple"
FEEDBACK_LINK = re.compile(r'href="/projects/(client_\w+)/feedback/(\w+)[?"]')


def stored(engine: Engine, client_id: str) -> int:
    query = select(func.count()).select_from(feedback).where(feedback.c.client_id == client_id)
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def test_one_idempotency_key_in_two_clients_keeps_each_clients_own_answer(
    api: httpx.Client, engine: Engine
) -> None:
    first, second = (create_client(engine, f"idem {n}").id for n in (1, 2))
    key = {"Idempotency-Key": f"shared-{secrets.token_hex(4)}"}

    def submit(client_id: str) -> str:
        response = api.post("/api/feedback", json={"clientId": client_id, "rating": 3}, headers=key)
        assert response.status_code == 200, response.text
        return str(response.json()["feedbackId"])

    in_first = submit(first)
    in_second = submit(second)
    retried = submit(second)

    assert in_second != in_first
    assert retried == in_second
    assert stored(engine, first) == stored(engine, second) == 1


def signed_in(server: LiveServer, email: str) -> httpx.Client:
    http = httpx.Client(base_url=server.url, timeout=30, follow_redirects=False)
    page = http.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text
    answer = http.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert answer.status_code == 303, answer.text
    return http


def test_more_from_this_person_lists_only_this_projects_feedback(
    server: LiveServer, api: httpx.Client, engine: Engine
) -> None:
    # One member of both projects: the page may show nothing of the other one.
    email = f"lead-{secrets.token_hex(4)}@example.com"
    user = create_user(engine, email, PASSWORD)
    here, there = (create_project(engine, user.id, f"Shop {n}").id for n in ("A", "B"))
    person = f"Grace-{secrets.token_hex(3)}@Example.com"
    ids: dict[str, list[str]] = {here: [], there: []}
    for client_id in (here, there, here, there):
        body = {"clientId": client_id, "rating": 2, "userEmail": person, "comment": client_id}
        ids[client_id].append(api.post("/api/feedback", json=body).json()["feedbackId"])

    http = signed_in(server, email)
    try:
        page = http.get(f"/projects/{here}/feedback/{ids[here][0]}")
    finally:
        http.close()

    assert page.status_code == 200, page.text
    linked = FEEDBACK_LINK.findall(page.text)
    assert (here, ids[here][1]) in linked  # the person's other item here is listed
    assert not any(feedback_id in ids[there] for _, feedback_id in linked)
    assert not any(client_id == there for client_id, _ in linked)
    assert there not in page.text
