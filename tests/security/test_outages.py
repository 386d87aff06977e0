"""Finding 9: an outage is a 503 with Retry-After, never a 500, and recovery is immediate.

Real outages, not simulated ones: a private PostgreSQL cluster stopped under a
running server (``pg_ctl stop -m immediate``, as a crash would), a SQLite
database and a blob folder on a tiny tmpfs filled to the last byte, an object
store on a port nobody listens on, and ``sayso migrate`` started before its
database is up. The shared PostgreSQL and Redis are never touched.
"""

from __future__ import annotations

import errno
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import Engine, func, select, text

from sayso.accounts.users import create_user
from sayso.settings import Settings
from sayso.store.clients import create_client
from sayso.store.schema import feedback, replay_chunks, replay_sessions, screenshots
from tests.support.images import png_bytes
from tests.support.live_server import migrated_server
from tests.support.private_postgres import PrivateCluster, free_port
from tests.support.s3 import s3_overrides

SAYSO = str(Path(sys.executable).with_name("sayso"))
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"
PASSWORD = "correct horse battery staple"


def _database_on(cluster: PrivateCluster, name: str) -> str:
    with psycopg.connect(cluster.url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return cluster.url(name)


def _count(engine: Engine, table: object, *where: object) -> int:
    with engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(table).where(*where)))  # type: ignore[arg-type]


def _assert_unavailable(response: httpx.Response, *, api: bool = True) -> None:
    assert response.status_code == 503, (response.request.url, response.text)
    assert int(response.headers["retry-after"]) > 0
    if api:
        assert response.json() == {"error": "Service temporarily unavailable, please retry"}
        assert response.headers["access-control-allow-origin"] == "*"
    else:
        assert response.headers["content-type"].startswith("text/html")


class Calls:
    """The public API calls a page makes, against one project."""

    def __init__(self, http: httpx.Client, client_id: str) -> None:
        self.http = http
        self.client_id = client_id

    def feedback(self, comment: str) -> httpx.Response:
        return self.http.post(
            "/api/feedback", json={"clientId": self.client_id, "comment": comment}
        )

    def identify(self, anonymous_id: str) -> httpx.Response:
        body = {"clientId": self.client_id, "anonymousId": anonymous_id, "email": "a@example.com"}
        return self.http.post("/api/identify", json=body)

    def start_replay(self, tab: str) -> httpx.Response:
        body = {"clientId": self.client_id, "sdkSessionId": tab}
        return self.http.post("/api/replay-sessions", json=body)

    def chunk(self, session_id: str, seq: int) -> httpx.Response:
        return self.http.put(
            f"/api/replay-sessions/{session_id}/chunks/{seq}",
            content=b'[{"type": 4, "timestamp": 1}]',
            headers={"X-Usero-Client-Id": self.client_id},
        )

    def screenshot(self) -> httpx.Response:
        return self.http.post(
            "/api/screenshots",
            data={"clientId": self.client_id},
            files={"screenshot": ("s.png", png_bytes(), "image/png")},
        )


# --- PostgreSQL goes away under a running server --------------------------------


@pytest.mark.parametrize("cache_seconds", [0.0, 300.0], ids=["lookups-fail", "writes-fail"])
def test_a_stopped_database_is_a_503_everywhere_and_the_first_request_after_it_succeeds(
    private_postgres: PrivateCluster,
    fresh_settings: Callable[..., Settings],
    caplog: pytest.LogCaptureFixture,
    cache_seconds: float,
) -> None:
    # With the client cached, requests get past the lookup and fail in the
    # writer (or the blob/row path); without, they fail at the lookup.
    url = _database_on(private_postgres, f"outage_{int(cache_seconds)}")
    settings = fresh_settings("sqlite", database_url=url, client_cache_seconds=cache_seconds)
    with (
        migrated_server(settings) as (server, engine),
        httpx.Client(base_url=server.url, timeout=30, headers={"User-Agent": BROWSER_UA}) as http,
    ):
        client_id = create_client(engine, "outage").id
        create_user(engine, "owner@example.com", PASSWORD)
        calls = Calls(http, client_id)
        # Warm every path up: the writer's connection, pooled connections, the cache.
        assert calls.feedback("before").status_code == 200
        assert calls.identify("before").status_code == 200
        session_id = calls.start_replay("before").json()["sessionReplayId"]
        assert calls.screenshot().status_code == 200
        assert http.get("/login").status_code == 200

        private_postgres.stop("immediate")
        try:
            with caplog.at_level(logging.INFO):
                during = [
                    calls.feedback("during"),
                    calls.identify("during"),
                    calls.start_replay("during"),
                    calls.chunk(session_id, 0),
                    calls.screenshot(),
                ]
                login = http.get("/login")
                health = http.get("/healthz")
        finally:
            private_postgres.start()

        for response in during:
            _assert_unavailable(response)
        _assert_unavailable(login, api=False)
        assert health.status_code == 503
        assert health.json()["database"] == "unreachable"
        # One warning line per failed request, no traceback, nothing at ERROR.
        ours = [r for r in caplog.records if r.name.startswith("sayso")]
        assert not [r for r in ours if r.exc_info or r.levelno >= logging.ERROR]
        unavailable = [r for r in ours if r.getMessage().startswith("unavailable: ")]
        assert len(unavailable) == len(during) + 1

        # The very first request of each kind after the restart succeeds.
        assert calls.feedback("after").status_code == 200
        assert calls.identify("after").status_code == 200
        assert calls.start_replay("after").status_code == 200
        assert calls.chunk(session_id, 1).status_code == 200
        assert calls.screenshot().status_code == 200
        assert http.get("/login").status_code == 200
        assert http.get("/healthz").status_code == 200

        # Nothing from the outage was stored.
        assert _count(engine, feedback, feedback.c.comment == "during") == 0
        assert _count(engine, replay_sessions, replay_sessions.c.sdk_session_id == "during") == 0
        assert _count(engine, replay_chunks, replay_chunks.c.session_id == session_id) == 1
        assert _count(engine, screenshots, screenshots.c.client_id == client_id) == 2
        blob_root = Path(settings.blob_location)
        assert len([p for p in (blob_root / "screenshots").rglob("*") if p.is_file()]) == 2
        with engine.connect() as conn:
            identities = conn.execute(text("SELECT anonymous_id FROM identities")).scalars()
            assert sorted(identities) == ["after", "before"]


def test_the_writer_reconnects_when_the_database_restarted_while_it_was_idle(
    private_postgres: PrivateCluster, fresh_settings: Callable[..., Settings]
) -> None:
    # No request meets the outage: the writer's connection is dead but it
    # doesn't know yet. The first write after the restart must not be lost.
    url = _database_on(private_postgres, "idle_restart")
    settings = fresh_settings("sqlite", database_url=url, client_cache_seconds=300.0)
    with migrated_server(settings) as (server, engine), httpx.Client(base_url=server.url) as http:
        calls = Calls(http, create_client(engine, "idle").id)
        assert calls.feedback("before").status_code == 200
        batches = server.app.runtime.writer.batches

        private_postgres.stop("immediate")
        private_postgres.start()

        assert calls.feedback("after").status_code == 200
        assert server.app.runtime.writer.batches == batches + 1  # one commit, not two
        assert _count(engine, feedback, feedback.c.comment == "after") == 1


# --- Disks fill up ------------------------------------------------------------------


class TinyDisk:
    """A 16 MiB tmpfs of our own, to fill with a real ENOSPC."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._filler = root / "filler"

    def fill(self) -> None:
        """Write until the disk refuses even a single byte."""
        fd = os.open(self._filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        try:
            for size in (1 << 16, 1):
                try:
                    while os.write(fd, b"\0" * size):
                        pass
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
        finally:
            os.close(fd)

    def free(self) -> None:
        self._filler.unlink()

    def files(self, folder: str) -> list[Path]:
        return [p for p in (self.root / folder).rglob("*") if p.is_file()]


@pytest.fixture
def tiny_disk() -> Iterator[TinyDisk]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    root = Path(tempfile.mkdtemp(prefix="sayso-tiny-disk-"))
    mount = ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(root)]
    mounted = subprocess.run(mount, capture_output=True, text=True, check=False)
    if mounted.returncode != 0:  # e.g. a container without CAP_SYS_ADMIN
        root.rmdir()
        pytest.skip(f"can't mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield TinyDisk(root)
    finally:
        subprocess.run(["umount", "--lazy", str(root)], check=True)
        root.rmdir()


def test_a_full_sqlite_disk_is_a_503_and_healthz_reports_it(
    fresh_settings: Callable[..., Settings], tiny_disk: TinyDisk
) -> None:
    settings = fresh_settings("sqlite", data_dir=tiny_disk.root / "data", min_free_disk_mb=1)
    with migrated_server(settings) as (server, engine), httpx.Client(base_url=server.url) as http:
        calls = Calls(http, create_client(engine, "full disk").id)
        assert calls.feedback("before").status_code == 200
        assert http.get("/healthz").json() == {"status": "ok", "database": "ok", "disk": "ok"}
        with engine.connect() as conn:  # an empty WAL: the next commit needs new pages
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")

        tiny_disk.fill()
        health = http.get("/healthz")
        refused = calls.feedback("x" * 10_000)

        assert health.status_code == 503
        assert health.json() == {"status": "error", "database": "ok", "disk": "full"}
        _assert_unavailable(refused)

        tiny_disk.free()
        assert calls.feedback("after").status_code == 200
        assert http.get("/healthz").status_code == 200
        assert _count(engine, feedback) == 2  # before and after; the refused one is not there


def test_a_full_blob_disk_is_a_503_for_screenshots_and_chunks(
    backend: str, fresh_settings: Callable[..., Settings], tiny_disk: TinyDisk
) -> None:
    settings = fresh_settings(
        backend, storage_url=str(tiny_disk.root / "blobs"), min_free_disk_mb=1
    )
    with (
        migrated_server(settings) as (server, engine),
        httpx.Client(base_url=server.url, headers={"User-Agent": BROWSER_UA}) as http,
    ):
        client_id = create_client(engine, "full blobs").id
        calls = Calls(http, client_id)
        session_id = calls.start_replay("tab").json()["sessionReplayId"]

        tiny_disk.fill()
        _assert_unavailable(calls.screenshot())
        _assert_unavailable(calls.chunk(session_id, 0))
        assert http.get("/healthz").json()["disk"] == "full"
        assert tiny_disk.files("blobs") == []  # no blob, not even a temporary file
        assert _count(engine, screenshots, screenshots.c.client_id == client_id) == 0
        assert _count(engine, replay_chunks, replay_chunks.c.session_id == session_id) == 0

        tiny_disk.free()
        assert calls.screenshot().status_code == 200
        assert calls.chunk(session_id, 0).status_code == 200
        assert http.get("/healthz").status_code == 200


def test_an_unreachable_object_store_is_a_503(
    fresh_settings: Callable[..., Settings],
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    settings = fresh_settings("sqlite", **s3_overrides(nobody, "outage"))
    with migrated_server(settings) as (server, engine), httpx.Client(base_url=server.url) as http:
        calls = Calls(http, create_client(engine, "no s3").id)

        _assert_unavailable(calls.screenshot())
        assert _count(engine, screenshots) == 0


# --- Starting while the database is down ---------------------------------------------


def _sayso(settings_env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAYSO_")} | settings_env
    return subprocess.Popen(
        [SAYSO, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def test_a_command_gives_up_on_an_unreachable_database_with_one_line_per_try(
    tmp_path: Path,
) -> None:
    command = _sayso(
        {
            "SAYSO_DATA_DIR": str(tmp_path),
            "SAYSO_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/sayso",
            "SAYSO_DB_WAIT_SECONDS": "3",
        },
        "migrate",
    )
    _, stderr = command.communicate(timeout=60)

    lines = stderr.strip().splitlines()
    assert command.returncode == 1
    assert "Traceback" not in stderr
    assert len(lines) >= 2
    assert all(line.startswith("sayso: waiting for the database") for line in lines[:-1])
    assert lines[-1].startswith("Error: database unavailable: OperationalError: connection failed")


def test_a_command_waits_for_a_database_that_comes_up(
    private_postgres: PrivateCluster, tmp_path: Path
) -> None:
    url = _database_on(private_postgres, "late_start")
    private_postgres.stop("immediate")
    try:
        command = _sayso({"SAYSO_DATA_DIR": str(tmp_path), "SAYSO_DATABASE_URL": url}, "migrate")
        assert command.stderr is not None
        first = command.stderr.readline()  # it is waiting
    finally:
        private_postgres.start()
    _, rest = command.communicate(timeout=60)

    assert first.startswith("sayso: waiting for the database")
    assert command.returncode == 0, rest
    assert "database at revision" in rest
    assert "Traceback" not in rest


# --- What counts as an outage ---------------------------------------------------------


def test_only_unavailability_is_classified_as_an_outage(tmp_path: Path) -> None:
    import sqlite3

    from sayso.store.outages import is_outage

    def raised(action: Callable[[], object]) -> BaseException:
        try:
            action()
        except BaseException as exc:
            return exc
        raise AssertionError("nothing raised")

    db = sqlite3.connect(tmp_path / "x.db")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    db.execute("INSERT INTO t VALUES (1)")
    full = OSError(errno.ENOSPC, "No space left on device")

    assert is_outage(full)
    assert is_outage(OSError(errno.EROFS, "Read-only file system"))
    wrapped = RuntimeError("write failed")
    wrapped.__cause__ = full
    assert is_outage(wrapped)
    refused = raised(lambda: psycopg.connect(f"postgresql://127.0.0.1:{free_port()}/x"))
    assert is_outage(refused)
    # Bugs and bad input stay bugs.
    assert not is_outage(raised(lambda: db.execute("INSERT INTO t VALUES (1)")))  # constraint
    assert not is_outage(raised(lambda: db.execute("SELECT * FROM missing")))  # no such table
    assert not is_outage(OSError(errno.ENOENT, "No such file or directory"))
    assert not is_outage(ValueError("bad"))
    context_only = ValueError("a bug while handling an outage")
    context_only.__context__ = full
    assert not is_outage(context_only)


def test_the_clean_up_logs_an_outage_in_one_line_and_the_cli_exits_non_zero(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from click.testing import CliRunner

    from sayso import cleanup
    from sayso.cli import main
    from sayso.store.blobs import open_blob_store
    from sayso.store.database import create_db_engine

    dead = f"postgresql://postgres@127.0.0.1:{free_port()}/sayso"
    settings = Settings(data_dir=tmp_path, database_url=dead)
    engine = create_db_engine(settings)
    reported: list[str] = []

    with caplog.at_level(logging.INFO):
        failed = cleanup.run(
            cleanup.JOBS,
            engine,
            open_blob_store(settings),
            settings,
            lambda m, _n: reported.append(m),
        )

    # Every job that needs the database failed (the orphan sweep of an empty
    # blob folder has nothing to ask it), each with one warning line.
    records = [r for r in caplog.records if r.name == "sayso.cleanup"]
    assert failed == len(records) == len(cleanup.JOBS) - 1
    assert reported == ["deleted 0 blobs no row points at"]
    assert all(r.levelno == logging.WARNING and r.exc_info is None for r in records)
    env = {
        "SAYSO_DATA_DIR": str(tmp_path),
        "SAYSO_DATABASE_URL": dead,
        "SAYSO_DB_WAIT_SECONDS": "0",
    }
    result = CliRunner(env=env).invoke(main, ["cleanup"])
    assert result.exit_code != 0
