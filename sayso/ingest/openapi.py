"""The OpenAPI 3.1 document of the public API, served at ``/openapi.json``.

Built from the same constants the validators enforce (``validation``, and the
replay and identify modules' own limits), so the published limits can't drift
from the real ones.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sayso import __version__
from sayso.ingest import identify, replay
from sayso.ingest.feedback import MAX_BODY_BYTES
from sayso.ingest.screenshots import MAX_SCREENSHOT_BYTES
from sayso.ingest.validation import (
    EMAIL_PATTERN,
    JSON_MAX_DEPTH,
    MAX_LENGTHS,
    MAX_SAFE_INTEGER,
    MAX_SCREENSHOTS,
    METADATA_MAX_BYTES,
    SCREENSHOT_MAX_LENGTHS,
)

NO_NUL = "^[^\\x00]*$"


def _string(field: str, description: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "string",
        "maxLength": MAX_LENGTHS[field],
        "pattern": NO_NUL,
        "description": description,
        **extra,
    }


def _error(description: str, *, issues: bool = False) -> dict[str, Any]:
    properties: dict[str, Any] = {"error": {"type": "string"}}
    if issues:
        properties["issues"] = {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
        }
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": {"type": "object", "required": ["error"], "properties": properties}
            }
        },
    }


SCREENSHOT = {
    "type": "object",
    "required": ["fileName", "url", "fileSize", "mimeType"],
    "properties": {
        **{
            key: {"type": "string", "minLength": 1, "maxLength": length, "pattern": NO_NUL}
            for key, length in SCREENSHOT_MAX_LENGTHS.items()
        },
        **{
            key: {"type": "number", "minimum": 0, "maximum": MAX_SAFE_INTEGER}
            for key in ("fileSize", "width", "height")
        },
    },
}

SCREENSHOT_UPLOAD = {
    "type": "object",
    "required": ["screenshot", "clientId"],
    "properties": {
        "screenshot": {"type": "string", "format": "binary", "description": "The image file."},
        "clientId": {"type": "string", "maxLength": MAX_LENGTHS["clientId"]},
    },
}

FEEDBACK_REQUEST = {
    "type": "object",
    "required": ["clientId"],
    "description": (
        "At least one of `rating` and a non-empty `comment` is required. "
        "Unknown fields are ignored; `null` means absent. Text must not contain NUL."
    ),
    "anyOf": [
        {"required": ["rating"]},
        {"required": ["comment"], "properties": {"comment": {"pattern": "\\S"}}},
    ],
    "properties": {
        "clientId": _string("clientId", "Your project id, starts with `client_`.", minLength=1),
        "rating": {
            "type": "integer",
            "minimum": 1,
            "maximum": 4,
            "description": "1 Terrible, 2 Bad, 3 Good, 4 Amazing.",
        },
        "comment": _string("comment", "Free text; whitespace is trimmed."),
        "userEmail": _string(
            "userEmail",
            "The submitter's email; an empty string is treated as absent.",
            pattern=f"^$|{EMAIL_PATTERN}",
        ),
        "pageUrl": _string("pageUrl", "Defaults to the Referer header."),
        "pageTitle": _string("pageTitle", "Title of the page."),
        "referrer": _string("referrer", "The page the user arrived from."),
        "environment": _string("environment", "E.g. production, staging; omit for the default."),
        "screenshots": {"type": "array", "maxItems": MAX_SCREENSHOTS, "items": SCREENSHOT},
        "metadata": {
            "type": "object",
            "propertyNames": {"pattern": NO_NUL},
            "description": (
                f"Arbitrary JSON, at most {METADATA_MAX_BYTES} bytes serialized and "
                f"{JSON_MAX_DEPTH} levels deep, with no NUL character in any key or string."
            ),
        },
        "sessionReplayId": _string("sessionReplayId", "Links a session replay.", minLength=1),
        "replayOffsetMs": {"type": "integer", "minimum": 0, "maximum": MAX_SAFE_INTEGER},
    },
}


# --- session replay and identify ----------------------------------------------------

# startedAt / endedAt: the browser's clock, as an ISO 8601 string (not declared
# as format date-time: the server also takes other ISO 8601 forms) or epoch ms.
_EPOCH_MS_MIN = int(replay.EARLIEST.timestamp() * 1000)
_EPOCH_MS_MAX = int(replay.LATEST.timestamp() * 1000)


def _browser_time(description: str) -> dict[str, Any]:
    return {
        "description": (
            f"{description} The browser's clock: an ISO 8601 time, or epoch milliseconds; "
            f"years 2000 to 2099."
        ),
        "anyOf": [
            {"type": "string"},
            {"type": "number", "minimum": _EPOCH_MS_MIN, "exclusiveMaximum": _EPOCH_MS_MAX},
            {"type": "null"},
        ],
    }


def _json_response(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_COMMON_ERRORS = {
    "403": _error("The client's domain allowlist refuses this origin."),
    "500": _error("Unexpected failure; safe to retry."),
    "503": _error("Overloaded; retry after the Retry-After delay."),
}
_SESSION_ID_PARAMETER = {
    "name": "sessionReplayId",
    "in": "path",
    "required": True,
    "description": "As returned by the start call.",
    "schema": {"type": "string", "pattern": "^[0-9a-z]{26}$"},
}
_ANY_CONTENT_TYPE = (
    " The body is read as JSON whatever the Content-Type says (`navigator.sendBeacon` "
    "and keepalive fetches often send `text/plain`)."
)

REPLAY_START_REQUEST = {
    "type": "object",
    "required": ["clientId", "sdkSessionId"],
    "description": f"At most {replay.MAX_CONTROL_BODY} bytes. Unknown fields are ignored.",
    "properties": {
        "clientId": _string("clientId", "Your project id, starts with `client_`."),
        "sdkSessionId": {
            "type": "string",
            "minLength": 1,
            "maxLength": replay.MAX_SDK_ID,
            "pattern": NO_NUL,
            "description": "Stable per browser tab: the same id again resumes the session.",
        },
        "anonymousId": {
            "type": ["string", "null"],
            "maxLength": replay.MAX_SDK_ID,
            "pattern": NO_NUL,
            "description": "The browser's anonymous id (see /api/identify).",
        },
        "startUrl": {
            "type": ["string", "null"],
            "description": f"Kept up to {replay.MAX_START_URL} characters, NULs removed.",
        },
        "userAgent": {
            "type": ["string", "null"],
            "description": (
                f"Else the User-Agent header; kept up to {replay.MAX_USER_AGENT} characters. "
                "Bots, crawlers and headless browsers are not recorded."
            ),
        },
        "startedAt": _browser_time("When this page started recording."),
    },
}

REPLAY_FINALISE_REQUEST = {
    "type": "object",
    "required": ["clientId"],
    "description": f"At most {replay.MAX_CONTROL_BODY} bytes.",
    "properties": {
        "clientId": {"type": "string", "description": "Must own the session."},
        "endedAt": _browser_time(
            "When the page stopped recording. Earlier than the latest (re)start's "
            "startedAt means the beacon of the page before a reload: acknowledged, ignored."
        ),
    },
}

IDENTIFY_REQUEST = {
    "type": "object",
    "required": ["clientId", "anonymousId"],
    "description": (
        f'At most {identify.MAX_BODY_BYTES} bytes. `null` or `""` means absent; unknown '
        "fields are ignored; no text anywhere (traits included) may contain NUL."
    ),
    "properties": {
        "clientId": _string("clientId", "Your project id, starts with `client_`.", minLength=1),
        "anonymousId": {
            "type": "string",
            "minLength": 1,
            "maxLength": identify.MAX_ANONYMOUS_ID,
            "pattern": NO_NUL,
            "description": "Minted once per browser by the SDK; rotated at logout.",
        },
        "externalUserId": {
            "type": ["string", "null"],
            "maxLength": identify.IDENTIFY_MAX_LENGTHS["externalUserId"],
            "pattern": NO_NUL,
            "description": "The host app's own id for the user.",
        },
        "email": {
            "type": ["string", "null"],
            "maxLength": identify.IDENTIFY_MAX_LENGTHS["email"],
            "pattern": f"^$|{EMAIL_PATTERN}",
            "description": "The same rule as feedback's userEmail; whitespace is trimmed.",
        },
        "displayName": {
            "type": ["string", "null"],
            "maxLength": identify.IDENTIFY_MAX_LENGTHS["displayName"],
            "pattern": NO_NUL,
        },
        "traits": {
            "type": ["object", "null"],
            "propertyNames": {"pattern": NO_NUL},
            "description": (
                f"Arbitrary JSON, at most {identify.TRAITS_MAX_BYTES} bytes serialized and "
                f"{identify.TRAITS_MAX_DEPTH} levels deep, with no NUL in any key or string."
            ),
        },
    },
}


def _replay_paths() -> dict[str, Any]:
    return {
        "/api/replay-sessions": {
            "post": {
                "operationId": "startReplaySession",
                "summary": "Start (or, after a reload in the same tab, resume) a session replay",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": REPLAY_START_REQUEST}},
                },
                "responses": {
                    "200": _json_response(
                        "Recording accepted (`sessionReplayId`), or not wanted "
                        '(`accepted: false`, `dropReason: "bot"`; nothing stored).',
                        {
                            "type": "object",
                            "required": ["accepted"],
                            "properties": {
                                "accepted": {"type": "boolean"},
                                "sessionReplayId": {"type": "string"},
                                "dropReason": {"type": "string"},
                            },
                        },
                    ),
                    "400": _error("Malformed JSON or invalid fields.", issues=True),
                    "404": _error("Unknown clientId."),
                    "413": _error(f"Body over {replay.MAX_CONTROL_BODY} bytes."),
                    **_COMMON_ERRORS,
                },
            }
        },
        "/api/replay-sessions/{sessionReplayId}/chunks/{seq}": {
            "put": {
                "operationId": "uploadReplayChunk",
                "summary": "Upload one chunk of rrweb events",
                "description": (
                    "The body is the chunk's events as a JSON array, gzip-compressed (or plain "
                    "JSON from browsers without CompressionStream), any Content-Type. The same "
                    "seq again is acknowledged and not stored twice; chunks may come in any order."
                ),
                "parameters": [
                    _SESSION_ID_PARAMETER,
                    {
                        "name": "seq",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 0, "maximum": replay.MAX_SEQ},
                    },
                    {
                        "name": "X-Usero-Client-Id",
                        "in": "header",
                        "required": True,
                        "description": "Must own the session.",
                        "schema": {"type": "string", "minLength": 1},
                    },
                    *(
                        {
                            "name": name,
                            "in": "header",
                            "required": False,
                            "description": description,
                            "schema": {
                                "type": "integer",
                                "minimum": 0,
                                "maximum": replay.MAX_COUNT,
                            },
                        }
                        for name, description in (
                            ("X-Usero-Event-Count", "Events in this chunk."),
                            ("X-Usero-Duration-Ms", "Time this chunk covers."),
                            (
                                "X-Usero-Dropped-Before",
                                "Chunks the SDK lost just before this one (a gap).",
                            ),
                        )
                    ),
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/octet-stream": {
                            "schema": {
                                "type": "string",
                                "format": "binary",
                                "description": (
                                    f"At most {replay.MAX_CHUNK_BYTES} bytes as sent and "
                                    f"{replay.MAX_INFLATED_BYTES} once inflated."
                                ),
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json_response(
                        "Stored (blob written, row committed), or a duplicate of a stored seq.",
                        {
                            "type": "object",
                            "required": ["success", "seq", "duplicate"],
                            "properties": {
                                "success": {"const": True},
                                "seq": {"type": "integer"},
                                "duplicate": {"type": "boolean"},
                            },
                        },
                    ),
                    "400": _error(
                        "Not gzip and not JSON, not an array, a malformed seq or count header, "
                        "or no X-Usero-Client-Id."
                    ),
                    "404": _error("No such session."),
                    "409": _error("The session has ended; the SDK stops recording."),
                    "413": _error(
                        f"Over {replay.MAX_CHUNK_BYTES} bytes as sent, or over "
                        f"{replay.MAX_INFLATED_BYTES} once inflated."
                    ),
                    **_COMMON_ERRORS,
                    "403": _error(
                        "The session belongs to another clientId, or the allowlist refuses "
                        "this origin."
                    ),
                },
            }
        },
        "/api/replay-sessions/{sessionReplayId}/finalise": {
            "post": {
                "operationId": "finaliseReplaySession",
                "summary": "End a session replay (idempotent)",
                "description": "Sent with navigator.sendBeacon." + _ANY_CONTENT_TYPE,
                "parameters": [_SESSION_ID_PARAMETER],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": REPLAY_FINALISE_REQUEST}},
                },
                "responses": {
                    "200": _json_response(
                        "Closed, or already closed, or a stale beacon ignored.",
                        {
                            "type": "object",
                            "required": ["success"],
                            "properties": {"success": {"const": True}},
                        },
                    ),
                    "400": _error("Malformed JSON or invalid fields.", issues=True),
                    "404": _error("No such session."),
                    "413": _error(f"Body over {replay.MAX_CONTROL_BODY} bytes."),
                    **_COMMON_ERRORS,
                    "403": _error(
                        "The session belongs to another clientId, or the allowlist refuses "
                        "this origin."
                    ),
                },
            }
        },
        "/api/identify": {
            "post": {
                "operationId": "identify",
                "summary": "Say who is behind an anonymousId (the latest values win)",
                "description": (
                    "Sent by the SDK when the host app's user changes. The email is also "
                    "given to that anonymousId's session replays that have none yet."
                    + _ANY_CONTENT_TYPE
                ),
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": IDENTIFY_REQUEST}},
                },
                "responses": {
                    "200": _json_response(
                        "Stored.",
                        {
                            "type": "object",
                            "required": ["accepted"],
                            "properties": {"accepted": {"const": True}},
                        },
                    ),
                    "400": _error("Malformed JSON or invalid fields.", issues=True),
                    "404": _error("Unknown clientId."),
                    "413": _error(f"Body over {identify.MAX_BODY_BYTES} bytes."),
                    **_COMMON_ERRORS,
                },
            }
        },
    }


@cache
def openapi_document(public_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Sayso public API",
            "version": __version__,
            "description": (
                "Compatible with Usero's feedback, screenshot, session replay and identify API."
            ),
        },
        "servers": [{"url": public_url}],
        "paths": {
            "/api/feedback": {
                "post": {
                    "operationId": "createFeedback",
                    "summary": "Create one feedback item",
                    "parameters": [
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "required": False,
                            "description": "A repeat returns the first submission's id.",
                            "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,255}$"},
                        }
                    ],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": FEEDBACK_REQUEST}},
                    },
                    "responses": {
                        "200": {
                            "description": "Stored.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["success", "feedbackId"],
                                        "properties": {
                                            "success": {"const": True},
                                            "feedbackId": {"type": "string"},
                                        },
                                    }
                                }
                            },
                        },
                        "400": _error("Malformed JSON or invalid fields.", issues=True),
                        "403": _error("The client's domain allowlist refuses this origin."),
                        "404": _error("Unknown clientId."),
                        "409": _error("The client or a screenshot was removed meanwhile."),
                        "413": _error(f"Body over {MAX_BODY_BYTES} bytes."),
                        "500": _error("Unexpected failure; safe to retry."),
                        "503": _error("Overloaded; retry after the Retry-After delay."),
                    },
                }
            },
            "/api/screenshots": {
                "post": {
                    "operationId": "uploadScreenshot",
                    "summary": "Upload one image; attach the returned object to feedback",
                    "requestBody": {
                        "required": True,
                        "content": {"multipart/form-data": {"schema": SCREENSHOT_UPLOAD}},
                    },
                    "responses": {
                        "200": {
                            "description": "Stored (re-encoded, metadata stripped).",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["success", "screenshot"],
                                        "properties": {
                                            "success": {"const": True},
                                            "screenshot": SCREENSHOT,
                                        },
                                    }
                                }
                            },
                        },
                        "400": _error(
                            "No file, no clientId, not a PNG/JPEG/WebP/GIF image, or more "
                            "pixels than allowed (in all, or for the file's size)."
                        ),
                        "403": _error("The client's domain allowlist refuses this origin."),
                        "404": _error("Unknown clientId."),
                        "413": _error(f"File over {MAX_SCREENSHOT_BYTES} bytes."),
                        "429": _error(
                            "The client is over its pixels per minute; retry after Retry-After."
                        ),
                        "500": _error("Unexpected failure; safe to retry."),
                        "503": _error("Overloaded; retry after the Retry-After delay."),
                    },
                }
            },
            "/api/screenshots/{clientId}/{file}": {
                "get": {
                    "operationId": "getScreenshot",
                    "summary": "The stored image (a capability URL)",
                    "parameters": [
                        {
                            "name": "clientId",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                        {
                            "name": "file",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "The image, with its exact type.",
                            "content": {
                                mime: {"schema": {"type": "string", "format": "binary"}}
                                for mime in ("image/png", "image/jpeg", "image/webp")
                            },
                        },
                        "304": {"description": "Not modified (ETag)."},
                        "404": _error("No such screenshot, or no longer public."),
                    },
                }
            },
            **_replay_paths(),
            "/api/ping": {
                "get": {
                    "operationId": "ping",
                    "summary": "Liveness probe used by the widget",
                    "responses": {"200": {"description": "Up."}},
                }
            },
        },
    }
