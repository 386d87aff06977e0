"""A project's feedback inbox and each item's detail page.

Members of any role may read both; non-members get the same 404 as on every
project route (``dashboard/access.py``). Everything feedback carries was typed by
strangers on the internet: it is printed through autoescaping templates only,
and a URL becomes a link only when it is http(s) — never ``javascript:`` or
``data:``.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from litestar import Response
from litestar.di import NamedDependency
from litestar.params import FromPath
from sqlalchemy import Engine
from sqlalchemy.engine import RowMapping

from sayso.dashboard.access import Access, AnyRequest, not_found, page_context, runtime_of
from sayso.dashboard.inbox_query import (
    NOTHING_SELECTED,
    href,
    parse,
    query_pairs,
    with_environment,
)
from sayso.dashboard.pages import (
    RATINGS,
    excerpt,
    get_or_head,
    rating_label,
    render,
    screenshot_url,
    time_tag,
    web_url,
)
from sayso.dashboard.user_agents import parse as parse_user_agent
from sayso.store import feedback_search, overview, replay_views, triage
from sayso.store.ids import possible_sortable_id


def _screenshots(row: RowMapping) -> list[dict[str, Any]]:
    shots = row["screenshots"]
    return [s for s in shots if isinstance(s, dict)] if isinstance(shots, list) else []


def _item(
    row: RowMapping,
    tags: dict[str, list[str]] | None = None,
    recorded: set[str] | frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """One row as the templates need it: text only; links already vetted."""
    return {
        "status": row["status"],
        "status_label": triage.STATUS_LABELS.get(row["status"], row["status"]),
        "tags": (tags or {}).get(row["id"], []),
        "id": row["id"],
        "rating": rating_label(row["rating"]),
        "excerpt": excerpt(row["comment"]),
        "person": row["user_email"],
        "page": row["page_title"] or row["page_url"],
        "environment": row["environment"],
        "screenshots": len(_screenshots(row)),
        "replay": row["session_replay_id"] in recorded,
        "when": time_tag(row["created_at"], seconds=True),
    }


def _params(request: AnyRequest) -> dict[str, list[str]]:
    query = request.query_params
    return {key: list(query.getall(key)) for key in query}


@get_or_head("/projects/{client_id:str}/inbox")
async def inbox_page(request: AnyRequest, access: NamedDependency[Access]) -> Response[Any]:
    client_id = access.client.id
    engine = runtime_of(request).engine
    parsed = parse(_params(request))
    filters = parsed.filters
    if request.query_params.get("notice") == NOTHING_SELECTED:
        parsed.notes.append("Select some feedback first: nothing was changed.")
    if parsed.before is not None and not await asyncio.to_thread(
        feedback_search.exists, engine, client_id, parsed.before
    ):
        parsed.notes.append("Ignored before: no such feedback in this project.")
        parsed.before = None
    page, envs, project_tags = await asyncio.gather(
        asyncio.to_thread(feedback_search.find, engine, client_id, filters, before=parsed.before),
        asyncio.to_thread(overview.environments, engine, client_id),
        asyncio.to_thread(triage.project_tags, engine, client_id),
    )
    tags, recorded = await asyncio.gather(
        asyncio.to_thread(triage.tags_for, engine, [r["id"] for r in page.rows]),
        asyncio.to_thread(replay_views.recorded, engine, client_id, _session_ids(page.rows)),
    )
    base = f"/projects/{client_id}/inbox"
    switcher = [
        {
            "label": label,
            "href": href(base, with_environment(filters, env)),
            "current": env == filters.environment,
        }
        for label, env in [("Default", None), *((e, e) for e in envs)]
    ]
    if filters.environment is not None and filters.environment not in envs:
        switcher.append(
            {"label": filters.environment, "href": href(base, filters), "current": True}
        )
    here = href(base, filters, [("before", parsed.before)] if parsed.before else [])
    # Nothing listed: a new project says what to do next, a narrow filter how to widen it.
    first_run = not page.rows and not await asyncio.to_thread(
        feedback_search.any_feedback, engine, client_id
    )
    export = f"/projects/{client_id}/export"
    return render(
        "inbox.html",
        items=[_item(row, tags, recorded) for row in page.rows],
        # Each item opens with the list's filters, so its page can lead back and on.
        item_query=href("", filters),
        statuses=triage.STATUS_LABELS,
        summary=_summary(filters),
        tags=project_tags,
        can_triage=access.allows("triage"),
        here=here,
        more_filters_open=any(
            (
                filters.created_from,
                filters.created_before,
                filters.page,
                filters.person,
                filters.meta,
                filters.tag,
            )
        ),
        export_csv=href(export, filters, [("format", "csv")]),
        export_json=href(export, filters, [("format", "json")]),
        filters=filters,
        notes=parsed.notes,
        switcher=switcher,
        first_run=first_run,
        filtered=any(name != "env" for name, _ in query_pairs(filters)),
        clear_filters=href(base, feedback_search.Filters(environment=filters.environment)),
        older=href(base, filters, [("before", page.older)]) if page.older else None,
        newest=href(base, filters) if parsed.before else None,
        ratings=RATINGS,
        has_kinds=feedback_search.HAS_KINDS,
        from_value=filters.created_from.date().isoformat() if filters.created_from else "",
        to_value=_to_value(filters),
        meta_value="=".join(filters.meta) if filters.meta else "",
        **page_context(access),
    )


def _summary(filters: feedback_search.Filters) -> str:
    """The active filters as one sentence: "new or in progress feedback rated Terrible or
    Bad, with a comment, matching "export", newest first"."""
    status = (
        " or ".join(triage.STATUS_LABELS[s].lower() for s in filters.statuses)
        if filters.statuses
        else "all but archived"
    )
    parts = [f"{status} feedback"]
    if filters.environment is not None:
        parts.append(f"in {filters.environment}")
    if filters.ratings:
        parts.append("rated " + " or ".join(RATINGS[r][1] for r in filters.ratings))
    if filters.has:
        parts.append("with a " + " and a ".join(filters.has))
    if filters.q:
        parts.append(f"matching \u201c{filters.q}\u201d")
    if filters.person:
        parts.append(f"from {filters.person}")
    if filters.page:
        parts.append(f"on pages containing \u201c{filters.page}\u201d")
    if filters.tag:
        parts.append(f"tagged {filters.tag}")
    if filters.meta:
        parts.append(f"whose metadata has {filters.meta[0]}={filters.meta[1]}")
    if filters.created_from is not None:
        parts.append(f"from {filters.created_from.date().isoformat()}")
    if filters.created_before is not None:
        parts.append(f"to {_to_value(filters)}")
    return ", ".join(parts) + ", newest first"


def _to_value(filters: feedback_search.Filters) -> str:
    return dict(query_pairs(filters)).get("to", "")


def _metadata_text(value: object) -> object:
    """Nested dicts and lists stay structured; every leaf becomes text."""
    if isinstance(value, dict):
        return {str(k): _metadata_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_metadata_text(v) for v in value]
    return value if isinstance(value, str) else json.dumps(value)


def _session_ids(rows: list[RowMapping]) -> list[str]:
    ids = (row["session_replay_id"] for row in rows)
    return [i for i in ids if isinstance(i, str) and possible_sortable_id(i)]


async def _replay_href(engine: Engine, client_id: str, row: RowMapping) -> str | None:
    """The player at this feedback, if its session is stored in this project."""
    session_id = row["session_replay_id"]
    if not isinstance(session_id, str) or not possible_sortable_id(session_id):
        return None
    if not await asyncio.to_thread(replay_views.session_in_project, engine, client_id, session_id):
        return None
    return f"/projects/{client_id}/replays/{session_id}?feedback={row['id']}"


@get_or_head("/projects/{client_id:str}/feedback/{feedback_id:str}")
async def feedback_page(
    request: AnyRequest, access: NamedDependency[Access], feedback_id: FromPath[str]
) -> Response[Any]:
    client_id = access.client.id
    engine = runtime_of(request).engine
    row = None
    if possible_sortable_id(feedback_id):
        row = await asyncio.to_thread(feedback_search.get, engine, client_id, feedback_id)
    if row is None:
        return not_found()
    # The list this item was opened from (its filters ride along in the URL).
    listing = parse(_params(request)).filters
    inbox_base = f"/projects/{client_id}/inbox"
    newer, older = await asyncio.to_thread(
        feedback_search.neighbours, engine, client_id, listing, row
    )
    item_query = href("", listing)
    others, notes, project_tags, tags, replay_href = await asyncio.gather(
        asyncio.to_thread(feedback_search.from_same_person, engine, client_id, row),
        asyncio.to_thread(triage.notes_for, engine, feedback_id),
        asyncio.to_thread(triage.project_tags, engine, client_id),
        asyncio.to_thread(triage.tags_for, engine, [feedback_id]),
        _replay_href(engine, client_id, row),
    )
    recorded = await asyncio.to_thread(
        replay_views.recorded, engine, client_id, _session_ids([row, *others])
    )
    # No email on the feedback: the person identify gave its session, if any.
    session_person = None
    if row["user_email"] is None and replay_href is not None:
        session_person = await asyncio.to_thread(
            replay_views.session_person, engine, client_id, row["session_replay_id"]
        )
    shots = [
        {
            "url": screenshot_url(client_id, s.get("fileName")),
            "name": str(s.get("fileName") or ""),
            "size": f"{s['width']} × {s['height']}" if "width" in s and "height" in s else "",  # noqa: RUF001
        }
        for s in _screenshots(row)
    ]
    return render(
        "feedback.html",
        item=_item(row, tags, recorded),
        back_href=href(inbox_base, listing),
        newer_href=f"/projects/{client_id}/feedback/{newer}{item_query}" if newer else None,
        older_href=f"/projects/{client_id}/feedback/{older}{item_query}" if older else None,
        person=row["user_email"] or session_person,
        person_from_session=row["user_email"] is None and session_person is not None,
        person_href=(
            href(
                f"/projects/{client_id}/inbox",
                feedback_search.Filters(
                    environment=row["environment"], person=row["user_email"] or session_person
                ),
            )
            if row["user_email"] or session_person
            else None
        ),
        statuses=triage.STATUS_LABELS,
        can_triage=access.allows("triage"),
        here=f"/projects/{client_id}/feedback/{feedback_id}{item_query}",
        tags=project_tags,
        notes=[
            {"author": n.author, "body": n.body, "when": time_tag(n.created_at, seconds=True)}
            for n in notes
        ],
        row=row,
        comment=row["comment"],
        page_link=web_url(row["page_url"]),
        agent=parse_user_agent(row["user_agent"]),
        referrer_link=web_url(row["referrer"]),
        shots=shots,
        replay_href=replay_href,
        metadata=_metadata_text(row["metadata"]) if row["metadata"] is not None else None,
        others=[_item(other, None, recorded) for other in others],
        **page_context(access),
    )


ROUTES = [inbox_page, feedback_page]
