"""A short-lived, in-process cache of clients for the ingest hot path.

Each submission names its client; reading it from the database every time
would add a round trip (and, on PostgreSQL, a network hop) to every request.
Entries live ``SAYSO_CLIENT_CACHE_SECONDS`` (default 5 s), so an allowlist
change made from the CLI or another node takes effect within that time.
Unknown ids are cached too: a client id is unguessable, so an id that did not
exist a moment ago can't have been created since by anyone who knew it.

Both kinds are least-recently-used caches with caps of their own, and the cap
on unknown ids is the smaller: anyone can send any number of made-up ids, and
they must never push out the clients real traffic needs.

``allowed_client`` is the check every public endpoint makes with it: the
client exists (404) and the request's origin is on its allowlist (403).
"""

from __future__ import annotations

import time
from collections import OrderedDict

from sqlalchemy import Engine

from sayso.ingest.http import HTTPError
from sayso.ingest.offload import Offload
from sayso.origins import Origin, origin_allowed
from sayso.store.clients import Client, get_client, possible_client_id

MAX_KNOWN = 10_000
MAX_UNKNOWN = 1_000

_Entry = tuple[float, Client | None]  # (expires at, the client or None for unknown)


class ClientLookup:
    def __init__(self, engine: Engine, ttl_seconds: float, offload: Offload) -> None:
        self._engine = engine
        self._offload = offload
        self._ttl = ttl_seconds
        self._known: OrderedDict[str, _Entry] = OrderedDict()
        self._unknown: OrderedDict[str, _Entry] = OrderedDict()

    async def get(self, client_id: str) -> Client | None:
        if not possible_client_id(client_id):
            return None
        now = time.monotonic()
        for entries in (self._known, self._unknown):
            entry = entries.get(client_id)
            if entry is not None and entry[0] > now:
                entries.move_to_end(client_id)
                return entry[1]
        client = await self._offload(get_client, self._engine, client_id)
        if self._ttl > 0:
            self._remember(client_id, (now + self._ttl, client))
        return client

    def _remember(self, client_id: str, entry: _Entry) -> None:
        self.forget(client_id)
        entries, cap = (
            (self._known, MAX_KNOWN) if entry[1] is not None else (self._unknown, MAX_UNKNOWN)
        )
        entries[client_id] = entry
        if len(entries) > cap:
            entries.popitem(last=False)

    def forget(self, client_id: str) -> None:
        self._known.pop(client_id, None)
        self._unknown.pop(client_id, None)


async def allowed_client(lookup: ClientLookup, client_id: str, origin: Origin | None) -> Client:
    """The named client, if it exists (else 404) and ``origin`` (the request's,
    ``Request.origin``) is on its allowlist (else 403)."""
    client = await lookup.get(client_id)
    if client is None:
        raise HTTPError(404, "Unknown clientId: check the id in your project settings")
    if not origin_allowed(client.allowed_origins, origin):
        raise HTTPError(403, "Domain not allowed")
    return client
