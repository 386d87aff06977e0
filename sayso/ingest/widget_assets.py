"""``GET /widget.js`` and ``GET /widget/<file>``: the browser widget's built files.

The files are built from ``sdk/`` by ``npm run build`` into ``static/`` next to
this module (the bootstrap script does it; nothing built is committed). They
are read once, gzipped once, and re-read only when a rebuild changes them.
Every host page loads them cross-origin, so they carry the public API's CORS
header and ``Cross-Origin-Resource-Policy: cross-origin``. Their names are
stable (the script tag can't change), so caches keep them five minutes and
then revalidate with the ETag.
"""

from __future__ import annotations

import gzip
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sayso.ingest.http import HTTPError, Request, Response

if TYPE_CHECKING:
    from sayso.runtime import Runtime

STATIC = Path(__file__).parent / "static"
PREFIX = "/widget/"
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,100}\.(js|mjs|css|map)$")
_TYPES = {
    "js": b"text/javascript; charset=utf-8",
    "mjs": b"text/javascript; charset=utf-8",
    "css": b"text/css; charset=utf-8",
    "map": b"application/json",
}
_HEADERS = [
    (b"cache-control", b"public, max-age=300, stale-while-revalidate=86400"),
    (b"cross-origin-resource-policy", b"cross-origin"),
    (b"vary", b"accept-encoding"),
]


@dataclass(frozen=True, slots=True)
class Asset:
    mtime_ns: int
    body: bytes
    gzipped: bytes
    etag: bytes
    media_type: bytes


_cache: dict[str, Asset] = {}


def load_asset(name: str) -> Asset | None:
    path = STATIC / name
    try:
        mtime_ns = path.stat().st_mtime_ns
    except FileNotFoundError:
        return None
    cached = _cache.get(name)
    if cached is not None and cached.mtime_ns == mtime_ns:
        return cached
    body = path.read_bytes()
    asset = Asset(
        mtime_ns=mtime_ns,
        body=body,
        gzipped=gzip.compress(body, compresslevel=9, mtime=0),
        etag=b'"' + hashlib.sha256(body).hexdigest()[:20].encode() + b'"',
        media_type=_TYPES[name.rsplit(".", 1)[1]],
    )
    _cache[name] = asset
    return asset


async def serve_widget_asset(_runtime: Runtime, request: Request) -> Response:
    path = request.scope["path"]
    name = "widget.js" if path == "/widget.js" else path[len(PREFIX) :]
    asset = load_asset(name) if _NAME.match(name) else None
    if asset is None:
        raise HTTPError(404, "Not found")
    headers = [(b"etag", asset.etag), *_HEADERS]
    if request.header(b"if-none-match") == asset.etag.decode():
        return Response(304, None, headers)
    if "gzip" in (request.header(b"accept-encoding") or ""):
        headers.append((b"content-encoding", b"gzip"))
        return Response(200, content=asset.gzipped, media_type=asset.media_type, headers=headers)
    return Response(200, content=asset.body, media_type=asset.media_type, headers=headers)
