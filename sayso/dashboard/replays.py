"""Session replays in the dashboard: a project's sessions list, the player, and its events.

A recording is DOM written by whoever visited the customer's site, so it is
never rendered by the server: the player page ships only the session's
metadata (as inert JSON) and the browser's ``player.js`` (dashboard-ui/)
fetches ``events.json`` and plays it with rrweb's Replayer inside an iframe
sandboxed *without* ``allow-scripts``. Only this page gets the relaxed CSP of
``security.PLAYER_CSP`` (the recorded site's styles, images and fonts).

Access is the same as every project route: members only, 404 otherwise; a
session of another project is a 404 too, so ids can't be probed across
projects.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from litestar import HttpMethod, Response
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Stream

from sayso.dashboard.access import Access, AnyRequest, not_found, page_context, runtime_of
from sayso.dashboard.inbox_query import parse_date
from sayso.dashboard.pages import (
    excerpt,
    get_or_head,
    rating_label,
    render,
    time_tag,
    web_url,
)
from sayso.dashboard.security import PLAYER_CSP
from sayso.store import replay_views
from sayso.store.ids import possible_sortable_id
from sayso.store.replay_views import SessionFilters
from sayso.store.replays import get_session, iter_events_json

LEAD_IN_MS = 3000  # the player opens this long before the feedback was given
MAX_PERSON = 254


def duration_text(ms: int) -> str:
    seconds = max(ms, 0) // 1000
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{seconds:02}" if hours else f"{minutes}:{seconds:02}"


def _filters(request: AnyRequest, notes: list[str]) -> tuple[SessionFilters, list[tuple[str, str]]]:
    """The list's filters from the URL, and the same as query pairs for links.

    Anything that doesn't parse is dropped with a note, never an error page.
    """
    query = request.query_params
    pairs: list[tuple[str, str]] = []
    person = (query.get("person") or "").strip()
    if "\x00" in person or len(person) > MAX_PERSON:
        notes.append("Ignored person: not an email address or anonymous id.")
        person = ""
    if person:
        pairs.append(("person", person))
    has: bool | None = None
    raw_has = query.get("feedback") or ""
    if raw_has in ("yes", "no"):
        has = raw_has == "yes"
        pairs.append(("feedback", raw_has))
    elif raw_has:
        notes.append(f"Ignored feedback={raw_has!r}: use yes or no.")
    start = parse_date(query.get("from"), "from", notes)
    end = parse_date(query.get("to"), "to", notes)
    if start:
        pairs.append(("from", start.isoformat()))
    if end:
        pairs.append(("to", end.isoformat()))
    filters = SessionFilters(
        person=person or None,
        has_feedback=has,
        created_from=datetime.combine(start, time(), UTC) if start else None,
        # "to" is a whole day, inclusive
        created_to=datetime.combine(end, time(), UTC) + timedelta(days=1) if end else None,
    )
    return filters, pairs


def _link(base: str, pairs: list[tuple[str, str]]) -> str:
    return f"{base}?{urlencode(pairs)}" if pairs else base


@get_or_head("/projects/{client_id:str}/replays")
async def replays_page(request: AnyRequest, access: NamedDependency[Access]) -> Response[Any]:
    client_id = access.client.id
    engine = runtime_of(request).engine
    notes: list[str] = []
    filters, pairs = _filters(request, notes)
    before = None
    raw_before = request.query_params.get("before")
    if raw_before:
        at = None
        if possible_sortable_id(raw_before):
            at = await asyncio.to_thread(
                replay_views.session_created_at, engine, client_id, raw_before
            )
        if at is None:
            notes.append("Ignored before: no such session in this project.")
        else:
            before = (at, raw_before)
    page = await asyncio.to_thread(
        replay_views.find_sessions, engine, client_id, filters, before=before
    )
    base = f"/projects/{client_id}/replays"
    return render(
        "replays.html",
        notes=notes,
        person=filters.person or "",
        has_feedback={True: "yes", False: "no", None: ""}[filters.has_feedback],
        from_value=dict(pairs).get("from", ""),
        to_value=dict(pairs).get("to", ""),
        sessions=[
            {
                "id": s.id,
                "href": f"{base}/{s.id}",
                "when": time_tag(s.created_at),
                "duration": duration_text(s.duration_ms),
                "person": s.user_email or s.anonymous_id or "—",
                "identified": s.user_email is not None,
                "start_url": s.start_url or "—",
                "chunks": s.chunk_count,
                "dropped": s.dropped_chunks,
                "feedback": s.feedback_count,
                "open": not s.closed,
            }
            for s in page.rows
        ],
        older=_link(base, [*pairs, ("before", page.older[1])]) if page.older else None,
        newest=_link(base, pairs) if before else None,
        **page_context(access),
    )


@get_or_head("/projects/{client_id:str}/replays/{session_id:str}")
async def player_page(
    request: AnyRequest, access: NamedDependency[Access], session_id: FromPath[str]
) -> Response[Any]:
    client_id = access.client.id
    runtime = runtime_of(request)
    engine = runtime.engine
    session = None
    if possible_sortable_id(session_id):
        session = await asyncio.to_thread(get_session, engine, session_id)
    if session is None or session.client_id != client_id:
        return not_found()
    linked, gaps = await asyncio.gather(
        asyncio.to_thread(replay_views.feedback_for_session, engine, client_id, session_id),
        asyncio.to_thread(replay_views.gaps, engine, session_id),
    )
    chosen = request.query_params.get("feedback")
    start_ms = 0
    markers = []
    for item in linked:
        href = f"/projects/{client_id}/feedback/{item.id}"
        if item.id == chosen and item.offset_ms is not None:
            start_ms = max(item.offset_ms - LEAD_IN_MS, 0)
        markers.append(
            {
                "id": item.id,
                "offsetMs": item.offset_ms,
                "label": f"{rating_label(item.rating)} {excerpt(item.comment)}".strip(),
                "href": href,
                "current": item.id == chosen,
                "at": duration_text(item.offset_ms or 0),
            }
        )
    # Inert data for player.js: rendered with |tojson into a JSON <script>,
    # which escapes <, > and & — markup in a comment can't end the element.
    data = {
        "eventsUrl": f"/projects/{client_id}/replays/{session_id}/events.json",
        "startMs": start_ms,
        "feedback": markers,
        "gaps": [{"dropped": g.dropped, "after": g.after, "before": g.before} for g in gaps],
    }
    response = render(
        "player.html",
        session=session,
        started=time_tag(session.created_at),
        duration=duration_text(
            replay_views.approximate_duration_ms(
                session.duration_ms, session.created_at, session.last_chunk_at
            )
        ),
        person=session.user_email or session.anonymous_id or "—",
        start_link=web_url(session.start_url),
        markers=markers,
        gaps=gaps,
        chosen=chosen if any(m["current"] for m in markers) else None,
        data=data,
        **page_context(access),
    )
    response.headers["content-security-policy"] = PLAYER_CSP
    return response


@get_or_head("/projects/{client_id:str}/replays/{session_id:str}/events.json")
async def replay_events(
    request: AnyRequest, access: NamedDependency[Access], session_id: FromPath[str]
) -> Response[Any]:
    """The session's events as one JSON array, streamed a chunk at a time."""
    client_id = access.client.id
    runtime = runtime_of(request)
    if not possible_sortable_id(session_id) or not await asyncio.to_thread(
        replay_views.session_in_project, runtime.engine, client_id, session_id
    ):
        return not_found()
    head = request.method == HttpMethod.HEAD  # the headers only: no blob is read
    return Stream(
        () if head else iter_events_json(runtime.engine, runtime.blobs, session_id),
        media_type="application/json",
        # Only the signed-in member's browser may keep it; a session still
        # recording grows, so nothing is marked fresh for long.
        headers={"cache-control": "private"},
    )


ROUTES = [replays_page, player_page, replay_events]
