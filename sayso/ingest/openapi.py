"""The OpenAPI 3.1 document of the public API, served at ``/openapi.json``.

The request bodies' schemas come from the very declarations that validate
them (``FEEDBACK``, ``IDENTIFY``, replay's ``START`` and ``FINALISE``, see
``ingest.fields``), and the other limits from the handlers' own constants, so
the published contract can't drift from the code. This module adds the prose:
paths, responses, descriptions.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sayso import __version__
from sayso.ingest import identify, replay
from sayso.ingest.feedback import MAX_BODY_BYTES
from sayso.ingest.identify import IDENTIFY
from sayso.ingest.replay import FINALISE, START
from sayso.ingest.screenshots import MAX_SCREENSHOT_BYTES
from sayso.ingest.validation import CLIENT_ID, FEEDBACK, SCREENSHOT


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


SCREENSHOT_UPLOAD = {
    "type": "object",
    "required": ["screenshot", "clientId"],
    "properties": {
        "screenshot": {"type": "string", "format": "binary", "description": "The image file."},
        "clientId": {"type": "string", "maxLength": CLIENT_ID.max_length},
    },
}

FEEDBACK_REQUEST = FEEDBACK.schema() | {
    # At least one of a rating and a non-empty comment (validate_feedback).
    "anyOf": [
        {"required": ["rating"]},
        {"required": ["comment"], "properties": {"comment": {"pattern": "\\S"}}},
    ],
}


# --- session replay and identify ----------------------------------------------------


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

REPLAY_START_REQUEST = START.schema()
REPLAY_FINALISE_REQUEST = FINALISE.schema()
IDENTIFY_REQUEST = IDENTIFY.schema()


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
                                            "screenshot": SCREENSHOT.schema(),
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
