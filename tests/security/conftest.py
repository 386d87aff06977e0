"""Attacks found by the hostile probe of the running server (issue 10), kept as tests.

Each module here reproduces one family of findings against real parts — a live
server, both databases, real uploads — and asserts the fixed behaviour, so a
later change that reopens a hole fails here. The fixtures of ``tests/conftest.py``
(``backend``, ``server``, ``api``, ``client_id`` …) apply unchanged.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.private_postgres import PrivateCluster


@pytest.fixture(scope="session")
def private_postgres() -> Iterator[PrivateCluster]:
    """A PostgreSQL cluster of this session's own, which tests may stop and start.

    Never the shared server: stopping that would fail everyone else's tests.
    """
    cluster = PrivateCluster(Path(tempfile.mkdtemp(prefix="sayso-private-pg-")))
    cluster.ensure()
    yield cluster
    cluster.remove()
