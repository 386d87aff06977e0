"""Server-rendered pages: Jinja2 templates (autoescaped), the static CSS and built scripts,
and the display helpers pages share (so no page imports another).

Templates live in ``templates/``; every value they print is HTML-escaped, so
user-supplied text (emails, later feedback) can't inject markup. Pages are
routed with ``get_or_head``: every page answers HEAD as well (uptime checkers
send it; the server sends the headers only).
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar import HttpMethod, Request, Response, route
from litestar.handlers import HTTPRouteHandler

from sayso.ingest.screenshots import FILE_NAME
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


def get_or_head(path: str, **options: Any) -> HTTPRouteHandler:
    """Litestar's ``@get`` answering HEAD too: same handler, the server leaves out the body."""
    return route(path, http_method=[HttpMethod.GET, HttpMethod.HEAD], **options)


def form_field(form: Any, name: str) -> str:
    """A text field of a submitted form; "" when absent, not text, or holding a NUL.

    Every form value the dashboard reads comes through here. A NUL can't be in
    any legitimate value, and PostgreSQL refuses queries that carry one, so it
    is treated as no value at all (each form then says what is missing).
    """
    value = form.get(name, "")
    return value if isinstance(value, str) and "\x00" not in value else ""


RATINGS = {1: ("😞", "Terrible"), 2: ("🙁", "Bad"), 3: ("🙂", "Good"), 4: ("😍", "Amazing")}
EXCERPT = 140
# http(s) only, and no whitespace or control characters a browser would strip.
_WEB_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f]+", re.IGNORECASE)


def rating_label(rating: int | None) -> str:
    face_word = RATINGS.get(rating) if rating is not None else None
    return " ".join(face_word) if face_word else "—"


def excerpt(comment: str | None) -> str:
    if not comment:
        return ""
    flat = " ".join(comment.split())
    return flat if len(flat) <= EXCERPT else flat[: EXCERPT - 1].rstrip() + "…"


def web_url(value: object) -> str | None:
    """``value`` if it is an http(s) URL safe to put in ``href``/``src``, else None."""
    return value if isinstance(value, str) and _WEB_URL.fullmatch(value) else None


def screenshot_url(client_id: str, file_name: object) -> str | None:
    """The dashboard's URL for one of ``client_id``'s screenshots, or None if it isn't one."""
    if not isinstance(file_name, str):
        return None
    match = FILE_NAME.match(file_name)
    if match is None or match.group(1) != client_id:
        return None
    return f"/projects/{client_id}/screenshots/{file_name.split('/', 1)[1]}"


def environment_param(request: Request[Any, Any, Any], notes: list[str]) -> str:
    """The ``env`` query value as a rollup key: '' is the default inbox, as in the inbox's URLs."""
    raw = (request.query_params.get("env") or "").strip()
    if "\x00" in raw or len(raw) > 64:
        notes.append("Ignored env: not an environment name.")
        return ""
    return raw


def switcher(
    base: str, current: str, named: list[str], extra: list[tuple[str, str]]
) -> list[dict[str, Any]]:
    """The environment tabs, like the inbox's: Default, then each named environment."""
    envs = [("Default", ""), *((e, e) for e in named)]
    if current and current not in named:
        envs.append((current, current))
    tabs = []
    for label, env in envs:
        pairs = ([("env", env)] if env else []) + extra
        tabs.append(
            {
                "label": label,
                "href": f"{base}?{urlencode(pairs)}" if pairs else base,
                "current": env == current,
            }
        )
    return tabs
