"""Screenshots for signed-in members, whatever the project's privacy setting.

The public ``/api/screenshots/…`` URL stops working for a private project once
feedback is submitted; this route keeps them visible to the team. Access is the
project's (non-members get 404) and the file must belong to that project. The
bytes go out as an inert image: exact type, nosniff, a sandboxing CSP, and only
a private cache.
"""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Response
from litestar.di import NamedDependency
from litestar.params import FromPath

from sayso.dashboard.access import Access, AnyRequest, not_found, runtime_of
from sayso.dashboard.pages import get_or_head
from sayso.ingest.screenshots import FILE_NAME
from sayso.store.screenshots import find_screenshots


@get_or_head("/projects/{client_id:str}/screenshots/{name:str}")
async def screenshot(
    request: AnyRequest, access: NamedDependency[Access], name: FromPath[str]
) -> Response[Any]:
    client_id = access.client.id
    file_name = f"{client_id}/{name}"
    if not FILE_NAME.match(file_name):
        return not_found()
    runtime = runtime_of(request)
    found = await asyncio.to_thread(find_screenshots, runtime.engine, client_id, [file_name])
    shot = found.get(file_name)
    data = await asyncio.to_thread(runtime.blobs.get, shot.blob_key) if shot else None
    if shot is None or data is None:
        return not_found()
    return Response(
        data,
        media_type=shot.mime_type,
        headers={
            "content-security-policy": "default-src 'none'; img-src 'self'; sandbox",
            "cache-control": "private, max-age=3600",
            "content-disposition": "inline",
        },
    )


ROUTES = [screenshot]
