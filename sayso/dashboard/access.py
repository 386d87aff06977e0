"""Who is signed in, and the access rule wired into every project page as a dependency.

A page names a parameter ``access: Access`` and receives one already checked,
or never runs: a signed-out visitor is redirected to sign in (or to set-up on
a new install), a non-member or an unknown project gets 404 (so ids can't be
probed), a POST without a valid CSRF token 403, and a role that may not do the
route's action 403 with the reason. The rule itself is
``sayso.accounts.access`` (no HTTP in it); a route needing more than ``read``
says so with ``dependencies=requires("manage")``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from litestar import Request, Response
from litestar.di import Provide
from litestar.params import FromPath
from litestar.response import Redirect

from sayso.accounts.access import Action, ProjectAccess, project_access
from sayso.accounts.memberships import Role
from sayso.accounts.sessions import user_for_token
from sayso.accounts.users import User, count_users
from sayso.dashboard.deep_links import login_url
from sayso.dashboard.pages import render
from sayso.dashboard.security import CSRF_FIELD, HEADERS, csrf_ok, csrf_token, session_token
from sayso.store.clients import Client

if TYPE_CHECKING:
    from sayso.runtime import Runtime

AnyRequest = Request[Any, Any, Any]

# What a role that may not do the route's action is told.
REFUSALS: dict[Action, str] = {
    "read": "You can't see this project.",
    "triage": "Viewers can read feedback but not triage it.",
    "delete": "Only the project's owners can delete feedback.",
    "manage": "Only the project's owners can do that.",
}


def runtime_of(request: AnyRequest) -> Runtime:
    return cast("Runtime", request.app.state.runtime)


def forbidden(reason: str | None = None) -> Response[str]:
    """403: a missing or stale CSRF token by default, or ``reason`` (e.g. not an owner)."""
    return render("forbidden.html", status_code=403, reason=reason)


def not_found() -> Response[str]:
    return render("not_found.html", status_code=404)


class Refused(Exception):
    """Raised by a dependency: the handler doesn't run and ``response`` is sent instead."""

    def __init__(self, response: Response[Any]) -> None:
        super().__init__(response.status_code)
        self.response = response


def refused(_request: AnyRequest, exc: Refused) -> Response[Any]:
    """The exception handler for ``Refused``: its response, with the security headers."""
    response = exc.response
    # Responses from exception handlers don't get the app's layered headers.
    response.headers.update(HEADERS)
    return response


@dataclass(frozen=True, slots=True)
class SignedIn:
    """The signed-in user and their session token (the CSRF tokens are derived from it)."""

    user: User
    token: str


@dataclass(frozen=True, slots=True)
class Access:
    """A signed-in member's checked access to one project, as a page receives it."""

    user: User
    token: str
    project: ProjectAccess

    @property
    def client(self) -> Client:
        return self.project.client

    @property
    def role(self) -> Role:
        return self.project.role

    @property
    def is_owner(self) -> bool:
        return self.project.is_owner

    def allows(self, action: Action) -> bool:
        return self.project.allows(action)


def page_context(access: Access) -> dict[str, Any]:
    """What every project page's layout prints: who, which project, in what role."""
    return {
        "user": access.user,
        "client": access.client,
        "role": access.role,
        "csrf_token": csrf_token(access.token),
    }


async def signed_in_user(request: AnyRequest) -> SignedIn | None:
    token = session_token(request)
    if token is None:
        return None
    user = await asyncio.to_thread(user_for_token, runtime_of(request).engine, token)
    return SignedIn(user, token) if user else None


async def has_users(request: AnyRequest) -> bool:
    return await asyncio.to_thread(count_users, runtime_of(request).engine) > 0


async def _signed_in(request: AnyRequest) -> SignedIn:
    signed_in = await signed_in_user(request)
    if signed_in is None:
        if not await has_users(request):
            raise Refused(Redirect(path="/setup", status_code=303))
        # A page asked for by its URL is where sign-in leads back to; a form post isn't.
        back = request.method in ("GET", "HEAD")
        scope = request.scope
        target = (
            login_url(scope["path"], scope["query_string"].decode("latin-1")) if back else "/login"
        )
        raise Refused(Redirect(path=target, status_code=303))
    return signed_in


async def _check_csrf(request: AnyRequest, token: str) -> None:
    if request.method == "POST":
        form = await request.form()  # Litestar keeps it: the handler reads the same one
        if not csrf_ok(token, form.get(CSRF_FIELD)):
            raise Refused(forbidden())


async def provide_signed_in(request: AnyRequest) -> SignedIn:
    """The ``signed_in`` dependency: pages for anyone signed in, project or not."""
    signed_in = await _signed_in(request)
    await _check_csrf(request, signed_in.token)
    return signed_in


async def check(request: AnyRequest, client_id: str, action: Action) -> Access:
    """The caller's access to ``client_id`` for ``action``; raises ``Refused`` otherwise."""
    signed_in = await _signed_in(request)
    engine = runtime_of(request).engine
    project = await asyncio.to_thread(project_access, engine, signed_in.user.id, client_id)
    if project is None:
        raise Refused(not_found())
    await _check_csrf(request, signed_in.token)
    if not project.allows(action):
        raise Refused(forbidden(REFUSALS[action]))
    return Access(signed_in.user, signed_in.token, project)


def requires(action: Action) -> dict[str, Provide]:
    """Route ``dependencies`` giving the handler an ``access`` that allows ``action``."""

    async def provide_access(request: AnyRequest, client_id: FromPath[str]) -> Access:
        return await check(request, client_id, action)

    return {"access": Provide(provide_access)}


# The app's defaults: any project page may be read by any member.
DEPENDENCIES: dict[str, Provide] = {
    **requires("read"),
    "signed_in": Provide(provide_signed_in),
}
