"""Validation of a ``POST /api/feedback`` body, exactly as the Usero reference describes.

The body's fields are declared once (``FEEDBACK``, with ``ingest.fields``):
that declaration checks a decoded body, collecting *every* failing field so a
caller fixes everything in one round trip, and is the schema ``/openapi.json``
publishes. The rules between fields (a rating or a comment; ``pageUrl``
falling back to the Referer) are here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sayso.ingest.fields import (
    INVALID_DATA,
    MAX_SAFE_INTEGER,
    Body,
    Integer,
    Issues,
    JsonObject,
    Number,
    Objects,
    Refused,
    Text,
    text_problem,
)

# Longest accepted value of each free-text field, in characters.
MAX_LENGTHS: dict[str, int] = {
    "clientId": 64,
    "comment": 10_000,
    "userEmail": 254,
    "pageUrl": 4_096,
    "pageTitle": 1_000,
    "referrer": 4_096,
    "environment": 64,
    "sessionReplayId": 128,
}
SCREENSHOT_MAX_LENGTHS: dict[str, int] = {"fileName": 512, "url": 4_096, "mimeType": 100}
MAX_SCREENSHOTS = 10
METADATA_MAX_BYTES = 10_240
# Metadata (and identify's traits) may nest this deep. Far deeper JSON fits in
# 10 KB, but reading it back (psycopg, the dashboard's tree) recurses per
# level and would fail long after the visitor got their 200.
JSON_MAX_DEPTH = 32
METADATA_TOO_LARGE = "Metadata too large (max 10KB)"

CLIENT_ID = Text(
    name="clientId",
    max_length=MAX_LENGTHS["clientId"],
    required=True,
    doc="Your project id, starts with `client_`.",
)

SCREENSHOT = Body(
    (
        *(
            Text(name=key, max_length=length, required=True)
            for key, length in SCREENSHOT_MAX_LENGTHS.items()
        ),
        Number(name="fileSize", required=True),
        Number(name="width"),
        Number(name="height"),
    )
)

FEEDBACK = Body(
    (
        CLIENT_ID,
        Integer(name="rating", minimum=1, maximum=4, doc="1 Terrible, 2 Bad, 3 Good, 4 Amazing."),
        Text(
            name="comment",
            max_length=MAX_LENGTHS["comment"],
            strip=True,
            blank_is_absent=True,
            doc="Free text; whitespace is trimmed.",
        ),
        Text(
            name="userEmail",
            max_length=MAX_LENGTHS["userEmail"],
            strip=True,
            blank_is_absent=True,
            email=True,
            doc="The submitter's email; an empty string is treated as absent.",
        ),
        Text(
            name="pageUrl", max_length=MAX_LENGTHS["pageUrl"], doc="Defaults to the Referer header."
        ),
        Text(name="pageTitle", max_length=MAX_LENGTHS["pageTitle"], doc="Title of the page."),
        Text(
            name="referrer",
            max_length=MAX_LENGTHS["referrer"],
            doc="The page the user arrived from.",
        ),
        Text(
            name="environment",
            max_length=MAX_LENGTHS["environment"],
            strip=True,
            blank_is_absent=True,
            doc="E.g. production, staging; omit for the default.",
        ),
        Objects(name="screenshots", item=SCREENSHOT, max_items=MAX_SCREENSHOTS),
        JsonObject(
            name="metadata",
            max_bytes=METADATA_MAX_BYTES,
            max_depth=JSON_MAX_DEPTH,
            too_large=METADATA_TOO_LARGE,
        ),
        Text(
            name="sessionReplayId",
            max_length=MAX_LENGTHS["sessionReplayId"],
            nonempty=True,
            doc="Links a session replay.",
        ),
        Integer(
            name="replayOffsetMs",
            minimum=0,
            maximum=MAX_SAFE_INTEGER,
            message="Expected a non-negative integer",
        ),
    ),
    doc=(
        "At least one of `rating` and a non-empty `comment` is required. "
        "Unknown fields are ignored; `null` means absent. Text must not contain NUL."
    ),
)


@dataclass(frozen=True, slots=True)
class FeedbackInput:
    """A valid submission, normalised: absent optional fields are ``None``."""

    client_id: str
    rating: int | None
    comment: str | None
    user_email: str | None
    page_url: str | None
    page_title: str | None
    referrer: str | None
    environment: str | None
    screenshots: list[dict[str, Any]] | None
    metadata: dict[str, Any] | None
    session_replay_id: str | None
    replay_offset_ms: int | None


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a body was refused: the ``error`` string and, per field, what is wrong."""

    error: str
    issues: dict[str, list[str]] | None = None


def validate_feedback(data: Any, *, referer: str | None = None) -> FeedbackInput | Rejection:
    """Check a decoded body; ``referer`` is the request header, the fallback ``pageUrl``."""
    if not isinstance(data, dict):
        return Rejection("Request body must be a JSON object")
    issues = Issues()
    try:
        values = FEEDBACK.check(data, issues)
    except Refused as refused:
        return Rejection(refused.error)
    if data.get("rating") is None and values["comment"] is None and "comment" not in issues:
        issues.add("rating", "Provide a rating (1 to 4) or a non-empty comment")
    if data.get("pageUrl") is None and referer:
        # A too-long or odd Referer is dropped, never a reason to refuse feedback.
        values["pageUrl"] = (
            referer if text_problem(referer, MAX_LENGTHS["pageUrl"]) is None else None
        )
    if issues:
        return Rejection(INVALID_DATA, dict(issues))
    return FeedbackInput(**FEEDBACK.attributes(values))
