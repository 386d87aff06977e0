"""A short-lived, in-process cache of clients for the ingest hot path.

Each submission names its client; reading it from the database every time
would add a round trip (and, on PostgreSQL, a network hop) to every request.
Entries live ``SAYSO_CLIENT_CACHE_SECONDS`` (default 5 s), so an allowlist
change made from the CLI or another node takes effect within that time.
Unknown ids are cached too: a client id is unguessable, so an id that did not
exist a moment ago can't have been created since by anyone who knew it.
"""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import Engine

from sayso.store.clients import Client, get_client, possible_client_id

MAX_ENTRIES = 10_000


class ClientLookup:
    def __init__(self, engine: Engine, ttl_seconds: float) -> None:
        self._engine = engine
        self._ttl = ttl_seconds
        self._entries: dict[str, tuple[float, Client | None]] = {}

    async def get(self, client_id: str) -> Client | None:
        if not possible_client_id(client_id):
            return None
        now = time.monotonic()
        entry = self._entries.get(client_id)
        if entry is not None and entry[0] > now:
            return entry[1]
        client = await asyncio.to_thread(get_client, self._engine, client_id)
        if self._ttl > 0:
            if len(self._entries) >= MAX_ENTRIES:
                # Crude but bounded: a flood of random ids can't grow memory.
                self._entries.clear()
            self._entries[client_id] = (now + self._ttl, client)
        return client

    def forget(self, client_id: str) -> None:
        self._entries.pop(client_id, None)
