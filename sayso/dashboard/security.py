"""The dashboard's session cookie, CSRF tokens and security headers.

CSRF: every POST form carries ``csrf_token``. Signed in, it is an HMAC of the
session token (so it changes with every sign-in and needs no storage);
signed out (the sign-in and set-up forms), it is an HMAC of a random
``sayso_csrf`` cookie — the double-submit pattern, which a cross-site page
can't satisfy because it can neither read nor choose our cookies. SameSite=Lax
cookies are a second line of defence.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from litestar import Request
from litestar.datastructures import Cookie

from sayso.accounts.sessions import SESSION_LIFETIME
from sayso.settings import Settings

SESSION_COOKIE = "sayso_session"
CSRF_COOKIE = "sayso_csrf"
CSRF_FIELD = "csrf_token"

HEADERS = {
    "content-security-policy": (
        # connect-src: the Install page asks this server whether feedback arrived.
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "referrer-policy": "same-origin",
    "x-content-type-options": "nosniff",
    # Pages show who is signed in; no shared cache may keep them.
    "cache-control": "no-store",
}

# The replay player's page only (dashboard/replays.py). A recording is played
# in an about:blank iframe, which inherits this policy: the recorded site's
# inlined styles, style attributes, images and fonts need it relaxed. Scripts
# stay 'self' (and the iframe is sandboxed without allow-scripts anyway);
# frames, objects, forms and <base> stay locked. docs/privacy.md has the
# trade-off (loading the recorded site's images tells that site).
PLAYER_CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; "
    "style-src 'self' 'unsafe-inline' https:; img-src 'self' https: data: blob:; "
    "font-src https: data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def _secure(settings: Settings) -> bool:
    return settings.public_url.startswith("https")


def session_cookie(settings: Settings, token: str) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value=token,
        max_age=int(SESSION_LIFETIME.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(settings),
    )


def expired_session_cookie(settings: Settings) -> Cookie:
    return Cookie(
        key=SESSION_COOKIE,
        value="",
        max_age=0,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(settings),
    )


def csrf_cookie(settings: Settings, value: str) -> Cookie:
    return Cookie(
        key=CSRF_COOKIE,
        value=value,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(settings),
    )


def new_csrf_secret() -> str:
    return secrets.token_urlsafe(32)


def csrf_token(secret: str) -> str:
    """The form token for a secret (a session token, or the ``sayso_csrf`` cookie)."""
    return hmac.new(secret.encode(), b"sayso-csrf", hashlib.sha256).hexdigest()


def csrf_ok(secret: str | None, submitted: object) -> bool:
    if not secret or not isinstance(submitted, str):
        return False
    return hmac.compare_digest(csrf_token(secret), submitted)


def session_token(request: Request[Any, Any, Any]) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None
