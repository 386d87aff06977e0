"""Unknown clientIds must not flush the client cache (issue 10, finding 11).

10,000 made-up ids used to clear the whole cache, real clients included. The
cache is now least-recently-used, with a cap of its own (1,000) for unknown
ids. What the cache holds is observed through the database: a client whose
row was deleted is still returned while its entry lives, and an id created
after it was looked up is still unknown while its negative entry lives.
Entries live an hour here, so only eviction can end them.
"""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime

from sqlalchemy import Engine, delete

from sayso.ingest.client_lookup import ClientLookup
from sayso.ingest.offload import Offload
from sayso.store.clients import create_client
from sayso.store.schema import clients

HOUR = 3600.0
UNKNOWN_CAP = 1_000  # docs/settings.md, SAYSO_CLIENT_CACHE_SECONDS


def made_up_ids(count: int) -> list[str]:
    return [f"client_unknown{secrets.token_hex(8)}" for _ in range(count)]


async def look_up_all(lookup: ClientLookup, ids: list[str]) -> None:
    for start in range(0, len(ids), 50):
        found = await asyncio.gather(*(lookup.get(i) for i in ids[start : start + 50]))
        assert found == [None] * len(found)


def test_a_flood_of_unknown_ids_never_evicts_a_known_client(engine: Engine) -> None:
    known = create_client(engine, "known before the flood").id

    async def scenario() -> None:
        lookup = ClientLookup(engine, HOUR, Offload(threads=4))
        assert await lookup.get(known) is not None
        with engine.begin() as conn:  # gone from the database: only the cache knows it now
            conn.execute(delete(clients).where(clients.c.id == known))
        await look_up_all(lookup, made_up_ids(10_000))
        cached = await lookup.get(known)
        assert cached is not None
        assert cached.id == known

    asyncio.run(scenario())


def test_unknown_ids_are_capped_separately_and_least_recently_used_go_first(
    engine: Engine,
) -> None:
    late = f"client_late{secrets.token_hex(8)}"

    async def scenario() -> None:
        lookup = ClientLookup(engine, HOUR, Offload(threads=4))
        assert await lookup.get(late) is None  # remembered as unknown
        now = datetime.now(UTC)
        row = {"name": "created later", "allowed_origins": [], "created_at": now}
        with engine.begin() as conn:
            conn.execute(clients.insert().values(id=late, updated_at=now, **row))
        await look_up_all(lookup, made_up_ids(UNKNOWN_CAP - 1))
        assert await lookup.get(late) is None  # still cached, and now the most recent
        await look_up_all(lookup, made_up_ids(UNKNOWN_CAP - 1))
        assert await lookup.get(late) is None  # 1,000 unknown ids fit
        await look_up_all(lookup, made_up_ids(UNKNOWN_CAP))
        found = await lookup.get(late)  # pushed out by the next 1,000: read afresh
        assert found is not None
        assert found.id == late

    asyncio.run(scenario())
