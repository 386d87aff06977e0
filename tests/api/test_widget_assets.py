"""The widget's built files, as the server hands them to host pages."""

from __future__ import annotations

import gzip

import httpx
import pytest

from sayso.ingest.widget_assets import STATIC


@pytest.fixture(autouse=True)
def _built() -> None:
    assert (STATIC / "widget.js").is_file(), "the widget is not built: run scripts/bootstrap"


def test_widget_js_is_served_cross_origin_and_cacheable(api: httpx.Client) -> None:
    response = api.get("/widget.js", headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["cross-origin-resource-policy"] == "cross-origin"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "max-age=300" in response.headers["cache-control"]
    assert response.content == (STATIC / "widget.js").read_bytes()


def test_widget_js_is_gzipped_when_asked_and_revalidates_with_its_etag(api: httpx.Client) -> None:
    raw = httpx.get(api.base_url.join("/widget.js"), headers={"Accept-Encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip"
    assert raw.content == (STATIC / "widget.js").read_bytes()  # httpx decoded it
    assert int(raw.headers["content-length"]) == len(
        gzip.compress((STATIC / "widget.js").read_bytes(), 9, mtime=0)
    )
    again = api.get("/widget.js", headers={"If-None-Match": raw.headers["etag"]})
    assert again.status_code == 304


def test_lazy_chunks_are_served_from_the_widget_folder(api: httpx.Client) -> None:
    names = sorted(p.name for p in STATIC.iterdir() if p.is_file())
    assert "capture.js" in names
    for name in names:
        assert api.get(f"/widget/{name}").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/widget/a%2Fb.js",
        "/widget/..%5Cx.js",
        "/widget/nothing.js",
        "/widget/",
        "/widget/x.py",
    ],
)
def test_nothing_else_is_served_from_the_widget_folder(api: httpx.Client, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 404
    assert response.json() == {"error": "Not found"}
