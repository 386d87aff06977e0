"""Server-rendered pages: Jinja2 templates (autoescaped) and the dashboard's static CSS.

Templates live in ``templates/``; every value they print is HTML-escaped, so
user-supplied text (emails, later feedback) can't inject markup.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from litestar import Response

HERE = Path(__file__).resolve().parent

_templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    auto_reload=False,
)

STYLESHEET = (HERE / "static" / "dashboard.css").read_bytes()


def render(template: str, *, status_code: int = 200, **context: Any) -> Response[str]:
    html = _templates.get_template(template).render(**context)
    return Response(html, status_code=status_code, media_type="text/html; charset=utf-8")
