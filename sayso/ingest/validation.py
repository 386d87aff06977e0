"""Validation of a ``POST /api/feedback`` body, exactly as the Usero reference describes.

Works on the already-decoded JSON value and collects *every* failing field, so
a caller fixes everything in one round trip. The limits here are the single
source of truth: the OpenAPI document (``ingest.openapi``) and the docs quote
them from this module.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import msgspec

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
INVALID_DATA = "Invalid data provided"
MAX_SAFE_INTEGER = 2**53 - 1  # what every JavaScript client can represent exactly

# Close to what browsers accept for <input type=email>: a dotted domain with a
# letter-only TLD, no leading/trailing/double dots in the local part.
EMAIL_PATTERN = (
    r"^(?!\.)(?!.*\.\.)[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}(?<!\.)"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
EMAIL = re.compile(EMAIL_PATTERN)


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


class Issues(dict[str, list[str]]):
    """Every failing field with its messages: a 400 names them all at once."""

    def add(self, field: str, message: str) -> None:
        self.setdefault(field, []).append(message)


def text_problem(value: str, max_length: int) -> str | None:
    if len(value) > max_length:
        return f"Must be at most {max_length} characters"
    if "\x00" in value:
        return "Must not contain NUL characters"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "Must be valid Unicode text"
    return None


def _text(data: dict[str, Any], field: str, issues: Issues, *, strip: bool = False) -> str | None:
    """An optional string field; ``None`` (or nothing) means absent."""
    value = data.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        issues.add(field, f"Expected a string, received {json_type(value)}")
        return None
    if strip:
        value = value.strip()
    problem = text_problem(value, MAX_LENGTHS[field])
    if problem:
        issues.add(field, problem)
        return None
    return value


def _integer(value: Any) -> int | None:
    """A JSON integer. ``3.0`` counts (JavaScript can't tell it from ``3``); ``true`` doesn't."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def contains_nul(value: Any) -> bool:
    # Iterative: metadata the JSON decoder accepts can be nested far deeper
    # than a recursive walk (two frames per level) can follow.
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            if any("\x00" in k for k in item):
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def json_depth(value: Any, limit: int = JSON_MAX_DEPTH) -> int:
    """How deeply ``value`` nests objects and arrays, counted up to ``limit`` + 1.

    Iterative like ``contains_nul``; it stops as soon as the limit is passed.
    """
    deepest = 0
    stack = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level + 1)
        if deepest > limit:
            break
        stack.extend((child, level + 1) for child in children)
    return deepest


def compact_json(value: Any) -> bytes | None:
    """``value`` as compact JSON; ``None`` if a lone surrogate makes that impossible."""
    try:
        return msgspec.json.encode(value)
    except UnicodeEncodeError:
        return None


def _screenshot(item: Any, index: int, issues: Issues) -> dict[str, Any] | None:
    where = f"[{index}]"
    if not isinstance(item, dict):
        issues.add("screenshots", f"{where}: Expected an object, received {json_type(item)}")
        return None
    clean: dict[str, Any] = {}
    ok = True
    for key, max_length in SCREENSHOT_MAX_LENGTHS.items():
        value = item.get(key)
        if not isinstance(value, str) or not value:
            issues.add("screenshots", f"{where}.{key}: Required, a non-empty string")
            ok = False
            continue
        problem = text_problem(value, max_length)
        if problem:
            issues.add("screenshots", f"{where}.{key}: {problem}")
            ok = False
        clean[key] = value
    for key, required in (("fileSize", True), ("width", False), ("height", False)):
        value = item.get(key)
        if value is None and not required:
            continue
        number = _number(value)
        if number is None or number < 0 or number > MAX_SAFE_INTEGER:
            issues.add("screenshots", f"{where}.{key}: Expected a non-negative number")
            ok = False
            continue
        clean[key] = number
    return clean if ok else None


def validate_feedback(data: Any, *, referer: str | None = None) -> FeedbackInput | Rejection:
    """Check a decoded body; ``referer`` is the request header, the fallback ``pageUrl``."""
    if not isinstance(data, dict):
        return Rejection("Request body must be a JSON object")
    issues = Issues()

    client_id = data.get("clientId")
    if client_id is None or client_id == "":
        issues.add("clientId", "Required")
        client_id = None
    elif not isinstance(client_id, str):
        issues.add("clientId", f"Expected a string, received {json_type(client_id)}")
        client_id = None
    elif problem := text_problem(client_id, MAX_LENGTHS["clientId"]):
        issues.add("clientId", problem)
        client_id = None

    rating = None
    raw_rating = data.get("rating")
    if raw_rating is not None:
        rating = _integer(raw_rating)
        if rating is None:
            issues.add("rating", f"Expected an integer, received {json_type(raw_rating)}")
        elif not 1 <= rating <= 4:
            issues.add("rating", "Must be between 1 and 4")
            rating = None

    comment = _text(data, "comment", issues, strip=True) or None
    if raw_rating is None and comment is None and "comment" not in issues:
        issues.add("rating", "Provide a rating (1 to 4) or a non-empty comment")

    user_email = _text(data, "userEmail", issues, strip=True) or None
    if user_email is not None and not EMAIL.match(user_email):
        issues.add("userEmail", "Must be a valid email address")
        user_email = None

    page_url = _text(data, "pageUrl", issues)
    if page_url is None and "pageUrl" not in issues and referer:
        # A too-long or odd Referer is dropped, never a reason to refuse feedback.
        page_url = referer if text_problem(referer, MAX_LENGTHS["pageUrl"]) is None else None
    page_title = _text(data, "pageTitle", issues)
    referrer = _text(data, "referrer", issues)
    environment = _text(data, "environment", issues, strip=True) or None

    screenshots = None
    raw_screenshots = data.get("screenshots")
    if raw_screenshots is not None:
        if not isinstance(raw_screenshots, list):
            issues.add("screenshots", f"Expected an array, received {json_type(raw_screenshots)}")
        elif len(raw_screenshots) > MAX_SCREENSHOTS:
            issues.add("screenshots", f"At most {MAX_SCREENSHOTS} screenshots")
        else:
            items = [_screenshot(item, i, issues) for i, item in enumerate(raw_screenshots)]
            screenshots = [item for item in items if item is not None] or None

    metadata = data.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, dict):
            issues.add("metadata", f"Expected an object, received {json_type(metadata)}")
            metadata = None
        elif (encoded := compact_json(metadata)) is None:
            issues.add("metadata", "Must be valid Unicode text")
            metadata = None
        elif len(encoded) > METADATA_MAX_BYTES:
            return Rejection(METADATA_TOO_LARGE)
        elif json_depth(metadata) > JSON_MAX_DEPTH:
            issues.add("metadata", f"Must nest at most {JSON_MAX_DEPTH} levels deep")
            metadata = None
        # A NUL is always encoded as \u0000, so its absence from the encoding
        # proves there is none; only a hit needs the (exact) walk.
        elif b"\\u0000" in encoded and contains_nul(metadata):
            issues.add("metadata", "Must not contain NUL characters")
            metadata = None

    session_replay_id = _text(data, "sessionReplayId", issues)
    if session_replay_id == "":
        issues.add("sessionReplayId", "Must be 1 to 128 characters")

    replay_offset_ms = None
    raw_offset = data.get("replayOffsetMs")
    if raw_offset is not None:
        replay_offset_ms = _integer(raw_offset)
        if replay_offset_ms is None or not 0 <= replay_offset_ms <= MAX_SAFE_INTEGER:
            issues.add("replayOffsetMs", "Expected a non-negative integer")
            replay_offset_ms = None

    if issues:
        return Rejection(INVALID_DATA, dict(issues))
    assert client_id is not None
    return FeedbackInput(
        client_id=client_id,
        rating=rating,
        comment=comment,
        user_email=user_email,
        page_url=page_url,
        page_title=page_title,
        referrer=referrer,
        environment=environment,
        screenshots=screenshots,
        metadata=metadata,
        session_replay_id=session_replay_id,
        replay_offset_ms=replay_offset_ms,
    )
