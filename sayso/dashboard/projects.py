"""The projects pages: the list on ``/``, a project's page, its settings and audit log.

A project is what the API calls a client. Access is membership only: someone
who is not a member gets 404 on every project route, so the pages don't
confirm which client ids exist. Members and viewers may look; changes and the
audit log are for owners (403 otherwise); ``dashboard/access.py`` checks both
before a handler runs. Every change is a POST carrying the
CSRF token, answered with a redirect (so a reload doesn't repeat it), and is
written to the audit log.
"""

from __future__ import annotations

import asyncio
import json
import shlex
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from litestar import Response, post
from litestar.di import NamedDependency
from litestar.response import Redirect
from sqlalchemy import Engine

from sayso.accounts.memberships import (
    ROLES,
    MembershipError,
    add_member,
    change_role,
    create_project,
    list_members,
    parse_role,
    projects_for,
    remove_member,
)
from sayso.accounts.users import find_user_by_email, get_user
from sayso.dashboard.access import Access, AnyRequest, SignedIn, page_context, requires, runtime_of
from sayso.dashboard.audit_sentences import sentence
from sayso.dashboard.pages import form_field, get_or_head, render
from sayso.dashboard.security import csrf_token
from sayso.origins import InvalidOrigin
from sayso.store import audit, feedback_search, overview
from sayso.store.clients import (
    MAX_RETENTION_DAYS,
    MIN_RETENTION_DAYS,
    delete_client,
    update_client,
)
from sayso.store.ids import new_sortable_id
from sayso.store.schema import feedback


@get_or_head("/")
async def home(request: AnyRequest, signed_in: NamedDependency[SignedIn]) -> Response[str]:
    user, token = signed_in.user, signed_in.token
    projects = await asyncio.to_thread(projects_for, runtime_of(request).engine, user.id)
    return render(
        "home.html", user=user, projects=projects, csrf_token=csrf_token(token), error=None, name=""
    )


@post("/projects")
async def new_project(
    request: AnyRequest, signed_in: NamedDependency[SignedIn]
) -> Response[str] | Redirect:
    user, token = signed_in.user, signed_in.token
    form = await request.form()
    engine = runtime_of(request).engine
    name = form_field(form, "name")
    try:
        client = await asyncio.to_thread(create_project, engine, user.id, name)
    except ValueError as exc:
        projects = await asyncio.to_thread(projects_for, engine, user.id)
        return render(
            "home.html",
            status_code=400,
            user=user,
            projects=projects,
            csrf_token=csrf_token(token),
            error=f"The project's name: {exc}.",
            name=name,
        )
    await asyncio.to_thread(
        audit.record, engine, user.id, client.id, "project_created", {"name": client.name}
    )
    return Redirect(path=f"/projects/{client.id}", status_code=303)


@get_or_head("/projects/{client_id:str}")
async def project_page(request: AnyRequest, access: NamedDependency[Access]) -> Response[Any]:
    runtime = runtime_of(request)
    arrival = await asyncio.to_thread(
        feedback_search.first_arrival, runtime.engine, access.client.id
    )
    context = page_context(access) | snippets(runtime.settings.public_url, access.client.id)
    return render(
        "project.html",
        received=arrival is not None,
        arrived_inbox=_inbox_of(access.client.id, arrival),
        can_test=access.allows("triage"),
        **context,
    )


def _inbox_of(client_id: str, arrival: tuple[str | None] | None) -> str:
    """The inbox tab that shows what arrived (the widget tag may name an environment)."""
    base = f"/projects/{client_id}/inbox"
    if arrival is None or arrival[0] is None:
        return base
    return f"{base}?{urlencode({'env': arrival[0]})}"


@get_or_head("/projects/{client_id:str}/first-feedback.json")
async def first_feedback(request: AnyRequest, access: NamedDependency[Access]) -> dict[str, Any]:
    """Whether anything has arrived yet, and the inbox tab to see it: the Install page asks."""
    engine = runtime_of(request).engine
    arrival = await asyncio.to_thread(feedback_search.first_arrival, engine, access.client.id)
    return {"received": arrival is not None, "inbox": _inbox_of(access.client.id, arrival)}


# What "Send a test feedback" stores: marked in its metadata, so it can be told apart.
TEST_FEEDBACK = {
    "rating": 4,
    "comment": "Test feedback sent from the dashboard's Install page.",
    "metadata": {"sayso": {"test": True}},
}


@post("/projects/{client_id:str}/test-feedback", dependencies=requires("triage"))
async def test_feedback(request: AnyRequest, access: NamedDependency[Access]) -> Redirect:
    """Store one feedback item as if the widget had sent it, to see the inbox fill."""
    runtime = runtime_of(request)
    row = {
        "id": new_sortable_id(),
        "client_id": access.client.id,
        "created_at": datetime.now(UTC),
        "page_url": f"{runtime.settings.public_url}/projects/{access.client.id}",
        "page_title": "Sayso: Install",
        "user_agent": (request.headers.get("user-agent") or "")[:1_000] or None,
        **TEST_FEEDBACK,
    }
    await runtime.writer.insert(feedback, row)
    await _record(request, access, "test_feedback_sent", feedback_id=row["id"])
    return Redirect(path=f"/projects/{access.client.id}", status_code=303)


def snippets(public_url: str, client_id: str) -> dict[str, str]:
    """Ready-to-paste install code, as plain text: the template escapes it once."""
    body = json.dumps({"clientId": client_id, "rating": 3, "comment": "Hello from curl"})
    return {
        "widget_tag": (
            f'<script src="{public_url}/widget.js" data-client-id="{client_id}" async></script>'
        ),
        "curl_command": (
            f"curl -X POST {shlex.quote(public_url + '/api/feedback')} \\\n"
            f"  -H 'Content-Type: application/json' \\\n"
            f"  -d {shlex.quote(body)}"
        ),
    }


@get_or_head("/projects/{client_id:str}/settings")
async def settings_page(request: AnyRequest, access: NamedDependency[Access]) -> Response[Any]:
    return await _render_settings(request, access)


async def _render_settings(
    request: AnyRequest, access: Access, *, status_code: int = 200, error: str | None = None
) -> Response[str]:
    engine = runtime_of(request).engine
    members, environments = await asyncio.gather(
        asyncio.to_thread(list_members, engine, access.client.id),
        asyncio.to_thread(overview.environments, engine, access.client.id),
    )
    return render(
        "project_settings.html",
        status_code=status_code,
        members=members,
        environments=environments,
        retention_range=(MIN_RETENTION_DAYS, MAX_RETENTION_DAYS),
        roles=ROLES,
        error=error,
        **page_context(access),
    )


@post("/projects/{client_id:str}/settings", dependencies=requires("manage"))
async def settings_submit(request: AnyRequest, access: NamedDependency[Access]) -> Response[Any]:
    form = await request.form()
    action = form_field(form, "action")
    handler = _ACTIONS.get(action)
    if handler is None:
        return await _render_settings(
            request, access, status_code=400, error="Unknown action; reload the page."
        )
    try:
        done = await handler(request, access, form)
    except (ValueError, MembershipError) as exc:
        # InvalidOrigin and the name and role checks are ValueErrors whose
        # messages are written for people; nothing was saved.
        return await _render_settings(request, access, status_code=400, error=str(exc))
    if isinstance(done, Response):
        return done
    return Redirect(path=f"/projects/{access.client.id}/settings", status_code=303)


@get_or_head("/projects/{client_id:str}/audit", dependencies=requires("manage"))
async def audit_page(request: AnyRequest, access: NamedDependency[Access]) -> Response[Any]:
    engine = runtime_of(request).engine
    entries = await asyncio.to_thread(audit.entries, engine, access.client.id)
    return render(
        "project_audit.html",
        entries=[(entry, sentence(entry)) for entry in entries],
        **page_context(access),
    )


# Each settings action: raises ValueError (message shown, nothing saved), or
# returns None (redirect back to the settings) or a response of its own.
async def _rename(request: AnyRequest, access: Access, form: Any) -> None:
    name = form_field(form, "name")
    client = await asyncio.to_thread(
        update_client, runtime_of(request).engine, access.client.id, name=name
    )
    if client is not None:
        await _record(request, access, "project_renamed", old=access.client.name, new=client.name)


async def _change_allowlist(request: AnyRequest, access: Access, form: Any) -> None:
    action = form_field(form, "action")
    origin = form_field(form, "origin").strip()
    if action != "clear_allowlist" and not origin:
        raise InvalidOrigin("Enter an origin, such as https://app.example.com.")
    changes: dict[str, Any]
    if action == "add_origin":
        changes = {"add_origins": [origin]}
    elif action == "remove_origin":
        changes = {"remove_origins": [origin]}
    else:
        changes = {"clear_allowlist": True}
    runtime = runtime_of(request)
    client = await asyncio.to_thread(update_client, runtime.engine, access.client.id, **changes)
    # The ingest path caches clients; this process must see the change at once.
    runtime.clients.forget(access.client.id)
    if client is not None:
        await _record(
            request,
            access,
            "allowlist_changed",
            change=action,
            origin=origin or None,
            allowlist=[str(o) for o in client.allowed_origins],
        )


async def _set_screenshots_private(request: AnyRequest, access: Access, form: Any) -> None:
    private = form_field(form, "private") == "on"
    runtime = runtime_of(request)
    await asyncio.to_thread(
        update_client, runtime.engine, access.client.id, screenshots_private=private
    )
    runtime.clients.forget(access.client.id)
    await _record(request, access, "screenshots_privacy_changed", private=private)


async def _set_replay_retention(request: AnyRequest, access: Access, form: Any) -> None:
    raw = form_field(form, "days").strip()
    days = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 5 else 0
    if not MIN_RETENTION_DAYS <= days <= MAX_RETENTION_DAYS:
        raise ValueError(
            f"Keep recordings for a whole number of days, {MIN_RETENTION_DAYS} to "
            f"{MAX_RETENTION_DAYS}."
        )
    engine = runtime_of(request).engine
    await asyncio.to_thread(update_client, engine, access.client.id, replay_retention_days=days)
    await _record(request, access, "replay_retention_changed", days=days)


async def _add_member(request: AnyRequest, access: Access, form: Any) -> None:
    engine = runtime_of(request).engine
    email = form_field(form, "email")
    role = parse_role(form_field(form, "role"))
    user = await asyncio.to_thread(find_user_by_email, engine, email)
    if user is None:
        raise MembershipError("There is no user with that email; an administrator adds users.")
    await asyncio.to_thread(add_member, engine, access.client.id, user.id, role)
    await _record(request, access, "member_added", user_id=user.id, email=user.email, role=role)


async def _change_role(request: AnyRequest, access: Access, form: Any) -> None:
    user_id = form_field(form, "user_id")
    role = parse_role(form_field(form, "role"))
    engine = runtime_of(request).engine
    previous = await asyncio.to_thread(change_role, engine, access.client.id, user_id, role)
    if previous is not None and previous != role:
        await _record(
            request,
            access,
            "member_role_changed",
            user_id=user_id,
            email=await _email_of(engine, user_id),
            old=previous,
            new=role,
        )


async def _email_of(engine: Engine, user_id: str) -> str | None:
    """A member's email for the audit log's sentence (None: the account is gone)."""
    user = await asyncio.to_thread(get_user, engine, user_id)
    return user.email if user else None


async def _remove_member(request: AnyRequest, access: Access, form: Any) -> Redirect | None:
    user_id = form_field(form, "user_id")
    engine = runtime_of(request).engine
    previous = await asyncio.to_thread(remove_member, engine, access.client.id, user_id)
    if previous is None:
        return None
    await _record(
        request,
        access,
        "member_removed",
        user_id=user_id,
        email=await _email_of(engine, user_id),
        role=previous,
    )
    # Removing yourself leaves you nothing to see here.
    return Redirect(path="/", status_code=303) if user_id == access.user.id else None


async def _delete(request: AnyRequest, access: Access, form: Any) -> Redirect:
    # Typing the name (not ticking a box) makes deleting the wrong project hard.
    if form_field(form, "confirm_name") != access.client.name:
        raise ValueError("Type the project's name exactly to delete it.")
    runtime = runtime_of(request)
    deleted = await asyncio.to_thread(
        delete_client, runtime.engine, runtime.blobs, access.client.id
    )
    runtime.clients.forget(access.client.id)
    if deleted:
        await _record(request, access, "project_deleted", name=access.client.name)
    return Redirect(path="/", status_code=303)


async def _record(request: AnyRequest, access: Access, action: str, **details: Any) -> None:
    await asyncio.to_thread(
        audit.record, runtime_of(request).engine, access.user.id, access.client.id, action, details
    )


Action = Callable[[AnyRequest, Access, Any], Awaitable[Response[Any] | None]]

_ACTIONS: dict[str, Action] = {
    "rename": _rename,
    "add_origin": _change_allowlist,
    "remove_origin": _change_allowlist,
    "clear_allowlist": _change_allowlist,
    "screenshots": _set_screenshots_private,
    "replay_retention": _set_replay_retention,
    "add_member": _add_member,
    "change_role": _change_role,
    "remove_member": _remove_member,
    "delete": _delete,
}

ROUTES = [
    home,
    new_project,
    project_page,
    first_feedback,
    test_feedback,
    settings_page,
    settings_submit,
    audit_page,
]
