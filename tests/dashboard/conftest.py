"""The dashboard's fixtures: one live server per module and signed-in browsers on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from sayso.settings import Settings
from tests.support.dashboard import Browser, start_server
from tests.support.live_server import LiveServer


@pytest.fixture(scope="module")
def site(backend: str, fresh_settings: Callable[..., Settings]) -> Iterator[LiveServer]:
    # A long client cache: the pages must make the ingest path forget changed clients.
    with start_server(fresh_settings(backend, client_cache_seconds=300.0)) as live:
        yield live


@pytest.fixture
def people(site: LiveServer) -> Iterator[Callable[[str], Browser]]:
    """``people(label)`` → a new user, signed in; closed after the test."""
    opened: list[Browser] = []

    def open_browser(label: str) -> Browser:
        opened.append(Browser(site, label))
        return opened[-1]

    yield open_browser
    for browser in opened:
        browser.close()
