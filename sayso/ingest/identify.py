"""``POST /api/identify``: the host app says who is behind an ``anonymousId``.

Usero's SDK sends ``{clientId, anonymousId, externalUserId, email, displayName,
traits}`` when the app's user changes, with a ``keepalive`` fetch or, while the
page is hidden, ``navigator.sendBeacon`` — so the body is read as JSON whatever
the ``Content-Type`` says. It expects ``{"accepted": true}`` and retries later
on anything else.

The body is small and the sender anonymous, so it is capped before it is
parsed, every field is checked exactly (all problems reported at once, as for
feedback), and nothing PostgreSQL would refuse — a NUL anywhere, traits
included — gets as far as the database. The identity is upserted (the latest
values win) and its email given to that anonymousId's replay sessions that
have none yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import IntegrityError

from sayso.ingest.client_lookup import allowed_client
from sayso.ingest.feedback import decode_json
from sayso.ingest.http import HTTPError, Request, Response
from sayso.ingest.validation import (
    EMAIL,
    INVALID_DATA,
    JSON_MAX_DEPTH,
    MAX_LENGTHS,
    Issues,
    compact_json,
    contains_nul,
    json_depth,
    json_type,
    text_problem,
)
from sayso.store.identities import give_email, save_identity

if TYPE_CHECKING:
    from sayso.runtime import Runtime

# A few short strings and a 10 KB traits object fit with room to spare.
MAX_BODY_BYTES = 16 * 1024
MAX_ANONYMOUS_ID = 128
# Longest accepted value of each optional text field, in characters.
IDENTIFY_MAX_LENGTHS: dict[str, int] = {
    "externalUserId": 255,
    "email": MAX_LENGTHS["userEmail"],
    "displayName": 200,
}
TRAITS_MAX_BYTES = 10_240  # compact UTF-8 JSON, like feedback's metadata
# Deep nesting is no use in traits, and the thousands of levels 16 KB allows
# would be stored fine but fail to read back: Python's json module (psycopg's
# jsonb loader, SQLAlchemy's JSON on SQLite) gives up near 1,000 levels.
TRAITS_MAX_DEPTH = JSON_MAX_DEPTH


@dataclass(frozen=True, slots=True)
class IdentifyInput:
    """A valid identify, normalised: absent or empty optional fields are ``None``."""

    client_id: str
    anonymous_id: str
    external_user_id: str | None
    email: str | None
    display_name: str | None
    traits: dict[str, Any] | None


def _required(data: dict[str, Any], field: str, limit: int, issues: Issues) -> str | None:
    value = data.get(field)
    if value is None or value == "":
        issues.add(field, "Required")
    elif not isinstance(value, str):
        issues.add(field, f"Expected a string, received {json_type(value)}")
    elif problem := text_problem(value, limit):
        issues.add(field, problem)
    else:
        return value
    return None


def _optional(
    data: dict[str, Any], field: str, issues: Issues, *, strip: bool = False
) -> str | None:
    value = data.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        issues.add(field, f"Expected a string, received {json_type(value)}")
        return None
    if strip:
        value = value.strip()
    if problem := text_problem(value, IDENTIFY_MAX_LENGTHS[field]):
        issues.add(field, problem)
        return None
    # The SDK sends "" for a field the app left out: the same as absent.
    return value or None


def _traits(data: dict[str, Any], issues: Issues) -> dict[str, Any] | None:
    traits = data.get("traits")
    if traits is None:
        return None
    if not isinstance(traits, dict):
        issues.add("traits", f"Expected an object, received {json_type(traits)}")
    elif (encoded := compact_json(traits)) is None:
        issues.add("traits", "Must be valid Unicode text")
    elif len(encoded) > TRAITS_MAX_BYTES:
        issues.add("traits", f"Must be at most {TRAITS_MAX_BYTES:,} bytes as JSON")
    elif json_depth(traits) > TRAITS_MAX_DEPTH:
        issues.add("traits", f"Must nest at most {TRAITS_MAX_DEPTH} levels deep")
    # A NUL is always encoded as \u0000, so its absence from the encoding
    # proves there is none; only a hit needs the (exact) walk.
    elif b"\\u0000" in encoded and contains_nul(traits):
        issues.add("traits", "Must not contain NUL characters, in keys or values")
    else:
        return traits or None
    return None


def validate_identify(data: Any) -> IdentifyInput:
    """Check a decoded body; a 400 naming every failing field otherwise."""
    if not isinstance(data, dict):
        raise HTTPError(400, "Request body must be a JSON object")
    issues = Issues()
    client_id = _required(data, "clientId", MAX_LENGTHS["clientId"], issues)
    anonymous_id = _required(data, "anonymousId", MAX_ANONYMOUS_ID, issues)
    external_user_id = _optional(data, "externalUserId", issues)
    # Trimmed like feedback's userEmail; the other fields are kept as sent.
    email = _optional(data, "email", issues, strip=True)
    if email is not None and not EMAIL.match(email):
        issues.add("email", "Must be a valid email address")
    display_name = _optional(data, "displayName", issues)
    traits = _traits(data, issues)
    if issues:
        raise HTTPError(400, INVALID_DATA, extra={"issues": dict(issues)})
    assert client_id is not None
    assert anonymous_id is not None
    return IdentifyInput(client_id, anonymous_id, external_user_id, email, display_name, traits)


async def identify(runtime: Runtime, request: Request) -> Response:
    # keepalive fetch and sendBeacon may label JSON as text/plain: the body decides.
    body = validate_identify(decode_json(await request.body(MAX_BODY_BYTES)))

    client, _ = await allowed_client(runtime.clients, request, body.client_id)

    try:
        await runtime.writer.run(
            save_identity,
            client.id,
            body.anonymous_id,
            external_user_id=body.external_user_id,
            email=body.email,
            display_name=body.display_name,
            traits=body.traits,
        )
    except IntegrityError:
        # The client was deleted between the lookup and the write.
        raise HTTPError(404, "Unknown clientId: check the id in your project settings") from None
    if body.email is not None:
        # Only once the identity is committed (see save_identity).
        await runtime.writer.run(give_email, client.id, body.anonymous_id, body.email)
    return Response(200, {"accepted": True})
