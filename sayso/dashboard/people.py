"""The People view: a project's feedback grouped by person (``user_email``, case-insensitive).

Read from the ``feedback_people`` rollup (``store.people``), per environment
like the inbox. Each person links to the inbox filtered by their email; emails
were typed by strangers, so they are printed through autoescaping only.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

from litestar import Response
from litestar.di import NamedDependency

from sayso.dashboard.access import Access, AnyRequest, page_context, runtime_of
from sayso.dashboard.inbox_query import EVERY_STATUS
from sayso.dashboard.pages import (
    environment_param,
    get_or_head,
    render,
    switcher,
    time_tag,
)
from sayso.store import overview, people
from sayso.store.people import SORTS, Sort

MAX_PREFIX = 254
MAX_PAGE = 10_000  # numbered pages beyond this are not a real use


def _sort(raw: str | None, notes: list[str]) -> Sort:
    for sort in SORTS:
        if raw == sort:
            return sort
    if raw:
        notes.append(f"Ignored sort={raw!r}: use last_seen or count.")
    return "last_seen"


def _page_number(raw: str | None, notes: list[str]) -> int:
    if not raw:
        return 1
    if raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_PAGE:
        return int(raw)
    notes.append(f"Ignored page={raw!r}: pages are numbered from 1.")
    return 1


def _prefix(raw: str | None, notes: list[str]) -> str:
    value = (raw or "").strip()
    if "\x00" in value or len(value) > MAX_PREFIX:
        notes.append("Ignored q: not the start of an email address.")
        return ""
    return value


@get_or_head("/projects/{client_id:str}/people")
async def people_page(request: AnyRequest, access: NamedDependency[Access]) -> Response[Any]:
    client_id = access.client.id
    engine = runtime_of(request).engine
    query = request.query_params
    notes: list[str] = []
    environment = environment_param(request, notes)
    sort = _sort(query.get("sort"), notes)
    prefix = _prefix(query.get("q"), notes)
    number = _page_number(query.get("page"), notes)
    found, named = await asyncio.gather(
        asyncio.to_thread(
            people.find,
            engine,
            client_id,
            environment,
            sort=sort,
            prefix=prefix,
            offset=(number - 1) * people.PAGE_SIZE,
        ),
        asyncio.to_thread(overview.environments, engine, client_id),
    )
    env_pairs = [("env", environment)] if environment else []
    base = f"/projects/{client_id}/people"

    def link(**changes: str) -> str:
        params = {"sort": sort, "q": prefix, "page": str(number), **changes}
        # Defaults (last_seen, page 1) stay out of the URL.
        defaults = {"sort": "last_seen", "page": "1"}
        pairs = [*env_pairs, *((k, v) for k, v in params.items() if v and v != defaults.get(k))]
        return f"{base}?{urlencode(pairs)}" if pairs else base

    def inbox(email: str) -> str:
        pairs = [*env_pairs, ("person", email), *EVERY_STATUS]
        return f"/projects/{client_id}/inbox?{urlencode(pairs)}"

    return render(
        "people.html",
        notes=notes,
        switcher=switcher(
            base, environment, named, [("sort", sort)] if sort != "last_seen" else []
        ),
        environment=environment,
        sort=sort,
        prefix=prefix,
        sorts=[
            {"label": label, "href": link(sort=value, page="1"), "current": value == sort}
            for value, label in (("last_seen", "Last seen"), ("count", "Most feedback"))
        ],
        people=[
            {
                "email": p.email,
                "count": p.count,
                "average": f"{p.average:.2f}" if p.average is not None else "—",
                "first": time_tag(p.first_seen),
                "last": time_tag(p.last_seen),
                "href": inbox(p.email),
            }
            for p in found.people
        ],
        previous=link(page=str(number - 1)) if number > 1 else None,
        next=link(page=str(number + 1)) if found.more else None,
        number=number,
        **page_context(access),
    )


ROUTES = [people_page]
