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

from typing import TYPE_CHECKING

from sqlalchemy.exc import IntegrityError

from sayso.ingest.client_lookup import allowed_client
from sayso.ingest.fields import Body, JsonObject, Text, checked
from sayso.ingest.http import HTTPError, Request, Response
from sayso.ingest.validation import CLIENT_ID, JSON_MAX_DEPTH, MAX_LENGTHS
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

# The SDK sends "" for a field the app left out: the same as absent.
IDENTIFY = Body(
    (
        CLIENT_ID,
        Text(
            name="anonymousId",
            max_length=MAX_ANONYMOUS_ID,
            required=True,
            doc="Minted once per browser by the SDK; rotated at logout.",
        ),
        Text(
            name="externalUserId",
            max_length=IDENTIFY_MAX_LENGTHS["externalUserId"],
            blank_is_absent=True,
            doc="The host app's own id for the user.",
        ),
        # Trimmed like feedback's userEmail; the other fields are kept as sent.
        Text(
            name="email",
            max_length=IDENTIFY_MAX_LENGTHS["email"],
            strip=True,
            blank_is_absent=True,
            email=True,
            doc="The same rule as feedback's userEmail; whitespace is trimmed.",
        ),
        Text(
            name="displayName",
            max_length=IDENTIFY_MAX_LENGTHS["displayName"],
            blank_is_absent=True,
        ),
        JsonObject(
            name="traits",
            max_bytes=TRAITS_MAX_BYTES,
            max_depth=TRAITS_MAX_DEPTH,
            blank_is_absent=True,
        ),
    ),
    doc=(
        f'At most {MAX_BODY_BYTES} bytes. `null` or `""` means absent; unknown '
        "fields are ignored; no text anywhere (traits included) may contain NUL."
    ),
)


async def identify(runtime: Runtime, request: Request) -> Response:
    # keepalive fetch and sendBeacon may label JSON as text/plain: the body decides.
    body = checked(IDENTIFY, await request.body(MAX_BODY_BYTES))
    client = await allowed_client(runtime.clients, body["clientId"], request.origin())
    anonymous_id, email = body["anonymousId"], body["email"]
    try:
        await runtime.writer.run(
            save_identity,
            client.id,
            anonymous_id,
            external_user_id=body["externalUserId"],
            email=email,
            display_name=body["displayName"],
            traits=body["traits"],
        )
    except IntegrityError:
        # The client was deleted between the lookup and the write.
        raise HTTPError(404, "Unknown clientId: check the id in your project settings") from None
    if email is not None:
        # Only once the identity is committed (see save_identity).
        await runtime.writer.run(give_email, client.id, anonymous_id, email)
    return Response(200, {"accepted": True})
