"""``POST /api/screenshots`` (upload) and ``GET /api/screenshots/<fileName>`` (serve).

The upload is step one of the reference's two-step flow: the widget uploads an
image, gets back a screenshot object, shows ``<img src=url>`` as a preview and
passes the object back inside ``screenshots[]`` on ``POST /api/feedback``.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING

from sayso.ingest.client_lookup import allowed_client
from sayso.ingest.http import HTTPError, Request, Response
from sayso.ingest.images import CleanImage, NotAnImage, clean_image, read_header
from sayso.ingest.pixel_budgets import TooManyPixels
from sayso.ingest.upload_form import read_upload_form
from sayso.store.ids import random_bytes
from sayso.store.schema import screenshots
from sayso.store.screenshots import Screenshot, screenshot_to_serve

if TYPE_CHECKING:
    from sayso.runtime import Runtime

MAX_SCREENSHOT_BYTES = 10 * 1024 * 1024
# Room for the multipart framing and the clientId field around the file.
MAX_UPLOAD_BODY_BYTES = MAX_SCREENSHOT_BYTES + 64 * 1024
PREFIX = "/api/screenshots/"

# "<clientId>/<32 lowercase base32 chars = 160 random bits>.<ext>"
FILE_NAME = re.compile(r"^(client_[A-Za-z0-9_-]{1,57})/([a-z2-7]{32})\.(png|jpg|webp)$")

# The stored bytes are ours (re-encoded), but a browser opening the URL
# directly must still treat them as an inert image and nothing else.
SERVE_HEADERS = [
    (b"content-security-policy", b"default-src 'none'; img-src 'self'; sandbox"),
    (b"cross-origin-resource-policy", b"cross-origin"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


def _new_file_name(client_id: str, extension: str) -> str:
    token = base64.b32encode(random_bytes(20)).decode().lower()
    return f"{client_id}/{token}.{extension}"


async def _clean(runtime: Runtime, client_id: str, upload: IO[bytes]) -> CleanImage:
    """The upload re-encoded; every limit that needs no pixel is applied before decoding."""
    try:
        header = await runtime.offload(read_header, upload)
        runtime.image_rate.spend(client_id, header.pixels)
        async with runtime.image_pixels.hold(header.pixels):
            return await runtime.offload(clean_image, upload)
    except NotAnImage as exc:
        raise HTTPError(400, str(exc)) from None
    except TooManyPixels as exc:
        raise HTTPError(
            429, "Too many requests", headers=[(b"retry-after", str(exc.retry_after).encode())]
        ) from None


async def upload_screenshot(runtime: Runtime, request: Request) -> Response:
    form = await read_upload_form(
        request,
        file_field="screenshot",
        max_file_bytes=MAX_SCREENSHOT_BYTES,
        max_body_bytes=MAX_UPLOAD_BODY_BYTES,
    )
    try:
        if form.file is None or form.file_size == 0:
            raise HTTPError(400, "Screenshot file is required")
        client_id = form.fields.get("clientId", "").strip()
        if not client_id:
            raise HTTPError(400, "Client ID is required")
        client = await allowed_client(runtime.clients, client_id, request.origin())
        image = await _clean(runtime, client.id, form.file)
    finally:
        form.close()

    file_name = _new_file_name(client.id, image.extension)
    shot = Screenshot(
        file_name=file_name,
        client_id=client.id,
        blob_key=f"screenshots/{file_name}",
        mime_type=image.mime_type,
        file_size=len(image.data),
        width=image.width,
        height=image.height,
    )
    # The blob first: a row must never point at bytes that are not there.
    await runtime.offload(runtime.blobs.put, shot.blob_key, image.data, shot.mime_type)
    row = {
        "file_name": shot.file_name,
        "client_id": shot.client_id,
        "blob_key": shot.blob_key,
        "mime_type": shot.mime_type,
        "file_size": shot.file_size,
        "width": shot.width,
        "height": shot.height,
        "created_at": datetime.now(UTC),
    }
    try:
        await runtime.writer.insert(screenshots, row)
    except runtime.writer.integrity_error:
        # The client row is gone (deleted from the CLI or another node while
        # this node's cache still knew it): like feedback, a 409, not a 500.
        await runtime.offload(runtime.blobs.delete, shot.blob_key)
        raise HTTPError(409, "The project was just removed; nothing was saved") from None
    except BaseException:
        await runtime.offload(runtime.blobs.delete, shot.blob_key)
        raise
    return Response(
        200, {"success": True, "screenshot": shot.api_object(runtime.settings.public_url)}
    )


async def serve_screenshot(runtime: Runtime, request: Request) -> Response:
    file_name = request.scope["path"][len(PREFIX) :]
    if not FILE_NAME.match(file_name):
        raise HTTPError(404, "Not found")
    found = await runtime.offload(screenshot_to_serve, runtime.engine, file_name)
    if found is None:
        raise HTTPError(404, "Not found")
    shot, private = found
    data = await runtime.offload(runtime.blobs.get, shot.blob_key)
    if data is None:
        raise HTTPError(404, "Not found")
    # The bytes behind a name never change, so caches may keep them for good —
    # unless the client keeps screenshots private: then no cache may hold a
    # copy that would outlive the public URL.
    cache = b"no-store" if private else b"public, max-age=31536000, immutable"
    etag = b'"' + file_name.rsplit("/", 1)[1].split(".")[0].encode() + b'"'
    headers = [(b"etag", etag), (b"cache-control", cache)]
    if request.header(b"if-none-match") == etag.decode():
        return Response(304, None, headers)
    return Response(
        200, content=data, media_type=shot.mime_type.encode(), headers=headers + SERVE_HEADERS
    )
