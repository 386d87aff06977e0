"""The services scripts/services hands the tests: the Redis it chose answers.

(PostgreSQL needs no test of its own: every ``backend`` test runs on it.)
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

REDIS_URL = os.environ.get("SAYSO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def test_the_redis_the_tests_were_given_answers_ping() -> None:
    url = urlsplit(REDIS_URL)
    with socket.create_connection((url.hostname or "127.0.0.1", url.port or 6379), 5) as conn:
        conn.sendall(b"PING\r\n")
        assert conn.recv(64) == b"+PONG\r\n"
