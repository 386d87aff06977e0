"""Screenshot records: what was uploaded, who links to it, and cleaning up the rest."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, RowMapping, and_, delete, exists, select

from sayso.store.blobs import BlobStore
from sayso.store.schema import clients, feedback_screenshots, screenshots

log = logging.getLogger(__name__)

# An upload that no feedback links to within this long is deleted.
UNATTACHED_TTL = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class Screenshot:
    file_name: str
    client_id: str
    blob_key: str
    mime_type: str
    file_size: int
    width: int
    height: int

    @classmethod
    def from_row(cls, row: RowMapping) -> Screenshot:
        return cls(**{name: row[name] for name in cls.__slots__})

    def api_object(self, public_url: str) -> dict[str, Any]:
        """The object the API hands out, and that feedback stores: the server's own numbers."""
        return {
            "fileName": self.file_name,
            "url": f"{public_url}/api/screenshots/{self.file_name}",
            "fileSize": self.file_size,
            "mimeType": self.mime_type,
            "width": self.width,
            "height": self.height,
        }


def find_screenshots(
    engine: Engine, client_id: str, file_names: Iterable[str]
) -> dict[str, Screenshot]:
    """The given uploads that exist *for this client*, by file name."""
    names = list(file_names)
    if not names:
        return {}
    query = select(screenshots).where(
        screenshots.c.client_id == client_id, screenshots.c.file_name.in_(names)
    )
    with engine.connect() as conn:
        return {
            row["file_name"]: Screenshot.from_row(row) for row in conn.execute(query).mappings()
        }


def screenshot_to_serve(engine: Engine, file_name: str) -> tuple[Screenshot, bool] | None:
    """The screenshot behind a public URL and whether its client keeps them
    private, or None when it must not be served.

    A client that keeps screenshots private stops serving them publicly once
    feedback links to them; until then the uploader's widget needs the preview.
    """
    attached = exists().where(feedback_screenshots.c.file_name == screenshots.c.file_name)
    query = (
        select(screenshots, clients.c.screenshots_private, attached.label("attached"))
        .join(clients, clients.c.id == screenshots.c.client_id)
        .where(screenshots.c.file_name == file_name)
    )
    with engine.connect() as conn:
        row = conn.execute(query).mappings().first()
    if row is None or (row["screenshots_private"] and row["attached"]):
        return None
    return Screenshot.from_row(row), bool(row["screenshots_private"])


def delete_unattached(engine: Engine, blobs: BlobStore, *, now: datetime | None = None) -> int:
    """Delete uploads older than a day that no feedback links to; returns how many.

    Each row is deleted only if it is still unlinked at that moment, and its blob
    only after the row is gone, so a screenshot in use is never removed — a
    feedback item that tries to link one being deleted fails its foreign key
    instead.
    """
    cutoff = (now or datetime.now(UTC)) - UNATTACHED_TTL
    unlinked = ~exists().where(feedback_screenshots.c.file_name == screenshots.c.file_name)
    with engine.connect() as conn:
        candidates = conn.execute(
            select(screenshots.c.file_name, screenshots.c.blob_key).where(
                screenshots.c.created_at < cutoff, unlinked
            )
        ).all()
    deleted = 0
    for file_name, blob_key in candidates:
        with engine.begin() as conn:
            gone = conn.execute(
                delete(screenshots).where(and_(screenshots.c.file_name == file_name, unlinked))
            ).rowcount
        if gone:
            try:
                blobs.delete(blob_key)
            except Exception:
                log.exception("could not delete blob %s; its row is gone", blob_key)
            deleted += 1
    return deleted
