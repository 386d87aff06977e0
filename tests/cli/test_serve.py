"""`sayso serve` as a user runs it: a real process, zero configuration, the reference's curls."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from sayso.settings import Settings
from tests.support.reference import FULL_EXAMPLE

SAYSO = str(Path(sys.executable).with_name("sayso"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def workdir(
    tmp_path: Path, backend: str, fresh_settings: Callable[..., Settings]
) -> tuple[Path, dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SAYSO_")}
    if backend == "postgres":
        env["SAYSO_DATABASE_URL"] = fresh_settings("postgres").database_url
    return tmp_path, env


def test_sayso_serve_starts_with_zero_configuration_and_takes_the_reference_examples(
    workdir: tuple[Path, dict[str, str]], backend: str
) -> None:
    cwd, env = workdir
    port = free_port()
    server = subprocess.Popen(
        [SAYSO, "serve", "--port", str(port)], cwd=cwd, env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            assert time.monotonic() < deadline, "sayso serve did not come up"
            time.sleep(0.1)

        # The CLI works on the same database while the server runs.
        created = subprocess.run(
            [SAYSO, "clients", "create", "My app"],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        client_id = created.stdout.strip()
        minimal = httpx.post(base + "/api/feedback", json={"clientId": client_id, "rating": 3})
        full = httpx.post(
            base + "/api/feedback",
            json={"clientId": client_id, **FULL_EXAMPLE},
        )
        assert minimal.status_code == full.status_code == 200
        assert minimal.json()["success"] is full.json()["success"] is True

        exported = subprocess.run(
            [SAYSO, "feedback", "export", "--format", "jsonl"],
            cwd=cwd,
            env=env,
            capture_output=True,
            check=True,
        )
        records = [json.loads(line) for line in exported.stdout.splitlines()]
        assert [r["id"] for r in records] == [
            minimal.json()["feedbackId"],
            full.json()["feedbackId"],
        ]
    finally:
        server.send_signal(signal.SIGTERM)
        # Uvicorn shuts down gracefully, then re-raises the signal it caught.
        assert server.wait(timeout=30) in (0, -signal.SIGTERM)
    assert server.stderr is not None
    assert "Application shutdown complete" in server.stderr.read()

    if backend == "sqlite":
        assert (cwd / "sayso-data" / "sayso.db").is_file()
