"""Clients (projects): the ``clientId`` a widget or API caller sends, and its allowlist."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, RowMapping, delete, select

from sayso.origins import InvalidOrigin, Origin, parse_allowlist_entry
from sayso.store.blobs import BlobStore
from sayso.store.database import as_utc
from sayso.store.ids import new_client_id
from sayso.store.schema import clients, replay_chunks, replay_sessions, screenshots

log = logging.getLogger(__name__)

MAX_NAME_LENGTH = 200
MAX_ID_LENGTH = 64  # the width of clients.id
MIN_RETENTION_DAYS, MAX_RETENTION_DAYS = 1, 3650  # session replays


def possible_client_id(value: str) -> bool:
    """Whether ``value`` could be a client id at all. Anything else is unknown
    without a query — and a NUL would make PostgreSQL refuse the query itself."""
    return 0 < len(value) <= MAX_ID_LENGTH and "\x00" not in value


@dataclass(frozen=True, slots=True)
class Client:
    id: str
    name: str
    allowed_origins: tuple[Origin, ...]
    created_at: datetime
    screenshots_private: bool = False
    replay_retention_days: int = 30

    @classmethod
    def from_row(cls, row: RowMapping) -> Client:
        return cls(
            id=row["id"],
            name=row["name"],
            allowed_origins=tuple(parse_allowlist_entry(o) for o in row["allowed_origins"]),
            created_at=as_utc(row["created_at"]),
            screenshots_private=bool(row["screenshots_private"]),
            replay_retention_days=int(row["replay_retention_days"]),
        )


def normalise_allowlist(entries: Iterable[str]) -> list[str]:
    """Parse, normalise and de-duplicate entries; raises ``InvalidOrigin``."""
    seen: dict[str, None] = {}
    for entry in entries:
        try:
            seen[str(parse_allowlist_entry(entry))] = None
        except InvalidOrigin as exc:
            raise InvalidOrigin(f"{entry!r}: {exc}") from None
    return list(seen)


def create_client(engine: Engine, name: str, allowed_origins: Iterable[str] = ()) -> Client:
    with engine.begin() as conn:
        return insert_client(conn, name, allowed_origins)


def insert_client(conn: Connection, name: str, allowed_origins: Iterable[str] = ()) -> Client:
    """``create_client`` inside the caller's transaction (to add rows that belong with it)."""
    name = _clean_name(name)
    origins = normalise_allowlist(allowed_origins)
    now = datetime.now(UTC)
    client_id = new_client_id()
    conn.execute(
        clients.insert().values(
            id=client_id,
            name=name,
            allowed_origins=origins,
            created_at=now,
            updated_at=now,
        )
    )
    return Client(client_id, name, tuple(map(parse_allowlist_entry, origins)), now)


def get_client(engine: Engine, client_id: str) -> Client | None:
    with engine.connect() as conn:
        row = conn.execute(select(clients).where(clients.c.id == client_id)).mappings().first()
    return Client.from_row(row) if row else None


def list_clients(engine: Engine) -> list[Client]:
    with engine.connect() as conn:
        rows = conn.execute(select(clients).order_by(clients.c.created_at, clients.c.id))
        return [Client.from_row(row) for row in rows.mappings()]


def update_client(
    engine: Engine,
    client_id: str,
    *,
    name: str | None = None,
    clear_allowlist: bool = False,
    add_origins: Iterable[str] = (),
    remove_origins: Iterable[str] = (),
    screenshots_private: bool | None = None,
    replay_retention_days: int | None = None,
) -> Client | None:
    """Change a client; the allowlist is cleared first, then removals, then additions."""
    add = normalise_allowlist(add_origins)
    remove = set(normalise_allowlist(remove_origins))
    with engine.begin() as conn:
        row = (
            conn.execute(select(clients).where(clients.c.id == client_id).with_for_update())
            .mappings()
            .first()
        )
        if row is None:
            return None
        origins = [] if clear_allowlist else list(row["allowed_origins"])
        origins = [o for o in origins if o not in remove]
        origins += [o for o in add if o not in origins]
        values: dict[str, object] = {"allowed_origins": origins, "updated_at": datetime.now(UTC)}
        if name is not None:
            values["name"] = _clean_name(name)
        if screenshots_private is not None:
            values["screenshots_private"] = screenshots_private
        if replay_retention_days is not None:
            if not MIN_RETENTION_DAYS <= replay_retention_days <= MAX_RETENTION_DAYS:
                raise ValueError(
                    f"replay retention is {MIN_RETENTION_DAYS} to {MAX_RETENTION_DAYS} days"
                )
            values["replay_retention_days"] = replay_retention_days
        conn.execute(clients.update().where(clients.c.id == client_id).values(**values))
    return get_client(engine, client_id)


def delete_client(engine: Engine, blobs: BlobStore, client_id: str) -> bool:
    """Delete a client, everything of it in the database, then its screenshot blobs.

    The rows go in one transaction (feedback, screenshot links and memberships
    follow by cascade); the screenshot rows are deleted explicitly first so
    their blob keys come back with them and no upload slips in between. Blobs
    are deleted only once the rows are gone, like ``delete_unattached`` does,
    so nothing ever points at a missing blob. False if there was no client.
    """
    with engine.begin() as conn:
        # Locking the client row first makes a concurrent upload's foreign-key
        # check wait for us (and then fail), so none can land unseen.
        conn.execute(select(clients.c.id).where(clients.c.id == client_id).with_for_update())
        blob_keys = list(
            conn.execute(
                delete(screenshots)
                .where(screenshots.c.client_id == client_id)
                .returning(screenshots.c.blob_key)
            ).scalars()
        )
        # Replay chunks likewise; locking the sessions makes a chunk being
        # stored right now fail its foreign key instead of landing unseen.
        sessions = select(replay_sessions.c.id).where(replay_sessions.c.client_id == client_id)
        conn.execute(sessions.with_for_update())
        blob_keys += conn.execute(
            delete(replay_chunks)
            .where(replay_chunks.c.session_id.in_(sessions.scalar_subquery()))
            .returning(replay_chunks.c.blob_key)
        ).scalars()
        gone = conn.execute(delete(clients).where(clients.c.id == client_id)).rowcount
    for key in blob_keys:
        try:
            blobs.delete(key)
        except Exception:
            # The row is gone; an orphaned blob wastes space but breaks nothing.
            log.exception("could not delete blob %s; its row is gone", key)
    return bool(gone)


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH or "\x00" in name:
        raise ValueError(f"a client name has 1 to {MAX_NAME_LENGTH} characters")
    return name
