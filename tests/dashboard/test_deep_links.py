"""Deep links survive sign-in, and ``next`` can't send anyone off the dashboard.

Runs on SQLite and PostgreSQL against a live server, with httpx browsers that
don't follow redirects.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

import pytest

from sayso.dashboard.deep_links import login_url, safe_next
from tests.support.dashboard import Browser, browser, form_token, new_user, sign_in
from tests.support.live_server import LiveServer

HOSTILE_NEXT = [
    "//evil.example/",
    "/\\evil.example/",
    "/\\/evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "evil.example",
    "/inbox\r\nSet-Cookie: x=1",
    "/a b",
    "/\x00",
    "/é",
    "/" + "a" * 2_001,
    "",
]


@pytest.mark.parametrize("value", HOSTILE_NEXT)
def test_only_paths_of_this_dashboard_are_taken(value: str) -> None:
    assert safe_next(value) is None


def test_a_path_with_its_query_is_taken_as_it_is() -> None:
    assert safe_next("/projects/client_x/inbox?rating=1&q=a%20b") == (
        "/projects/client_x/inbox?rating=1&q=a%20b"
    )
    assert login_url("/projects/p/inbox", "rating=1") == (
        "/login?next=" + quote("/projects/p/inbox?rating=1", safe="")
    )
    assert login_url("/", "") == "/login"


def test_a_signed_out_visit_signs_in_and_lands_on_the_page_it_asked_for(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    ana = people("ana")
    client_id = ana.create_project("Deep links")
    page = f"/projects/{client_id}/inbox?rating=1&status=new"
    with browser(site) as visitor:
        asked = visitor.get(page)
        assert asked.status_code == 303
        assert asked.headers["location"] == "/login?next=" + quote(page, safe="")
        form = visitor.get(asked.headers["location"])
        assert form.status_code == 200
        assert (
            f'<input type="hidden" name="next" value="{page.replace("&", "&amp;")}">' in form.text
        )
        signed = visitor.post(
            "/login",
            data={
                "email": ana.email,
                "password": "correct horse battery",
                "csrf_token": form_token(form),
                "next": page,
            },
        )
        assert signed.status_code == 303
        assert signed.headers["location"] == page
        assert visitor.get(page).status_code == 200
        # Signed in already: the sign-in page goes straight on.
        again = visitor.get("/login?next=" + quote(page, safe=""))
        assert again.status_code == 303
        assert again.headers["location"] == page


@pytest.mark.parametrize("value", ["//evil.example/", "https://evil.example/", "/\\evil.example"])
def test_a_hostile_next_signs_in_to_the_home_page(site: LiveServer, value: str) -> None:
    email = new_user(site, "eve")
    with browser(site) as visitor:
        form = visitor.get("/login", params={"next": value})
        assert form.status_code == 200
        assert 'name="next"' not in form.text
        signed = visitor.post(
            "/login",
            data={
                "email": email,
                "password": "correct horse battery",
                "csrf_token": form_token(form),
                "next": value,
            },
        )
        assert signed.status_code == 303
        assert signed.headers["location"] == "/"


def test_a_form_post_while_signed_out_is_sent_to_plain_sign_in(
    site: LiveServer, people: Callable[[str], Browser]
) -> None:
    client_id = people("ana").create_project("Posts")
    with browser(site) as visitor:
        response = visitor.post(f"/projects/{client_id}/triage", data={"status": "resolved"})
        assert response.status_code == 303
        assert response.headers["location"] == "/login"
    # and a wrong password keeps the way back
    email = new_user(site, "bo")
    with browser(site) as visitor:
        form = visitor.get("/login", params={"next": "/projects"})
        wrong = visitor.post(
            "/login",
            data={"email": email, "password": "nope", "csrf_token": form_token(form), "next": "/x"},
        )
        assert wrong.status_code == 400
        assert '<input type="hidden" name="next" value="/x">' in wrong.text
        assert sign_in(visitor, email).status_code == 303
