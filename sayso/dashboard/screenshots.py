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

from litestar import Response, get
from litestar.params import FromPath

from sayso.dashboard.auth import AnyRequest, not_found, runtime_of
from sayso.dashboard.projects import Access, project_access
from sayso.ingest.screenshots import FILE_NAME
from sayso.store.screenshots import find_screenshots


def dashboard_url(client_id: str, file_name: object) -> str | None:
    """The dashboard's URL for one of ``client_id``'s screenshots, or None if it isn't one."""
    if not isinstance(file_name, str):
        return None
    match = FILE_NAME.match(file_name)
    if match is None or match.group(1) != client_id:
        return None
    return f"/projects/{client_id}/screenshots/{file_name.split('/', 1)[1]}"


@get("/projects/{client_id:str}/screenshots/{name:str}")
async def screenshot(
    request: AnyRequest, client_id: FromPath[str], name: FromPath[str]
) -> Response[Any]:
    access = await project_access(request, client_id)
    if not isinstance(access, Access):
        return access
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
