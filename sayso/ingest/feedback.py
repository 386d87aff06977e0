"""``POST /api/feedback``: decode, validate, check the client and its allowlist, store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import msgspec

from sayso.ingest.http import HTTPError, Request, Response
from sayso.ingest.validation import FeedbackInput, Rejection, validate_feedback
from sayso.origins import origin_allowed, request_origin
from sayso.store.ids import new_sortable_id

if TYPE_CHECKING:
    from sayso.app import Runtime

MAX_BODY_BYTES = 1_048_576  # 1 MiB; metadata alone is capped at 10 KB
MAX_USER_AGENT = 1_000

_decode = msgspec.json.Decoder().decode


def decode_json(body: bytes) -> object:
    try:
        return _decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        # RecursionError: absurdly deep nesting ([[[[...]]]]) is malformed for us.
        raise HTTPError(400, "Request body must be valid JSON") from None


async def post_feedback(runtime: Runtime, request: Request) -> Response:
    body = await request.body(MAX_BODY_BYTES)
    referer = request.header(b"referer")
    result = validate_feedback(decode_json(body), referer=referer)
    if isinstance(result, Rejection):
        extra = {"issues": result.issues} if result.issues else None
        raise HTTPError(400, result.error, extra=extra)

    client = await runtime.clients.get(result.client_id)
    if client is None:
        raise HTTPError(404, "Unknown clientId: check the id in your project settings")
    origin = request_origin(request.header(b"origin"), referer)
    if not origin_allowed(client.allowed_origins, origin):
        raise HTTPError(403, "Domain not allowed")

    feedback_id = new_sortable_id()
    await runtime.writer.insert(
        runtime.feedback_insert, _row(feedback_id, result, request, str(origin or ""))
    )
    return Response(200, {"success": True, "feedbackId": feedback_id})


def _row(feedback_id: str, data: FeedbackInput, request: Request, origin: str) -> dict[str, object]:
    user_agent = request.header(b"user-agent")
    return {
        "id": feedback_id,
        "client_id": data.client_id,
        "created_at": datetime.now(UTC),
        "rating": data.rating,
        "comment": data.comment,
        "user_email": data.user_email,
        "page_url": data.page_url,
        "page_title": data.page_title,
        "referrer": data.referrer,
        "environment": data.environment,
        "screenshots": data.screenshots,
        "metadata": data.metadata,
        "session_replay_id": data.session_replay_id,
        "replay_offset_ms": data.replay_offset_ms,
        "origin": origin or None,
        "user_agent": user_agent[:MAX_USER_AGENT] if user_agent else None,
    }
