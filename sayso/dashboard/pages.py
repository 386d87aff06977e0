"""Server-rendered pages: Jinja2 templates (autoescaped), the static CSS and built scripts.

Templates live in ``templates/``; every value they print is HTML-escaped, so
user-supplied text (emails, later feedback) can't inject markup.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar import Response

from sayso.store.database import as_utc

HERE = Path(__file__).resolve().parent

_templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    auto_reload=False,
)

STYLESHEET = (HERE / "static" / "dashboard.css").read_bytes()
FAVICON = (HERE / "static" / "favicon.svg").read_bytes()
# Built by dashboard-ui/ (scripts/bootstrap). Pages work without them; a
# missing build only costs the shortcuts and buttons it adds.
BUILD = HERE / "static" / "build"
# Scripts and the stylesheets esbuild emits beside them (player.css).
SCRIPTS: dict[str, bytes] = {
    path.name: path.read_bytes()
    for path in sorted(BUILD.glob("*"))
    if path.is_file() and path.suffix in (".js", ".css")
}
# One version for every asset URL (?v=…): it changes whenever any of them
# does, so browsers may cache each URL for good.
ASSET_VERSION = hashlib.sha256(
    STYLESHEET + b"".join(SCRIPTS.get(name, b"") for name in sorted(SCRIPTS))
).hexdigest()[:12]
_templates.globals["asset_version"] = ASSET_VERSION


def time_tag(value: datetime, *, seconds: bool = False) -> dict[str, str]:
    """A UTC time as a <time> element needs it: machine-readable and for people."""
    utc = as_utc(value)
    text = utc.strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")
    return {"iso": utc.isoformat(), "text": text}


def render(template: str, *, status_code: int = 200, **context: Any) -> Response[str]:
    html = _templates.get_template(template).render(**context)
    # Litestar appends "; charset=utf-8" to every text/* type itself.
    return Response(html, status_code=status_code, media_type="text/html")
