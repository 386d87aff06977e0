"""Triage: a feedback item's status, its tags and the team's internal notes.

Every change is scoped by ``client_id`` in the SQL itself, so an id from
another project (pasted into a form, say) changes nothing rather than relying
on a check elsewhere. Bulk changes are one statement in one transaction: a
selection is triaged entirely or not at all.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from sayso.store import audit
from sayso.store.blobs import BlobStore
from sayso.store.database import as_utc
from sayso.store.ids import new_sortable_id
from sayso.store.schema import (
    feedback,
    feedback_notes,
    feedback_screenshots,
    feedback_tags,
    screenshots,
    users,
)

log = logging.getLogger(__name__)

STATUSES = ("new", "in_progress", "resolved", "archived")
STATUS_LABELS = {
    "new": "New",
    "in_progress": "In progress",
    "resolved": "Resolved",
    "archived": "Archived",
}
# What the inbox shows when no status is chosen: everything but the archive.
DEFAULT_STATUSES = ("new", "in_progress", "resolved")
MAX_TAG = 40
MAX_TAGS_PER_ITEM = 20
MAX_NOTE = 5_000
MAX_SELECTION = 500  # ids in one bulk action: a page is 50, "select all" stays bounded
_TAG_DISALLOWED = re.compile(r"[,\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Note:
    id: str
    body: str
    author: str | None  # the author's email; None once their account is gone
    created_at: datetime


def clean_tag(raw: str) -> str:
    """A tag as stored: NFC, trimmed, inner whitespace collapsed, lowercase.

    Raises ValueError with a sentence for the person who typed it.
    """
    tag = " ".join(unicodedata.normalize("NFC", raw).split()).lower()
    if not tag:
        raise ValueError("Type a tag.")
    if len(tag) > MAX_TAG:
        raise ValueError(f"A tag has at most {MAX_TAG} characters.")
    if _TAG_DISALLOWED.search(tag):
        raise ValueError("A tag can't contain commas or control characters.")
    return tag


def clean_note(raw: str) -> str:
    body = raw.strip()
    if not body:
        raise ValueError("Write something first.")
    if len(body) > MAX_NOTE:
        raise ValueError(f"A note has at most {MAX_NOTE} characters.")
    if "\x00" in body:
        raise ValueError("A note can't contain NUL characters.")
    return body


def set_status(engine: Engine, client_id: str, ids: Sequence[str], status: str) -> int:
    """Move the given items of ``client_id`` to ``status``; returns how many changed."""
    if status not in STATUSES:
        raise ValueError(f"Unknown status {status!r}.")
    if not ids:
        return 0
    query = (
        update(feedback)
        .where(
            feedback.c.client_id == client_id,
            feedback.c.id.in_(list(ids)),
            feedback.c.status != status,
        )
        .values(status=status)
    )
    with engine.begin() as conn:
        return conn.execute(query).rowcount


def _owned(conn: Connection, client_id: str, ids: Sequence[str]) -> list[str]:
    query = select(feedback.c.id).where(
        feedback.c.client_id == client_id, feedback.c.id.in_(list(ids))
    )
    return [str(i) for i in conn.execute(query).scalars()]


def add_tag(engine: Engine, client_id: str, ids: Sequence[str], tag: str) -> None:
    """Tag the given items of ``client_id``; items that already have it are left alone.

    ON CONFLICT DO NOTHING rather than read-then-insert: two submissions of the
    same tag at once (a double click, a shortcut) must not collide.
    """
    if not ids:
        return
    with engine.begin() as conn:
        owned = _owned(conn, client_id, ids)
        if not owned:
            return
        counts: dict[str, int] = dict(
            conn.execute(
                select(feedback_tags.c.feedback_id, func.count())
                .where(feedback_tags.c.feedback_id.in_(owned))
                .group_by(feedback_tags.c.feedback_id)
            ).all()
        )
        rows = [
            {"feedback_id": i, "tag": tag, "client_id": client_id}
            for i in owned
            if counts.get(i, 0) < MAX_TAGS_PER_ITEM
        ]
        if rows:
            dialect_insert = (
                postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
            )
            conn.execute(dialect_insert(feedback_tags).on_conflict_do_nothing(), rows)


def remove_tag(engine: Engine, client_id: str, ids: Sequence[str], tag: str) -> int:
    if not ids:
        return 0
    query = delete(feedback_tags).where(
        feedback_tags.c.client_id == client_id,
        feedback_tags.c.feedback_id.in_(list(ids)),
        feedback_tags.c.tag == tag,
    )
    with engine.begin() as conn:
        return conn.execute(query).rowcount


def tags_for(engine: Engine, ids: Sequence[str]) -> dict[str, list[str]]:
    """Each id's tags, alphabetically (ids without tags are absent)."""
    if not ids:
        return {}
    query = (
        select(feedback_tags.c.feedback_id, feedback_tags.c.tag)
        .where(feedback_tags.c.feedback_id.in_(list(ids)))
        .order_by(feedback_tags.c.feedback_id, feedback_tags.c.tag)
    )
    found: dict[str, list[str]] = {}
    with engine.connect() as conn:
        for feedback_id, tag in conn.execute(query):
            found.setdefault(str(feedback_id), []).append(str(tag))
    return found


def project_tags(engine: Engine, client_id: str, limit: int = 200) -> list[str]:
    """The tags in use in a project, alphabetically (the forms' suggestions).

    DISTINCT off the (client_id, tag) index: no counting on every page view.
    """
    query = (
        select(feedback_tags.c.tag)
        .where(feedback_tags.c.client_id == client_id)
        .distinct()
        .order_by(feedback_tags.c.tag)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [str(tag) for tag in conn.execute(query).scalars()]


def add_note(
    engine: Engine, client_id: str, feedback_id: str, author_user_id: str, body: str
) -> bool:
    """Add a note to an item of ``client_id``; False when there is no such item."""
    with engine.begin() as conn:
        if not _owned(conn, client_id, [feedback_id]):
            return False
        conn.execute(
            insert(feedback_notes).values(
                id=new_sortable_id(),
                feedback_id=feedback_id,
                author_user_id=author_user_id,
                body=body,
                created_at=datetime.now(UTC),
            )
        )
    return True


def notes_for(engine: Engine, feedback_id: str) -> list[Note]:
    """An item's notes, oldest first, like a conversation."""
    query = (
        select(feedback_notes, users.c.email)
        .outerjoin(users, users.c.id == feedback_notes.c.author_user_id)
        .where(feedback_notes.c.feedback_id == feedback_id)
        .order_by(feedback_notes.c.created_at, feedback_notes.c.id)
    )
    with engine.connect() as conn:
        return [
            Note(row.id, row.body, row.email, as_utc(row.created_at)) for row in conn.execute(query)
        ]


def delete_feedback(
    engine: Engine, blobs: BlobStore, client_id: str, ids: Sequence[str], actor_user_id: str
) -> int:
    """Erase items of ``client_id`` for good (a person's right to erasure, spam).

    Their tags, notes and screenshot links go by cascade, and so do screenshots
    no other feedback uses — rows and the audit entry in one transaction, blobs
    after it (like ``delete_client``), so nothing ever points at a missing blob.
    """
    if not ids:
        return 0
    fs = feedback_screenshots.c
    with engine.begin() as conn:
        owned = _owned(conn, client_id, ids)
        if not owned:
            return 0
        linked = list(conn.execute(select(fs.file_name).where(fs.feedback_id.in_(owned))).scalars())
        gone = conn.execute(delete(feedback).where(feedback.c.id.in_(owned))).rowcount
        blob_keys: list[str] = []
        if linked:
            # Their links went with the feedback (cascade): what still has one is shared.
            still_used = select(fs.file_name).where(fs.file_name == screenshots.c.file_name)
            blob_keys = list(
                conn.execute(
                    delete(screenshots)
                    .where(screenshots.c.file_name.in_(linked), ~still_used.exists())
                    .returning(screenshots.c.blob_key)
                ).scalars()
            )
        audit.record(
            conn, actor_user_id, client_id, "feedback_deleted", {"count": gone, "ids": owned}
        )
    for key in blob_keys:
        try:
            blobs.delete(key)
        except Exception:
            log.exception("could not delete blob %s; its row is gone", key)
    return gone
