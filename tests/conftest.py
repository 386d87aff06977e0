"""Shared fixtures: real databases, a real server on an ephemeral port, fresh clients.

Every test that takes ``backend`` (directly or through ``server``, ``engine``,
``api`` …) runs twice: on a SQLite file and on the PostgreSQL server at
127.0.0.1:5432, in a database created for this test run and dropped after it.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import httpx
import psycopg
import pytest
from sqlalchemy import Engine

from sayso.accounts import login
from sayso.accounts.hashing import HashPool
from sayso.accounts.users import User
from sayso.settings import Settings
from sayso.store import migrate
from sayso.store.clients import create_client
from sayso.store.database import create_db_engine
from tests.support.accounts import SignIn
from tests.support.images import png_bytes
from tests.support.live_server import LiveServer
from tests.support.s3 import S3_BUCKET, S3_KEY

POSTGRES_ADMIN_URL = os.environ.get(
    "SAYSO_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = ("sqlite", "postgres")


def _postgres_url(database: str) -> str:
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    return f"{base}/{database}"


class PostgresDatabases:
    """Creates throwaway databases on the local server and drops them at the end."""

    def __init__(self) -> None:
        self.prefix = f"sayso_test_{secrets.token_hex(4)}"
        self.created: list[str] = []

    def create(self, label: str = "main") -> str:
        name = f"{self.prefix}_{label}_{len(self.created)}"
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return _postgres_url(name)

    def drop_all(self) -> None:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
            for name in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    databases = PostgresDatabases()
    yield databases
    databases.drop_all()


@pytest.fixture(scope="session")
def fresh_settings(
    tmp_path_factory: pytest.TempPathFactory, postgres_databases: PostgresDatabases
) -> Callable[..., Settings]:
    """A factory: ``fresh_settings(backend, **overrides)`` → Settings on an empty database."""

    def make(backend: str, **overrides: object) -> Settings:
        data_dir = tmp_path_factory.mktemp(f"sayso-{backend}")
        database_url = "" if backend == "sqlite" else postgres_databases.create(backend)
        values: dict[str, object] = {
            "data_dir": data_dir,
            "database_url": database_url,
            "client_cache_seconds": 0.0,
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    return make


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3-compatible server (moto in server mode) on a loopback port."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{server._server.server_port}"  # type: ignore[union-attr]
    boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=S3_KEY,
        aws_secret_access_key=S3_KEY,
        region_name="us-east-1",
    ).create_bucket(Bucket=S3_BUCKET)
    yield endpoint
    server.stop()


@pytest.fixture(scope="session", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def settings(backend: str, fresh_settings: Callable[..., Settings]) -> Settings:
    return fresh_settings(backend)


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Iterator[Engine]:
    engine = create_db_engine(settings)
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def server(settings: Settings, engine: Engine) -> Iterator[LiveServer]:
    with LiveServer(settings) as live:
        yield live


@pytest.fixture
def api(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


@pytest.fixture
def client_id(engine: Engine) -> str:
    """A new client with no allowlist, so tests never see each other's feedback."""
    return create_client(engine, f"test {secrets.token_hex(3)}").id


@pytest.fixture
def upload_screenshot() -> Callable[..., dict[str, object]]:
    """``upload_screenshot(api, client_id)`` → the screenshot object the server returns."""

    def upload(api: httpx.Client, client_id: str, image: bytes | None = None) -> dict[str, object]:
        response = api.post(
            "/api/screenshots",
            data={"clientId": client_id},
            files={"screenshot": ("shot.png", image or png_bytes(), "image/png")},
        )
        assert response.status_code == 200, response.text
        return response.json()["screenshot"]  # type: ignore[no-any-return]

    return upload


@pytest.fixture
def sign_in_as(engine: Engine) -> SignIn:
    """``sign_in_as(email, password)`` → the user or None, the way the dashboard
    signs in (limits, the hash pool, the sign-in time), without HTTP. Each call
    comes from an address of its own, so no test runs into another's limits."""

    def sign_in_once(email: str, password: str) -> User | None:
        async def attempt() -> User | None:
            hashes = HashPool()
            try:
                address = f"2001:db8:{secrets.token_hex(2)}:{secrets.token_hex(2)}::1"
                return await login.sign_in(engine, hashes, email, password, address)
            finally:
                hashes.shutdown()

        return asyncio.run(attempt())

    return sign_in_once


@pytest.fixture
def artifacts_dir() -> Path:
    path = Path(__file__).resolve().parent.parent / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
