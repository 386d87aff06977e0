"""Dashboard sign-in over real HTTP: set-up, sign-in, sessions, sign-out, CSRF, headers.

Each backend gets its own live server on a fresh database (the set-up page
exists only while there are no users, so these tests can't share the run's
server). Browsers are httpx clients with their own cookie jars; redirects
are not followed, so every step is visible.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator

import httpx
import pytest

from sayso.accounts.sessions import get_session
from sayso.accounts.users import count_users, create_user, find_user_by_email
from sayso.dashboard.security import SESSION_COOKIE, session_cookie
from sayso.settings import Settings
from tests.support.dashboard import (
    CSP,
    PASSWORD,
    browser,
    db,
    form_token,
    new_user,
    sign_in,
    start_server,
    without_own_script,
)
from tests.support.live_server import LiveServer


@pytest.fixture(scope="module")
def dashboard(backend: str, fresh_settings: Callable[..., Settings]) -> Iterator[LiveServer]:
    """A live server whose database has users (so /setup is gone)."""
    with start_server(fresh_settings(backend)) as live:
        create_user(live.app.runtime.engine, "first-admin@example.com", PASSWORD, is_admin=True)
        yield live


@pytest.fixture
def empty_dashboard(backend: str, fresh_settings: Callable[..., Settings]) -> Iterator[LiveServer]:
    """A live server on a database without any user."""
    with start_server(fresh_settings(backend)) as live:
        yield live


def set_cookie_header(response: httpx.Response, name: str) -> str:
    headers = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    assert len(headers) == 1, response.headers
    return headers[0]


def test_the_first_visit_leads_to_set_up_which_makes_an_admin_once_and_then_is_gone(
    empty_dashboard: LiveServer,
) -> None:
    with browser(empty_dashboard) as first, browser(empty_dashboard) as second:
        assert first.get("/").headers["location"] == "/setup"
        assert first.get("/login").headers["location"] == "/setup"
        page = first.get("/setup")
        assert page.status_code == 200
        token = form_token(page)

        too_short = first.post(
            "/setup", data={"email": "ada@example.com", "password": "short", "csrf_token": token}
        )
        assert too_short.status_code == 400
        assert "at least 10 characters" in too_short.text
        assert count_users(db(empty_dashboard)) == 0

        done = first.post(
            "/setup", data={"email": "Ada@Example.com", "password": PASSWORD, "csrf_token": token}
        )
        assert done.status_code == 303
        assert done.headers["location"] == "/"
        assert "Signed in as <strong>ada@example.com</strong>" in first.get("/").text
        admin = find_user_by_email(db(empty_dashboard), "ada@example.com")
        assert admin is not None
        assert admin.is_admin

        assert first.get("/setup").status_code == 404
        again = first.post(
            "/setup", data={"email": "eve@example.com", "password": PASSWORD, "csrf_token": token}
        )
        assert again.status_code == 404
        assert second.get("/setup").status_code == 404
        assert second.get("/").headers["location"] == "/login"
        assert count_users(db(empty_dashboard)) == 1


def test_the_right_password_signs_in_and_shows_who_is_signed_in(dashboard: LiveServer) -> None:
    email = new_user(dashboard)
    with browser(dashboard) as client:
        response = sign_in(client, email.upper())

        assert response.status_code == 303
        assert response.headers["location"] == "/"
        home = client.get("/")
        assert home.status_code == 200
        assert f"Signed in as <strong>{email}</strong>" in home.text
        assert client.get("/login").headers["location"] == "/"


def test_a_wrong_password_is_refused_without_a_session(dashboard: LiveServer) -> None:
    email = new_user(dashboard)
    with browser(dashboard) as client:
        response = sign_in(client, email, "not the password")

        assert response.status_code == 400
        assert "Wrong email or password." in response.text
        assert SESSION_COOKIE not in response.headers.get("set-cookie", "")
        assert client.get("/").headers["location"] == "/login"


def test_an_unknown_email_gets_the_same_answer_as_a_wrong_password(dashboard: LiveServer) -> None:
    with browser(dashboard) as client:
        response = sign_in(client, f"nobody-{secrets.token_hex(4)}@example.com")
    assert response.status_code == 400
    assert "Wrong email or password." in response.text


def test_after_ten_wrong_passwords_even_the_right_one_is_refused_from_that_address(
    dashboard: LiveServer,
) -> None:
    # The documented number, literally (docs and accounts/rate_limit.py); other
    # addresses are tested in tests/security/test_sign_in.py.
    email = new_user(dashboard)
    with browser(dashboard) as client:
        answers = [sign_in(client, email, "not the password") for _ in range(11)]
        right = sign_in(client, email)

    assert [a.status_code for a in answers] == [400] * 10 + [429]
    assert right.status_code == 429
    assert 1 <= int(right.headers["retry-after"]) <= 15 * 60
    assert "Too many failed sign-in attempts" in right.text
    assert SESSION_COOKIE not in right.headers.get("set-cookie", "")


def test_the_session_cookie_is_http_only_same_site_lax_for_the_whole_site(
    dashboard: LiveServer,
) -> None:
    email = new_user(dashboard)
    with browser(dashboard) as client:
        cookie = set_cookie_header(sign_in(client, email), SESSION_COOKIE).lower()

    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "path=/" in cookie
    # The test server is plain HTTP; Secure would make the browser drop the cookie.
    assert "secure" not in cookie.replace("samesite", "")


def test_the_session_cookie_is_secure_when_the_public_url_is_https() -> None:
    header = session_cookie(Settings(public_url="https://feedback.example.com"), "t").to_header()
    assert "Secure" in header
    assert "HttpOnly" in header
    insecure = session_cookie(Settings(public_url="http://127.0.0.1:8000"), "t").to_header()
    assert "Secure" not in insecure


def test_every_sign_in_gets_a_new_token_and_the_previous_one_stops_working(
    dashboard: LiveServer,
) -> None:
    email = new_user(dashboard)
    credentials = {"email": email, "password": PASSWORD}
    with browser(dashboard) as client:
        credentials["csrf_token"] = form_token(client.get("/login"))
        assert client.post("/login", data=credentials).status_code == 303
        first = client.cookies[SESSION_COOKIE]
        # Signing in again from the same browser (e.g. a second tab's stale form).
        assert client.post("/login", data=credentials).status_code == 303
        second = client.cookies[SESSION_COOKIE]

    assert first != second
    assert get_session(db(dashboard), first) is None
    assert get_session(db(dashboard), second) is not None
    with browser(dashboard) as stale:
        stale.cookies.set(SESSION_COOKIE, first)
        assert stale.get("/").headers["location"] == "/login"
    with browser(dashboard) as current:
        current.cookies.set(SESSION_COOKIE, second)
        assert current.get("/").status_code == 200


def test_signing_out_deletes_the_session_so_its_token_is_useless(dashboard: LiveServer) -> None:
    email = new_user(dashboard)
    with browser(dashboard) as client:
        sign_in(client, email)
        token = client.cookies[SESSION_COOKIE]

        response = client.post("/logout", data={"csrf_token": form_token(client.get("/"))})

        assert response.status_code == 303
        assert response.headers["location"] == "/login"
        assert SESSION_COOKIE not in client.cookies
        assert client.get("/").headers["location"] == "/login"
    assert get_session(db(dashboard), token) is None
    with browser(dashboard) as replay:
        replay.cookies.set(SESSION_COOKIE, token)
        assert replay.get("/").headers["location"] == "/login"


def test_a_post_without_a_valid_csrf_token_is_forbidden(dashboard: LiveServer) -> None:
    email = new_user(dashboard)
    with browser(dashboard) as client:
        client.get("/login")
        credentials = {"email": email, "password": PASSWORD}
        assert client.post("/login", data=credentials).status_code == 403
        forged = credentials | {"csrf_token": "0" * 64}
        assert client.post("/login", data=forged).status_code == 403

        assert sign_in(client, email).status_code == 303
        assert client.post("/logout").status_code == 403
        assert client.post("/logout", data={"csrf_token": "0" * 64}).status_code == 403
        assert client.get("/").status_code == 200, "a refused sign-out must not sign out"

    with browser(dashboard) as cookieless:
        # A token copied from someone else's page is no good without their cookie.
        with browser(dashboard) as victim:
            stolen = form_token(victim.get("/login"))
        response = cookieless.post("/login", data=credentials | {"csrf_token": stolen})
        assert response.status_code == 403


def test_an_email_containing_markup_is_shown_escaped(dashboard: LiveServer) -> None:
    email = f"<script>alert({secrets.randbelow(999)})</script>@example.com"
    create_user(db(dashboard), email, PASSWORD)
    with browser(dashboard) as client:
        assert sign_in(client, email).status_code == 303
        home = client.get("/").text

    assert "&lt;script&gt;alert(" in home
    assert "<script" not in without_own_script(home)


def test_every_dashboard_response_sends_the_security_headers_and_no_inline_code(
    dashboard: LiveServer,
) -> None:
    email = new_user(dashboard)
    with browser(dashboard) as client:
        pages = [client.get("/login"), client.get("/setup"), client.post("/login", data={})]
        pages += [client.get("/"), sign_in(client, email), client.get("/")]
        stylesheet = client.get("/static/dashboard.css")
        not_found, wrong_method = client.get("/no-such-page"), client.get("/logout")

    assert (not_found.status_code, wrong_method.status_code) == (404, 405)
    assert wrong_method.headers["allow"].startswith("POST")
    pages += [not_found, wrong_method]
    for page in [*pages, stylesheet]:
        assert page.headers["content-security-policy"] == CSP, page.url
        assert page.headers["referrer-policy"] == "same-origin"
        assert page.headers["x-content-type-options"] == "nosniff"
    for page in pages:
        assert "<script" not in without_own_script(page.text)
        assert "style=" not in page.text
        assert "<style" not in page.text
    assert stylesheet.status_code == 200
    assert stylesheet.headers["content-type"] == "text/css; charset=utf-8"
    assert re.search(r'href="/static/dashboard.css\?v=[0-9a-f]{12}"', pages[0].text)
