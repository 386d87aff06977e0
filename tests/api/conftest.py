"""The public API's fixtures: the four ingest stacks (database by blob store)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import httpx
import pytest

from sayso.settings import Settings
from sayso.store.blobs import open_blob_store
from tests.support.live_server import migrated_server
from tests.support.replay import BROWSER_UA
from tests.support.s3 import s3_overrides
from tests.support.stack import STACKS, Stack


@pytest.fixture(scope="module", params=STACKS)
def stack(
    request: pytest.FixtureRequest, fresh_settings: Callable[..., Settings], s3_endpoint: str
) -> Iterator[Stack]:
    """A live server on one stack for the module: SQLite or PostgreSQL, disk or S3."""
    backend, blobs = str(request.param).split("-")
    overrides = s3_overrides(s3_endpoint, secrets.token_hex(4)) if blobs == "s3" else {}
    settings = fresh_settings(backend, **overrides)
    with (
        migrated_server(settings) as (server, engine),
        httpx.Client(base_url=server.url, timeout=60) as http,
    ):
        http.headers["User-Agent"] = BROWSER_UA
        yield Stack(server.settings, engine, server, http, open_blob_store(settings))
