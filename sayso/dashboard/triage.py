"""Triage actions: status, tags and notes, on one item or on a selection.

One POST endpoint serves the inbox's bulk bar, the detail page's buttons and
the keyboard shortcuts (which submit the same forms). Members and owners may
triage; viewers only read. After the change the browser goes back to where it
came from — ``next`` is accepted only when it is one of this project's own
pages, so the form can't be used to bounce someone to another site.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from litestar import Response, post
from litestar.di import NamedDependency
from litestar.response import Redirect

from sayso.dashboard.access import (
    REFUSALS,
    Access,
    AnyRequest,
    forbidden,
    page_context,
    requires,
    runtime_of,
)
from sayso.dashboard.inbox_query import NOTHING_SELECTED
from sayso.dashboard.pages import form_field, render
from sayso.store import triage
from sayso.store.ids import possible_sortable_id

# A path on this project, with an optional query; no scheme, host or "//".
_NEXT = re.compile(r"/projects/[A-Za-z0-9_]{1,64}(/[A-Za-z0-9_/-]*)?(\?[^\s#\\]*)?")


def _next_url(form: Any, client_id: str) -> str:
    target = form_field(form, "next")
    prefix = f"/projects/{client_id}"
    if _NEXT.fullmatch(target) and (
        target == prefix or target.startswith((prefix + "/", prefix + "?"))
    ):
        return target
    return f"{prefix}/inbox"


class NothingSelected(ValueError):
    """A bulk action with no feedback ticked: back to the list, which says so."""


def _selected_ids(form: Any) -> list[str]:
    values = form.getall("ids", [])
    ids = [v for v in values if isinstance(v, str) and possible_sortable_id(v)]
    return list(dict.fromkeys(ids))[: triage.MAX_SELECTION]


async def _apply(access: Access, request: AnyRequest, form: Any) -> None:
    """Run the submitted action; raises ValueError with a message for people."""
    engine = runtime_of(request).engine
    client_id = access.client.id
    action = form_field(form, "action")
    ids = _selected_ids(form)
    if action.startswith("status:"):
        status = action.removeprefix("status:")
        if status not in triage.STATUSES:
            raise ValueError("Choose a status.")
        if not ids:
            raise NothingSelected("Select some feedback first.")
        await asyncio.to_thread(triage.set_status, engine, client_id, ids, status)
    elif action in {"add_tag", "remove_tag"}:
        tag = triage.clean_tag(form_field(form, "tag"))
        if not ids:
            raise NothingSelected("Select some feedback first.")
        change = triage.add_tag if action == "add_tag" else triage.remove_tag
        await asyncio.to_thread(change, engine, client_id, ids, tag)
    elif action == "note":
        body = triage.clean_note(form_field(form, "body"))
        if len(ids) != 1:
            raise ValueError("A note belongs to exactly one feedback item.")
        added = await asyncio.to_thread(
            triage.add_note, engine, client_id, ids[0], access.user.id, body
        )
        if not added:
            raise ValueError("That feedback no longer exists.")
    elif action == "delete":
        if not access.allows("delete"):
            raise PermissionError(REFUSALS["delete"])
        if not ids:
            raise NothingSelected("Select some feedback first.")
        blobs = runtime_of(request).blobs
        await asyncio.to_thread(
            triage.delete_feedback, engine, blobs, client_id, ids, access.user.id
        )
    else:
        raise ValueError("Unknown action; reload the page and try again.")


@post("/projects/{client_id:str}/triage", dependencies=requires("triage"))
async def triage_submit(request: AnyRequest, access: NamedDependency[Access]) -> Response[Any]:
    form = await request.form()
    back = _next_url(form, access.client.id)
    try:
        await _apply(access, request, form)
    except PermissionError as exc:
        return forbidden(str(exc))
    except NothingSelected:
        joiner = "&" if "?" in back else "?"
        return Redirect(path=f"{back}{joiner}notice={NOTHING_SELECTED}", status_code=303)
    except ValueError as exc:
        return render(
            "triage_error.html", status_code=400, error=str(exc), back=back, **page_context(access)
        )
    return Redirect(path=back, status_code=303)


ROUTES = [triage_submit]
