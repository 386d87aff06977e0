"""``POST /api/feedback``: decode, validate, check the client and its allowlist,
resolve screenshot references, store."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sayso.ingest.client_lookup import allowed_client
from sayso.ingest.fields import INVALID_DATA
from sayso.ingest.http import HTTPError, Request, Response, decode_json
from sayso.ingest.validation import FeedbackInput, Rejection, validate_feedback
from sayso.store.feedback import find_by_idempotency_key
from sayso.store.ids import new_sortable_id
from sayso.store.schema import feedback, feedback_screenshots
from sayso.store.screenshots import Screenshot, find_screenshots

if TYPE_CHECKING:
    from sqlalchemy import Table

    from sayso.runtime import Runtime

MAX_BODY_BYTES = 1_048_576  # 1 MiB; metadata alone is capped at 10 KB
MAX_USER_AGENT = 1_000
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")


async def post_feedback(runtime: Runtime, request: Request) -> Response:
    body = await request.body(MAX_BODY_BYTES)
    result = validate_feedback(decode_json(body), referer=request.header(b"referer"))
    if isinstance(result, Rejection):
        extra = {"issues": result.issues} if result.issues else None
        raise HTTPError(400, result.error, extra=extra)

    origin = request.origin()
    client = await allowed_client(runtime.clients, result.client_id, origin)
    idempotency_key = _idempotency_key(request.header(b"idempotency-key"))
    shots = (
        await _resolve_screenshots(runtime, client.id, result.screenshots)
        if result.screenshots
        else []
    )
    feedback_id = new_sortable_id()
    row = _row(
        feedback_id,
        result,
        origin=str(origin or ""),
        user_agent=request.header(b"user-agent"),
        idempotency_key=idempotency_key,
        # The server's own record of each upload, not the numbers sent.
        screenshots=[shot.api_object(runtime.settings.public_url) for shot in shots] or None,
    )
    unit: list[tuple[Table, dict[str, object]]] = [(feedback, row)]
    unit += [
        (feedback_screenshots, {"feedback_id": feedback_id, "file_name": s.file_name})
        for s in shots
    ]
    try:
        await runtime.writer.insert_unit(unit)
    except runtime.writer.integrity_error:
        # Either this is a retry of a submission already stored under the same
        # Idempotency-Key (answer as the first time), or the client or a
        # screenshot was deleted between our checks and the commit.
        first = idempotency_key and await runtime.offload(
            find_by_idempotency_key, runtime.engine, client.id, idempotency_key
        )
        if not first:
            raise HTTPError(
                409, "The project or a screenshot was just removed; nothing was saved"
            ) from None
        feedback_id = first
    return Response(200, {"success": True, "feedbackId": feedback_id})


def _idempotency_key(key: str | None) -> str | None:
    """The optional ``Idempotency-Key`` header: 1-255 visible ASCII characters."""
    if key is None:
        return None
    key = key.strip()
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise HTTPError(400, "Idempotency-Key must be 1 to 255 visible ASCII characters")
    return key


async def _resolve_screenshots(
    runtime: Runtime, client_id: str, items: list[dict[str, Any]]
) -> list[Screenshot]:
    """Each item must name an upload made to this server for this client."""
    names = [item["fileName"] for item in items]
    found = await runtime.offload(find_screenshots, runtime.engine, client_id, names)
    problems = []
    for index, name in enumerate(names):
        if names.index(name) != index:
            problems.append(f"[{index}].fileName: the same screenshot is listed twice")
        elif name not in found:
            problems.append(
                f"[{index}].fileName: not a screenshot uploaded to this server for this client"
            )
    if problems:
        raise HTTPError(400, INVALID_DATA, extra={"issues": {"screenshots": problems}})
    return [found[name] for name in names]


def _row(
    feedback_id: str,
    data: FeedbackInput,
    *,
    origin: str,
    user_agent: str | None,
    idempotency_key: str | None,
    screenshots: list[dict[str, Any]] | None,
) -> dict[str, object]:
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
        "screenshots": screenshots,
        "metadata": data.metadata,
        "session_replay_id": data.session_replay_id,
        "replay_offset_ms": data.replay_offset_ms,
        "origin": origin or None,
        "user_agent": user_agent[:MAX_USER_AGENT] if user_agent else None,
        "idempotency_key": idempotency_key,
    }
