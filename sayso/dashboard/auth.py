"""First-run set-up, sign-in and sign-out (each one written to the audit log).

Database calls run in the default thread pool; password hashing runs on the
runtime's own hashing pool (``accounts/hashing.py``), whose full waiting line
is answered 503 at once. Sign-in is limited per email and client IP and per
client IP (``accounts/rate_limit.py``; the IP from ``sayso.client_ip``). Each
sign-in starts a new session with a new token and ends the one the browser
had, so a token planted before sign-in is worthless after it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Response, post
from litestar.response import Redirect

from sayso.accounts.hashing import RETRY_AFTER_SECONDS, Busy
from sayso.accounts.login import sign_in
from sayso.accounts.passwords import MAX_LENGTH, MIN_LENGTH, PasswordRejected, hash_password
from sayso.accounts.rate_limit import TooManyAttempts
from sayso.accounts.sessions import end_session, start_session, user_for_token
from sayso.accounts.users import (
    DuplicateEmail,
    InvalidEmail,
    User,
    normalise_email,
    store_user,
)
from sayso.client_ip import scope_client_ip
from sayso.dashboard.access import (
    AnyRequest,
    forbidden,
    has_users,
    not_found,
    runtime_of,
    signed_in_user,
)
from sayso.dashboard.deep_links import safe_next
from sayso.dashboard.pages import form_field, get_or_head, render
from sayso.dashboard.security import (
    CSRF_COOKIE,
    CSRF_FIELD,
    csrf_cookie,
    csrf_ok,
    csrf_token,
    expired_session_cookie,
    new_csrf_secret,
    session_cookie,
    session_token,
)
from sayso.store import audit

WRONG_CREDENTIALS = "Wrong email or password."


def _anonymous_form(
    request: AnyRequest, template: str, *, status_code: int = 200, **context: Any
) -> Response[str]:
    """A signed-out form, with the double-submit CSRF cookie set if the browser lacks one."""
    existing = request.cookies.get(CSRF_COOKIE)
    secret = existing or new_csrf_secret()
    response = render(
        template,
        status_code=status_code,
        csrf_token=csrf_token(secret),
        min_length=MIN_LENGTH,
        max_length=MAX_LENGTH,
        **context,
    )
    if existing != secret:
        response.set_cookie(csrf_cookie(runtime_of(request).settings, secret))
    return response


async def _start_session(request: AnyRequest, user: User, next_page: str | None = None) -> Redirect:
    runtime = runtime_of(request)
    old = session_token(request)
    if old is not None:
        await asyncio.to_thread(end_session, runtime.engine, old)
    token, _ = await asyncio.to_thread(
        start_session, runtime.engine, user.id, user_agent=request.headers.get("user-agent")
    )
    return Redirect(
        path=next_page or "/", status_code=303, cookies=[session_cookie(runtime.settings, token)]
    )


@get_or_head("/setup")
async def setup_form(request: AnyRequest) -> Response[str]:
    if await has_users(request):
        return not_found()
    return _anonymous_form(request, "setup.html", email="", error=None)


@post("/setup")
async def setup_submit(request: AnyRequest) -> Response[str] | Redirect:
    if await has_users(request):
        return not_found()
    form = await request.form()
    if not csrf_ok(request.cookies.get(CSRF_COOKIE), form.get(CSRF_FIELD)):
        return forbidden()
    email = form_field(form, "email")
    runtime = runtime_of(request)
    try:
        # Two set-ups racing in the same instant could both get here; the
        # window is the first minutes of a new install, before anyone knows it.
        normalised = normalise_email(email)
        password_hash = await runtime.hashes.run(hash_password, form_field(form, "password"))
        user = await asyncio.to_thread(
            store_user, runtime.engine, normalised, password_hash, is_admin=True
        )
    except (InvalidEmail, DuplicateEmail, PasswordRejected) as exc:
        return _anonymous_form(request, "setup.html", status_code=400, email=email, error=str(exc))
    except Busy as exc:
        return _busy(request, "setup.html", email, exc)
    await asyncio.to_thread(
        audit.record, runtime_of(request).engine, user.id, None, "sign_in", {"via": "setup"}
    )
    return await _start_session(request, user)


@get_or_head("/login")
async def login_form(request: AnyRequest) -> Response[str] | Redirect:
    next_page = safe_next(request.query_params.get("next"))
    if await signed_in_user(request) is not None:
        return Redirect(path=next_page or "/", status_code=303)
    if not await has_users(request):
        return Redirect(path="/setup", status_code=303)
    return _anonymous_form(request, "login.html", email="", error=None, next_page=next_page)


@post("/login")
async def login_submit(request: AnyRequest) -> Response[str] | Redirect:
    form = await request.form()
    if not csrf_ok(request.cookies.get(CSRF_COOKIE), form.get(CSRF_FIELD)):
        return forbidden()
    email = form_field(form, "email")
    next_page = safe_next(form_field(form, "next"))
    runtime = runtime_of(request)
    client_ip = scope_client_ip(request.scope, runtime.settings.trusted_proxy_networks)
    try:
        user = await sign_in(
            runtime.engine, runtime.hashes, email, form_field(form, "password"), client_ip
        )
    except TooManyAttempts as exc:
        # Audited by the rate limit itself: one row per key and window, with a count.
        page = _anonymous_form(
            request,
            "login.html",
            status_code=429,
            email=email,
            error=str(exc),
            next_page=next_page,
        )
        page.headers["retry-after"] = str(exc.retry_after_seconds)
        return page
    except Busy as exc:
        return _busy(request, "login.html", email, exc, next_page=next_page)
    if user is None:
        await _audit_sign_in_failure(request, email, "wrong_credentials")
        return _anonymous_form(
            request,
            "login.html",
            status_code=400,
            email=email,
            error=WRONG_CREDENTIALS,
            next_page=next_page,
        )
    await asyncio.to_thread(audit.record, runtime_of(request).engine, user.id, None, "sign_in")
    return await _start_session(request, user, next_page)


def _busy(
    request: AnyRequest, template: str, email: str, exc: Busy, **context: Any
) -> Response[str]:
    """503: the hashing pool's line is full; nothing was hashed."""
    page = _anonymous_form(
        request, template, status_code=503, email=email, error=str(exc), **context
    )
    page.headers["retry-after"] = str(RETRY_AFTER_SECONDS)
    return page


async def _audit_sign_in_failure(request: AnyRequest, email: str, reason: str) -> None:
    # The typed email (bounded) and why; never the password.
    details = {"email": email.strip()[:254], "reason": reason}
    await asyncio.to_thread(
        audit.record, runtime_of(request).engine, None, None, "sign_in_failed", details
    )


@post("/logout")
async def logout(request: AnyRequest) -> Response[str] | Redirect:
    token = session_token(request)
    settings = runtime_of(request).settings
    if token is None:
        return Redirect(path="/login", status_code=303)
    form = await request.form()
    if not csrf_ok(token, form.get(CSRF_FIELD)):
        return forbidden()
    engine = runtime_of(request).engine
    user = await asyncio.to_thread(user_for_token, engine, token)
    await asyncio.to_thread(end_session, engine, token)
    if user is not None:
        await asyncio.to_thread(audit.record, engine, user.id, None, "sign_out")
    return Redirect(path="/login", status_code=303, cookies=[expired_session_cookie(settings)])


ROUTES = [setup_form, setup_submit, login_form, login_submit, logout]
