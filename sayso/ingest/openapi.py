"""The OpenAPI 3.1 document of the public API, served at ``/openapi.json``.

Built from the same constants the validator enforces, so the published limits
can't drift from the real ones.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sayso import __version__
from sayso.ingest.feedback import MAX_BODY_BYTES
from sayso.ingest.screenshots import MAX_SCREENSHOT_BYTES
from sayso.ingest.validation import (
    EMAIL_PATTERN,
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
                f"Arbitrary JSON, at most {METADATA_MAX_BYTES} bytes serialized, "
                "with no NUL character in any key or string."
            ),
        },
        "sessionReplayId": _string("sessionReplayId", "Links a session replay.", minLength=1),
        "replayOffsetMs": {"type": "integer", "minimum": 0, "maximum": MAX_SAFE_INTEGER},
    },
}


@cache
def openapi_document(public_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Sayso public API",
            "version": __version__,
            "description": "Compatible with Usero's feedback and screenshot API.",
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
                        "400": _error("No file, no clientId, or not a PNG/JPEG/WebP/GIF image."),
                        "403": _error("The client's domain allowlist refuses this origin."),
                        "404": _error("Unknown clientId."),
                        "413": _error(f"File over {MAX_SCREENSHOT_BYTES} bytes."),
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
            "/api/ping": {
                "get": {
                    "operationId": "ping",
                    "summary": "Liveness probe used by the widget",
                    "responses": {"200": {"description": "Up."}},
                }
            },
        },
    }
