"""A private PostgreSQL cluster: ``initdb`` and ``pg_ctl`` in a folder of our own, on a free port.

Two users share this one recipe: ``scripts/services`` (a cluster for the test
suite when no PostgreSQL answers at 127.0.0.1:5432) and the outage tests, which
stop a database under a running server without touching the shared one. It
uses Debian's server binaries (``/usr/lib/postgresql/<version>/bin``) and the
standard library only, so ``scripts/services`` can run it with any Python 3.11.
As root, the server runs as the ``postgres`` OS user (``initdb`` refuses root).

    python -m tests.support.private_postgres ensure FOLDER   # start (or reuse); prints its URL
    python -m tests.support.private_postgres answers URL     # exit status 0 if a server answers
    python -m tests.support.private_postgres stop FOLDER
"""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

BINARIES = Path("/usr/lib/postgresql")
OWNER = "postgres"  # the OS user the server runs as when we are root
# The suite opens many connections at once (a pool per live server, xdist workers).
MAX_CONNECTIONS = 200
_SSL_REQUEST = struct.pack("!ii", 8, 80877103)


def bin_dir() -> Path | None:
    """The newest installed server's ``bin`` folder, or None if there is none."""
    found = [p.parent for p in BINARIES.glob("*/bin/initdb")]
    if not found:
        return None
    return max(found, key=lambda p: [int(x) for x in p.parent.name.split(".") if x.isdigit()])


def answers(host: str, port: int, timeout: float = 2.0) -> bool:
    """True when a PostgreSQL server speaks on ``host:port`` (an SSLRequest gets 'S' or 'N')."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.sendall(_SSL_REQUEST)
            return conn.recv(1) in (b"S", b"N")
    except OSError:
        return False


def url_answers(url: str) -> bool:
    parts = urlsplit(url)
    return answers(parts.hostname or "127.0.0.1", parts.port or 5432)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _is_root() -> bool:
    return os.geteuid() == 0


class PrivateCluster:
    """A cluster in ``folder``: ``data/`` (the cluster), ``port`` and ``log``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder.absolute()
        self.data = self.folder / "data"
        self._port_file = self.folder / "port"
        self.log = self.folder / "log"

    @property
    def port(self) -> int:
        return int(self._port_file.read_text())

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{OWNER if _is_root() else _me()}@127.0.0.1:{self.port}/{database}"

    def running(self) -> bool:
        return self._port_file.exists() and answers("127.0.0.1", self.port)

    def ensure(self) -> None:
        """Running afterwards: reused if it already is, else created and/or started."""
        if self.running():
            return
        if not (self.data / "PG_VERSION").exists():
            self._init()
        self.start()

    def _init(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if _is_root():
            shutil.chown(self.folder, OWNER, OWNER)
        self.folder.chmod(0o700)
        self._run(
            "initdb",
            f"--pgdata={self.data}",
            f"--username={OWNER if _is_root() else _me()}",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-sync",
        )

    def start(self) -> None:
        """Start on the port used before when it is still free (URLs stay valid), else a new one."""
        port = self.port if self._port_file.exists() else 0
        if not port or not _port_free(port):
            port = free_port()
        self._port_file.write_text(str(port))
        options = (
            f"-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
            f"-c max_connections={MAX_CONNECTIONS}"
        )
        data, log = str(self.data), str(self.log)
        self._run("pg_ctl", "start", "--wait", "--timeout=60", "-D", data, "-l", log, "-o", options)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; ``mode="immediate"`` drops every connection at once, like a crash."""
        self._run("pg_ctl", "stop", "--wait", "-D", str(self.data), "-m", mode)

    def remove(self) -> None:
        if self.running():
            self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        directory = bin_dir()
        if directory is None:
            raise RuntimeError(f"no PostgreSQL server binaries under {BINARIES}")
        command = [str(directory / program), *args]
        if _is_root():
            command = ["runuser", "-u", OWNER, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, cwd="/", check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{program} failed ({result.returncode}): {result.stderr.strip()}")


def _me() -> str:
    import getpass

    return getpass.getuser()


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        # As the server binds: a just-stopped server's port in TIME_WAIT is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def main(argv: list[str]) -> int:
    if len(argv) == 2 and argv[0] == "answers":
        return 0 if url_answers(argv[1]) else 1
    if len(argv) == 2 and argv[0] in ("ensure", "stop"):
        cluster = PrivateCluster(Path(argv[1]))
        try:
            if argv[0] == "stop":
                cluster.stop()
                return 0
            cluster.ensure()
        except RuntimeError as exc:
            print(f"private_postgres: {exc}", file=sys.stderr)
            return 1
        print(cluster.url())
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
