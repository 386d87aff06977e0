"""The fields of a JSON body, declared once: each checks a decoded value and
describes itself as JSON Schema.

A ``Body`` is a tuple of fields. ``Body.check`` walks a decoded object and
collects *every* failing field into ``Issues`` (the public contract's 400:
``{"error": "Invalid data provided", "issues": {field: [messages]}}``), so a
caller fixes everything in one round trip; ``Body.schema`` is what
``/openapi.json`` publishes for it, so the document can't drift from the code.
Feedback, identify and the replay start and finalise bodies are declared with
these; the checks are plain Python on already-decoded values (msgspec decodes,
and would stop at the first error).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

from sayso.ingest.http import HTTPError, decode_json

INVALID_DATA = "Invalid data provided"
MAX_SAFE_INTEGER = 2**53 - 1  # what every JavaScript client can represent exactly
NO_NUL = "^[^\\x00]*$"

# Close to what browsers accept for <input type=email>: a dotted domain with a
# letter-only TLD, no leading/trailing/double dots in the local part.
EMAIL_PATTERN = (
    r"^(?!\.)(?!.*\.\.)[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}(?<!\.)"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
EMAIL = re.compile(EMAIL_PATTERN)

# Browsers send ISO strings or epoch milliseconds; anything outside these years
# is a broken clock or garbage.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)


class Issues(dict[str, list[str]]):
    """Every failing field with its messages: a 400 names them all at once."""

    def add(self, name: str, message: str) -> None:
        self.setdefault(name, []).append(message)


class Refused(Exception):
    """A field that refuses the whole body with an error of its own (no ``issues``)."""

    def __init__(self, error: str) -> None:
        super().__init__(error)
        self.error = error


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


def contains_nul(value: Any) -> bool:
    # Iterative: JSON the decoder accepts can be nested far deeper than a
    # recursive walk (two frames per level) can follow.
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


def json_depth(value: Any, limit: int) -> int:
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


def as_integer(value: Any) -> int | None:
    """A JSON integer. ``3.0`` counts (JavaScript can't tell it from ``3``); ``true`` doesn't."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return None


def as_number(value: Any) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


@dataclass(frozen=True, slots=True, kw_only=True)
class Field:
    """One key of a JSON object. ``None`` (or no key) means absent."""

    name: str
    doc: str = ""
    required: bool = False

    def check(self, value: Any, issues: Issues) -> Any:
        """The clean value, or ``None`` (absent, or wrong: then ``issues`` says why)."""
        raise NotImplementedError

    def schema(self) -> dict[str, Any]:
        raise NotImplementedError

    def _described(self, schema: dict[str, Any]) -> dict[str, Any]:
        if self.doc:
            schema["description"] = self.doc
        return schema

    def _nullable(self, kind: str) -> str | list[str]:
        return kind if self.required else [kind, "null"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Text(Field):
    """A string of at most ``max_length`` characters, without NUL, valid Unicode.

    ``strip`` trims whitespace first; ``blank_is_absent`` reads "" as absent;
    ``nonempty`` refuses ""; ``email`` requires an address; ``clip`` keeps
    what it can (NULs removed, cut at ``max_length``) instead of refusing.
    """

    max_length: int
    strip: bool = False
    blank_is_absent: bool = False
    nonempty: bool = False
    email: bool = False
    clip: bool = False

    def check(self, value: Any, issues: Issues) -> str | None:
        # The hot path (feedback has eight of these): one type test, then the flags.
        if value.__class__ is not str:
            if value is None:
                if self.required:
                    issues.add(self.name, "Required")
            else:
                issues.add(self.name, f"Expected a string, received {json_type(value)}")
            return None
        text: str = value
        if self.clip:
            return text.replace("\x00", "")[: self.max_length] or None
        if self.strip:
            text = text.strip()
        if not text:
            if self.required:
                issues.add(self.name, "Required")
            elif self.nonempty:
                issues.add(self.name, f"Must be 1 to {self.max_length} characters")
            return None if self.blank_is_absent or self.required or self.nonempty else text
        if problem := text_problem(text, self.max_length):
            issues.add(self.name, problem)
            return None
        if self.email and not EMAIL.match(text):
            issues.add(self.name, "Must be a valid email address")
            return None
        return text

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": self._nullable("string")}
        if not self.clip:
            schema["maxLength"] = self.max_length
            schema["pattern"] = f"^$|{EMAIL_PATTERN}" if self.email else NO_NUL
        if self.nonempty or self.required:
            schema["minLength"] = 1
        return self._described(schema)


@dataclass(frozen=True, slots=True, kw_only=True)
class Integer(Field):
    """A whole number in [minimum, maximum]; ``message`` replaces both default messages."""

    minimum: int
    maximum: int
    message: str | None = None

    def check(self, value: Any, issues: Issues) -> int | None:
        if value is None:
            if self.required:
                issues.add(self.name, "Required")
            return None
        number = as_integer(value)
        if number is None:
            issues.add(
                self.name, self.message or f"Expected an integer, received {json_type(value)}"
            )
            return None
        if not self.minimum <= number <= self.maximum:
            issues.add(
                self.name, self.message or f"Must be between {self.minimum} and {self.maximum}"
            )
            return None
        return number

    def schema(self) -> dict[str, Any]:
        return self._described(
            {"type": self._nullable("integer"), "minimum": self.minimum, "maximum": self.maximum}
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Number(Field):
    """A finite number from 0 to the largest integer JavaScript holds exactly."""

    def check(self, value: Any, issues: Issues) -> float | int | None:
        if value is None and not self.required:
            return None
        number = as_number(value)
        if number is None or not 0 <= number <= MAX_SAFE_INTEGER:
            issues.add(self.name, "Expected a non-negative number")
            return None
        return number

    def schema(self) -> dict[str, Any]:
        schema = {"type": self._nullable("number"), "minimum": 0, "maximum": MAX_SAFE_INTEGER}
        return self._described(schema)


@dataclass(frozen=True, slots=True, kw_only=True)
class Timestamp(Field):
    """The browser's clock: an ISO 8601 time or epoch milliseconds, years 2000-2099."""

    def check(self, value: Any, issues: Issues) -> datetime | None:
        if value is None:
            if self.required:
                issues.add(self.name, "Required")
            return None
        try:
            if isinstance(value, str):
                parsed = datetime.fromisoformat(value)
                if parsed.tzinfo is None:
                    parsed = parsed.replace(tzinfo=UTC)
            elif (number := as_number(value)) is not None:
                parsed = datetime.fromtimestamp(number / 1000, UTC)
            else:
                raise ValueError(value)
        except (ValueError, OverflowError, OSError):
            issues.add(self.name, "Must be an ISO 8601 time or epoch milliseconds")
            return None
        if not EARLIEST <= parsed < LATEST:
            issues.add(self.name, "Must be a plausible time (years 2000 to 2099)")
            return None
        return parsed.astimezone(UTC)

    def schema(self) -> dict[str, Any]:
        # Not declared as format date-time: other ISO 8601 forms are taken too.
        return self._described(
            {
                "anyOf": [
                    {"type": "string"},
                    {
                        "type": "number",
                        "minimum": int(EARLIEST.timestamp() * 1000),
                        "exclusiveMaximum": int(LATEST.timestamp() * 1000),
                    },
                    {"type": "null"},
                ]
            }
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class JsonObject(Field):
    """Arbitrary JSON under an object: bounded in bytes and depth, no NUL anywhere.

    ``too_large`` names an error that refuses the whole body instead of an issue.
    """

    max_bytes: int
    max_depth: int
    too_large: str | None = None
    blank_is_absent: bool = False

    def check(self, value: Any, issues: Issues) -> dict[str, Any] | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            issues.add(self.name, f"Expected an object, received {json_type(value)}")
        elif (encoded := compact_json(value)) is None:
            issues.add(self.name, "Must be valid Unicode text")
        elif len(encoded) > self.max_bytes:
            if self.too_large:
                raise Refused(self.too_large)
            issues.add(self.name, f"Must be at most {self.max_bytes:,} bytes as JSON")
        elif json_depth(value, self.max_depth) > self.max_depth:
            issues.add(self.name, f"Must nest at most {self.max_depth} levels deep")
        # A NUL is always encoded as \u0000, so its absence from the encoding
        # proves there is none; only a hit needs the (exact) walk.
        elif b"\\u0000" in encoded and contains_nul(value):
            issues.add(self.name, "Must not contain NUL characters")
        else:
            return value if value or not self.blank_is_absent else None
        return None

    def schema(self) -> dict[str, Any]:
        return {
            "type": self._nullable("object"),
            "propertyNames": {"pattern": NO_NUL},
            "description": (
                f"{self.doc} Arbitrary JSON, at most {self.max_bytes} bytes serialized and "
                f"{self.max_depth} levels deep, with no NUL in any key or string."
            ).strip(),
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Objects(Field):
    """An array of at most ``max_items`` objects, each checked by ``item``.

    An item's problems are listed under this field as ``[index].key: message``.
    """

    item: Body
    max_items: int

    def check(self, value: Any, issues: Issues) -> list[dict[str, Any]] | None:
        if value is None:
            return None
        if not isinstance(value, list):
            issues.add(self.name, f"Expected an array, received {json_type(value)}")
            return None
        if len(value) > self.max_items:
            issues.add(self.name, f"At most {self.max_items} {self.name}")
            return None
        clean = []
        for index, element in enumerate(value):
            if not isinstance(element, dict):
                issues.add(
                    self.name, f"[{index}]: Expected an object, received {json_type(element)}"
                )
                continue
            own = Issues()
            values = self.item.check(element, own)
            for key, messages in own.items():
                for message in messages:
                    issues.add(self.name, f"[{index}].{key}: {message}")
            if not own:
                # Keys as sent (camelCase), absent optional ones left out.
                clean.append(
                    {f.name: values[f.name] for f in self.item.fields if values[f.name] is not None}
                )
        return clean or None

    def schema(self) -> dict[str, Any]:
        schema = {"type": "array", "maxItems": self.max_items, "items": self.item.schema()}
        return self._described(schema)


@dataclass(frozen=True, slots=True)
class Body:
    """A JSON object's declared fields. Unknown keys are ignored."""

    fields: tuple[Field, ...]
    doc: str = ""
    _attributes: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_attributes", tuple(_snake(f.name) for f in self.fields))

    def check(self, data: dict[str, Any], issues: Issues) -> dict[str, Any]:
        """Each field's clean value by its JSON name (``None``: absent or wrong)."""
        return {f.name: f.check(data.get(f.name), issues) for f in self.fields}

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object",
            "required": [f.name for f in self.fields if f.required],
            "properties": {f.name: f.schema() for f in self.fields},
        }
        if self.doc:
            schema["description"] = self.doc
        return schema

    def attributes(self, values: dict[str, Any]) -> dict[str, Any]:
        """``values`` keyed by Python names (``userEmail`` → ``user_email``)."""
        return dict(zip(self._attributes, values.values(), strict=True))


def checked(body: Body, raw: bytes) -> dict[str, Any]:
    """``raw`` decoded as JSON and checked against ``body``: its values by JSON
    name, or a 400 naming every failing field."""
    data = decode_json(raw)
    if not isinstance(data, dict):
        raise HTTPError(400, "Request body must be a JSON object")
    issues = Issues()
    values = body.check(data, issues)
    if issues:
        raise HTTPError(400, INVALID_DATA, extra={"issues": dict(issues)})
    return values
