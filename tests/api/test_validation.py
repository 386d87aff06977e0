"""Unit tests for ``sayso.ingest.validation``: the ``POST /api/feedback`` body rules.

Pure and fast: no database, no server. Hypothesis properties pin down the
contract (valid bodies are accepted unchanged, nothing ever raises, bad
ratings / NUL bytes / oversized metadata are refused), and example tables pin
down the edges the Usero reference spells out (emails, Referer fallback,
``null`` as absent, unknown keys).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import msgspec
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sayso.ingest.validation import (
    INVALID_DATA,
    JSON_MAX_DEPTH,
    MAX_LENGTHS,
    MAX_SAFE_INTEGER,
    MAX_SCREENSHOTS,
    METADATA_MAX_BYTES,
    METADATA_TOO_LARGE,
    SCREENSHOT_MAX_LENGTHS,
    FeedbackInput,
    Rejection,
    validate_feedback,
)
from tests.support.reference import API_FIELDS as REFERENCE_FIELDS

# ``issues`` may only name the API's own fields.
API_FIELDS = frozenset(REFERENCE_FIELDS)
OPTIONAL_FIELDS = sorted(API_FIELDS - {"clientId"})
TEXT_FIELDS = sorted(MAX_LENGTHS)

CLIENT = "client_test"
PROPERTY = settings(max_examples=200, deadline=None)


def minimal(**fields: Any) -> dict[str, Any]:
    """The smallest valid body (a rating), with ``fields`` added or overridden."""
    return {"clientId": CLIENT, "rating": 3, **fields}


def accepted(data: Any, **kwargs: Any) -> FeedbackInput:
    result = validate_feedback(data, **kwargs)
    assert isinstance(result, FeedbackInput), result
    return result


def rejected(data: Any, *fields: str, **kwargs: Any) -> dict[str, list[str]]:
    """Assert an "Invalid data provided" rejection naming (at least) ``fields``."""
    result = validate_feedback(data, **kwargs)
    assert isinstance(result, Rejection), result
    assert result.error == INVALID_DATA
    assert result.issues
    for field in fields:
        assert field in result.issues, result.issues
    return result.issues


NOT_AN_OBJECT = "Request body must be a JSON object"


def assert_well_formed(result: object) -> None:
    """The invariant every result satisfies, whatever the input."""
    assert isinstance(result, FeedbackInput | Rejection)
    if isinstance(result, Rejection) and result.error != INVALID_DATA:
        assert result.error in (METADATA_TOO_LARGE, NOT_AN_OBJECT)
        assert result.issues is None
    elif isinstance(result, Rejection):
        assert isinstance(result.issues, dict)
        assert result.issues
        for field, messages in result.issues.items():
            assert field in API_FIELDS
            assert isinstance(messages, list)
            assert messages
            assert all(isinstance(m, str) and m for m in messages)


# --------------------------------------------------------------------------- strategies

# Text without NUL (and, as st.text's default alphabet, without lone surrogates).
safe_chars = st.characters(codec="utf-8", exclude_characters="\x00")


def safe_text(max_size: int, *, min_size: int = 0) -> st.SearchStrategy[str]:
    return st.text(safe_chars, min_size=min_size, max_size=max_size)


def bounded_text(field: str) -> st.SearchStrategy[str]:
    """Any NUL-free text up to the field's limit, with the exact limit well represented."""
    limit = MAX_LENGTHS[field]
    return st.one_of(
        safe_text(min(limit, 50)),
        st.integers(limit - 3, limit).map(lambda n: "x" * n),
    )


_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
_label = st.builds(
    lambda first, middle: first + middle.strip("-") if middle.strip("-") else first,
    st.sampled_from(_ALNUM),
    st.text(_ALNUM + "-", max_size=10),
)
_tld = st.text("abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=12)
_local_atom = st.text(_ALNUM + "ABCXYZ_%+-", min_size=1, max_size=12)


@st.composite
def emails(draw: st.DrawFn) -> str:
    local = ".".join(draw(st.lists(_local_atom, min_size=1, max_size=3)))
    domain = ".".join([*draw(st.lists(_label, min_size=1, max_size=3)), draw(_tld)])
    return f"{local}@{domain}"


# Ordinary JSON values: what a well-behaved client puts in ``metadata``.
json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64),
    st.floats(allow_nan=False, allow_infinity=False),
    safe_text(20),
)
json_values = st.recursive(
    json_leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(safe_text(10), children, max_size=4)
    ),
    max_leaves=10,
)


def _as_object(key_and_value: tuple[str, Any]) -> dict[str, Any]:
    """An object: the value itself if it is one, else wrapped under the key.

    (Cheaper for Hypothesis than a dictionary of independently drawn recursive values.)
    """
    key, value = key_and_value
    return value if isinstance(value, dict) else {key: value}


small_metadata = st.tuples(safe_text(10), json_values).map(_as_object)

_sizes = st.one_of(
    st.integers(0, MAX_SAFE_INTEGER),
    st.floats(0, MAX_SAFE_INTEGER, allow_nan=False, allow_infinity=False),
)
# One valid screenshot object; width and height are optional.
valid_screenshots = st.fixed_dictionaries(
    {
        key: st.one_of(safe_text(20, min_size=1), st.just("x" * limit))
        for key, limit in SCREENSHOT_MAX_LENGTHS.items()
    }
    | {"fileSize": _sizes},
    optional={"width": _sizes, "height": _sizes},
)

# Anything a JSON decoder (or a careless caller) could hand over, including NUL,
# lone surrogates, NaN, infinities and huge integers.
hostile_chars = st.one_of(
    st.characters(codec=None, exclude_categories=()),
    st.sampled_from(["\x00", "\ud800", "\udfff", " ", "\t", "é", "€", "😀", "@", "."]),
)
hostile_text = st.text(hostile_chars, max_size=20)
hostile_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.sampled_from([0, 1, 4, 5, -1, 1.0, 4.0, 2.5, 2**53, 2**64, 1e300, "", " ", "3"]),
    hostile_text,
)
hostile_values = st.recursive(
    hostile_leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=8), st.dictionaries(hostile_text, children, max_size=5)
    ),
    max_leaves=16,
)
hostile_objects = st.tuples(hostile_text, hostile_values).map(_as_object)
# A screenshot object whose every key may be missing, valid or anything at all.
hostile_screenshots = st.fixed_dictionaries(
    {},
    optional={
        key: st.one_of(safe_text(20, min_size=1), st.just("x" * (limit + 1)), hostile_leaves)
        for key, limit in SCREENSHOT_MAX_LENGTHS.items()
    }
    | {key: st.one_of(_sizes, hostile_leaves) for key in ("fileSize", "width", "height")},
)
# What a hostile client may put in one field: anything, biased towards objects and
# arrays of objects so that metadata and screenshots are exercised in depth.
hostile_field_values = st.one_of(
    hostile_leaves,
    hostile_values,
    hostile_objects,
    st.lists(st.one_of(hostile_screenshots, hostile_leaves), max_size=3),
)
hostile_bodies = st.fixed_dictionaries(
    {}, optional=dict.fromkeys(sorted(API_FIELDS), hostile_field_values)
)


_ABSENT = object()


def optional(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A field that may be missing, explicitly ``null`` or set."""
    return st.one_of(st.just(_ABSENT), st.none(), values)


@st.composite
def valid_bodies(draw: st.DrawFn) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "clientId": draw(safe_text(MAX_LENGTHS["clientId"], min_size=1)),
        "rating": draw(
            optional(st.one_of(st.integers(1, 4), st.sampled_from([1.0, 2.0, 3.0, 4.0])))
        ),
        "userEmail": draw(
            optional(
                st.one_of(
                    st.just(""),
                    st.builds(
                        lambda pad, email: f"{pad}{email}{pad}",
                        st.sampled_from(["", " ", "\t", " \n "]),
                        emails(),
                    ),
                )
            )
        ),
        "pageUrl": draw(optional(bounded_text("pageUrl"))),
        "pageTitle": draw(optional(bounded_text("pageTitle"))),
        "referrer": draw(optional(bounded_text("referrer"))),
        "environment": draw(optional(bounded_text("environment"))),
        "screenshots": draw(optional(st.lists(valid_screenshots, max_size=MAX_SCREENSHOTS))),
        "metadata": draw(optional(small_metadata)),
        "sessionReplayId": draw(optional(safe_text(MAX_LENGTHS["sessionReplayId"], min_size=1))),
        "replayOffsetMs": draw(
            optional(st.one_of(st.integers(0, MAX_SAFE_INTEGER), st.sampled_from([0.0, 1500.0])))
        ),
    }
    if fields["rating"] in (_ABSENT, None):
        # Without a rating, a comment with something other than whitespace is required.
        comment = draw(bounded_text("comment").filter(lambda s: s.strip()))
    else:
        comment = draw(optional(bounded_text("comment")))
    fields["comment"] = comment
    return {key: value for key, value in fields.items() if value is not _ABSENT}


# --------------------------------------------------------------------------- properties


@PROPERTY
@given(valid_bodies())
def test_any_body_of_valid_field_values_is_accepted_unchanged_but_normalised(
    body: dict[str, Any],
) -> None:
    metadata = body.get("metadata")
    assume(metadata is None or len(msgspec.json.encode(metadata)) <= METADATA_MAX_BYTES)

    result = accepted(body)

    def stripped(field: str) -> str | None:
        value = body.get(field)
        return (value.strip() or None) if value is not None else None

    rating = body.get("rating")
    assert result.client_id == body["clientId"]
    assert result.rating == (None if rating is None else int(rating))
    assert type(result.rating) in (int, type(None))
    assert result.comment == stripped("comment")
    assert result.user_email == stripped("userEmail")
    assert result.environment == stripped("environment")
    assert result.page_url == body.get("pageUrl")
    assert result.page_title == body.get("pageTitle")
    assert result.referrer == body.get("referrer")
    assert result.screenshots == (body.get("screenshots") or None)
    assert result.metadata == metadata
    assert result.session_replay_id == body.get("sessionReplayId")
    offset = body.get("replayOffsetMs")
    assert result.replay_offset_ms == (None if offset is None else int(offset))


@PROPERTY
@given(hostile_values)
def test_no_top_level_json_value_makes_validation_raise(data: Any) -> None:
    result = validate_feedback(data)
    assert_well_formed(result)
    if not isinstance(data, dict):
        assert result == Rejection(NOT_AN_OBJECT)


@PROPERTY
@given(hostile_bodies, st.one_of(st.none(), hostile_text))
def test_no_field_value_makes_validation_raise(body: dict[str, Any], referer: str | None) -> None:
    assert_well_formed(validate_feedback(body, referer=referer))


@PROPERTY
@given(st.sampled_from(sorted(API_FIELDS)), hostile_field_values)
def test_any_value_in_one_field_of_a_valid_body_gives_a_well_formed_result(
    field: str, value: Any
) -> None:
    body = minimal(comment="Great")
    body[field] = value
    result = validate_feedback(body)
    assert_well_formed(result)
    if isinstance(result, Rejection) and result.error == INVALID_DATA:
        assert result.issues
        assert set(result.issues) == {field}


@PROPERTY
@given(hostile_objects)
def test_no_metadata_object_makes_validation_raise(metadata: dict[str, Any]) -> None:
    result = validate_feedback(minimal(metadata=metadata))
    assert_well_formed(result)
    if isinstance(result, Rejection) and result.issues:
        assert set(result.issues) == {"metadata"}


@PROPERTY
@given(
    st.lists(
        st.one_of(valid_screenshots, hostile_screenshots, hostile_leaves),
        max_size=MAX_SCREENSHOTS + 1,
    )
)
def test_no_screenshots_array_makes_validation_raise(shots: list[Any]) -> None:
    result = validate_feedback(minimal(screenshots=shots))
    assert_well_formed(result)
    if isinstance(result, Rejection):
        assert result.issues
        assert set(result.issues) == {"screenshots"}


def _is_valid_rating(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return 1 <= value <= 4
    return isinstance(value, float) and value in (1.0, 2.0, 3.0, 4.0)


@PROPERTY
@given(hostile_values.filter(lambda v: v is not None and not _is_valid_rating(v)))
def test_any_rating_other_than_an_integer_from_1_to_4_is_refused(rating: Any) -> None:
    issues = rejected(minimal(rating=rating, comment="Works"), "rating")
    assert set(issues) == {"rating"}


@pytest.mark.parametrize("rating", [True, False])
def test_a_boolean_is_never_a_rating(rating: bool) -> None:
    rejected(minimal(rating=rating), "rating")
    rejected(minimal(rating=rating, comment="fine"), "rating")


@pytest.mark.parametrize(
    "rating",
    [0, 5, -1, 2.5, 0.0, 4.000001, 1e300, 2**64, float("nan"), float("inf"), "3", [3], {}],
)
def test_these_ratings_are_refused(rating: Any) -> None:
    rejected(minimal(rating=rating), "rating")


@pytest.mark.parametrize("rating", [1, 2, 3, 4, 1.0, 4.0])
def test_ratings_1_to_4_are_accepted_as_integers(rating: float) -> None:
    result = accepted(minimal(rating=rating))
    assert result.rating == rating
    assert type(result.rating) is int


@st.composite
def text_with_nul(draw: st.DrawFn, max_size: int) -> str:
    before = draw(safe_text(20))
    after = draw(safe_text(20))
    text = f"{before}\x00{after}"
    assume(len(text) <= max_size)
    return text


@PROPERTY
@given(st.data(), st.sampled_from(TEXT_FIELDS))
def test_a_nul_character_in_any_text_field_is_refused(data: st.DataObject, field: str) -> None:
    value = data.draw(text_with_nul(MAX_LENGTHS[field]))
    rejected(minimal(**{field: value}), field)


@PROPERTY
@given(st.data(), st.sampled_from(sorted(SCREENSHOT_MAX_LENGTHS)))
def test_a_nul_character_in_a_screenshot_field_is_refused(data: st.DataObject, key: str) -> None:
    shot = {"fileName": "a.png", "url": "https://cdn.example/a.png", "mimeType": "image/png"}
    shot[key] = data.draw(text_with_nul(SCREENSHOT_MAX_LENGTHS[key]))
    shot["fileSize"] = 10
    rejected(minimal(screenshots=[shot]), "screenshots")


def _inject_nul(value: Any, data: st.DataObject, nul: str) -> Any:
    """``value`` with ``nul`` added somewhere: as a key or a value, at any depth."""
    if isinstance(value, dict):
        if value and data.draw(st.booleans()):
            key = data.draw(st.sampled_from(sorted(value)))
            return {**value, key: _inject_nul(value[key], data, nul)}
        if data.draw(st.booleans()):
            return {**value, nul: data.draw(json_leaves)}
        return {**value, data.draw(safe_text(10)) + "!": nul}
    if isinstance(value, list):
        if value and data.draw(st.booleans()):
            index = data.draw(st.integers(0, len(value) - 1))
            return [*value[:index], _inject_nul(value[index], data, nul), *value[index + 1 :]]
        return [*value, nul]
    return data.draw(st.sampled_from([nul, [nul], {nul: value}, {"k": nul}]))


@PROPERTY
@given(small_metadata, st.data())
def test_a_nul_character_anywhere_in_metadata_is_refused(
    metadata: dict[str, Any], data: st.DataObject
) -> None:
    nul = data.draw(text_with_nul(40))
    poisoned = _inject_nul(metadata, data, nul)
    assert isinstance(poisoned, dict)
    assume(len(msgspec.json.encode(poisoned)) <= METADATA_MAX_BYTES)
    rejected(minimal(metadata=poisoned), "metadata")


def test_the_text_backslash_u0000_in_metadata_is_not_a_nul() -> None:
    metadata = {"escaped": "\\u0000", "\\u0000": "key"}
    assert accepted(minimal(metadata=metadata)).metadata == metadata


@pytest.mark.parametrize("depth", [10, 300, 600])
def test_a_nul_deep_inside_nested_metadata_is_refused_not_raised(depth: int) -> None:
    # The JSON decoder accepts nesting up to the interpreter's recursion limit (~1000),
    # so checking for NUL must not need a stack frame (or two) per level.
    poisoned: Any = "\x00"
    clean: Any = 1
    for _ in range(depth):
        poisoned, clean = [poisoned], [clean]
    rejected(minimal(metadata={"deep": poisoned}), "metadata")
    if depth < JSON_MAX_DEPTH:
        accepted(minimal(metadata={"deep": clean}))
    else:  # refused for its depth, without a stack frame per level either
        rejected(minimal(metadata={"deep": clean}), "metadata")


# --------------------------------------------------------------------------- metadata size


def _metadata_of_size(
    size: int, filler: str = "x", prefix: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Metadata whose compact JSON encoding is exactly ``size`` bytes.

    ``filler`` is repeated as far as it fits; ASCII pads the remainder.
    """
    base = {**(prefix or {}), "pad": ""}
    room = size - len(msgspec.json.encode(base))
    unit = len(msgspec.json.encode(filler)) - 2
    count = room // unit
    base["pad"] = filler * count + "x" * (room - count * unit)
    assert len(msgspec.json.encode(base)) == size
    return base


@pytest.mark.parametrize("filler", ["x", "é", "€", "😀", '"', "\\", "\x01", "\u2028"])
def test_metadata_of_exactly_10240_encoded_bytes_is_accepted(filler: str) -> None:
    metadata = _metadata_of_size(METADATA_MAX_BYTES, filler)
    assert accepted(minimal(metadata=metadata)).metadata == metadata


@pytest.mark.parametrize("filler", ["x", "é", "€", "😀", '"', "\\", "\x01", "\u2028"])
def test_metadata_of_10241_encoded_bytes_is_too_large(filler: str) -> None:
    metadata = _metadata_of_size(METADATA_MAX_BYTES + 1, filler)
    assert validate_feedback(minimal(metadata=metadata)) == Rejection(METADATA_TOO_LARGE)


def test_the_metadata_limit_counts_utf8_bytes_not_characters() -> None:
    # 2,560 four-byte characters: 10,240 bytes of text, far fewer characters.
    emoji = "😀" * 2_560
    assert len(emoji) < METADATA_MAX_BYTES
    assert validate_feedback(minimal(metadata={"e": emoji})) == Rejection(METADATA_TOO_LARGE)
    fits = "😀" * ((METADATA_MAX_BYTES - len(b'{"e":""}')) // 4)
    accepted(minimal(metadata={"e": fits}))


@PROPERTY
@given(small_metadata, st.integers(-40, 40), st.sampled_from(["x", "é", "€", "😀", "\n"]))
def test_metadata_is_accepted_exactly_when_its_compact_json_is_at_most_10kb(
    prefix: dict[str, Any], offset: int, filler: str
) -> None:
    metadata = _metadata_of_size(METADATA_MAX_BYTES + offset, filler, prefix)
    result = validate_feedback(minimal(metadata=metadata))
    if len(msgspec.json.encode(metadata)) <= METADATA_MAX_BYTES:
        assert isinstance(result, FeedbackInput)
        assert result.metadata == metadata
    else:
        assert result == Rejection(METADATA_TOO_LARGE)


@pytest.mark.parametrize("metadata", [[], "text", 1, True, [{"a": 1}]])
def test_metadata_must_be_an_object(metadata: Any) -> None:
    rejected(minimal(metadata=metadata), "metadata")


def _nested(depth: int) -> dict[str, Any]:
    """An object ``depth`` levels deep (the outer object counts as one)."""
    value: dict[str, Any] = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def test_metadata_may_nest_32_levels_but_not_33() -> None:
    # Deeper JSON fits in 10 KB, but reading it back recurses per level.
    assert accepted(minimal(metadata=_nested(JSON_MAX_DEPTH))).metadata == _nested(32)
    rejected(minimal(metadata=_nested(JSON_MAX_DEPTH + 1)), "metadata")
    lists: list[Any] = []
    for _ in range(JSON_MAX_DEPTH):
        lists = [lists]
    rejected(minimal(metadata={"list": lists}), "metadata")


def test_empty_metadata_object_is_kept() -> None:
    assert accepted(minimal(metadata={})).metadata == {}


# --------------------------------------------------------------------------- emails

VALID_EMAILS = [
    "jamie@example.com",
    "jamie+feedback@example.com",
    "first.last@example.com",
    "a@b.co",
    "user@mail.eu.example.org",
    "user@example.photography",
    "user@example.international",
    "user123@example123.com",
    "1234@4321.io",
    "o'brien@example.ie",
    "under_score@example.com",
    "dash-ed@my-domain.example",
    "UPPER@EXAMPLE.COM",
    "x@xn--bcher-kva.example",
]
INVALID_EMAILS = [
    "jamie",
    "jamie.example.com",
    "@example.com",
    "jamie@",
    "jamie @example.com",
    "jamie@exa mple.com",
    "ja mie@example.com",
    "jamie..doe@example.com",
    "jamie@example..com",
    ".jamie@example.com",
    "jamie.@example.com",
    "jamie@example",
    "jamie@localhost",
    "jamie@example.com.",
    "jamie@.example.com",
    "jamie@-example.com",
    "jamie@example-.com",
    "jamie@exa_mple.com",
    "jamie@example.c",
    "jamie@example.123",
    "jamie@@example.com",
    "ja@mie@example.com",
    "jamie@example.com\nx",
    "jamie@[127.0.0.1]",
    "<jamie@example.com>",
    "Jamie <jamie@example.com>",
    "jamie@exämple.com",
    "jamie@example.com\x00",
]


@pytest.mark.parametrize("email", VALID_EMAILS)
def test_plausible_email_addresses_are_accepted(email: str) -> None:
    assert accepted(minimal(userEmail=email)).user_email == email


@pytest.mark.parametrize("email", INVALID_EMAILS)
def test_malformed_email_addresses_are_refused(email: str) -> None:
    rejected(minimal(userEmail=email), "userEmail")


@PROPERTY
@given(emails())
def test_generated_email_addresses_are_accepted(email: str) -> None:
    assert accepted(minimal(userEmail=email)).user_email == email


def test_surrounding_whitespace_is_trimmed_from_an_email() -> None:
    assert accepted(minimal(userEmail="  jamie@example.com\n")).user_email == "jamie@example.com"


@pytest.mark.parametrize("email", ["", "   "])
def test_an_empty_email_is_treated_as_absent(email: str) -> None:
    assert accepted(minimal(userEmail=email)).user_email is None


def test_an_email_at_the_254_character_limit_is_accepted_and_longer_is_refused() -> None:
    local = "l" * 64
    domain = ".".join(["d" * 63, "d" * 63, "d" * 57, "com"])
    longest = f"{local}@{domain}"
    assert len(longest) == MAX_LENGTHS["userEmail"]
    assert accepted(minimal(userEmail=longest)).user_email == longest
    too_long = f"{local}@d{domain}"
    issues = rejected(minimal(userEmail=too_long), "userEmail")
    assert issues["userEmail"] == [f"Must be at most {MAX_LENGTHS['userEmail']} characters"]


# --------------------------------------------------------------------------- rating / comment


def test_a_body_with_neither_rating_nor_comment_names_rating() -> None:
    rejected({"clientId": CLIENT}, "rating")


@pytest.mark.parametrize("comment", ["", " ", "\n\t  \r\n", "\u2003"])
def test_a_blank_comment_without_a_rating_names_rating(comment: str) -> None:
    issues = rejected({"clientId": CLIENT, "comment": comment}, "rating")
    assert "comment" not in issues


def test_a_comment_alone_is_enough_and_is_trimmed() -> None:
    result = accepted({"clientId": CLIENT, "comment": "  Export times out \n"})
    assert result.comment == "Export times out"
    assert result.rating is None


def test_a_blank_comment_with_a_rating_is_stored_as_absent() -> None:
    assert accepted(minimal(comment="   ")).comment is None


def test_a_comment_too_long_is_reported_on_comment_not_rating() -> None:
    body = {"clientId": CLIENT, "comment": "x" * (MAX_LENGTHS["comment"] + 1)}
    assert set(rejected(body, "comment")) == {"comment"}


# --------------------------------------------------------------------------- lengths


@pytest.mark.parametrize("field", sorted(set(TEXT_FIELDS) - {"userEmail"}))
def test_every_text_field_accepts_its_maximum_length_and_refuses_one_more(field: str) -> None:
    limit = MAX_LENGTHS[field]
    accepted(minimal(**{field: "x" * limit}))
    issues = rejected(minimal(**{field: "x" * (limit + 1)}), field)
    assert set(issues) == {field}


@pytest.mark.parametrize("field", sorted(set(TEXT_FIELDS) - {"clientId"}))
@pytest.mark.parametrize("value", [1, 1.5, True, [], {}, ["a"]])
def test_a_text_field_refuses_non_string_values(field: str, value: Any) -> None:
    rejected(minimal(**{field: value}), field)


@pytest.mark.parametrize("client_id", [None, "", 1, True, [], {}, "x" * 65])
def test_client_id_is_required_and_a_short_string(client_id: Any) -> None:
    rejected({"clientId": client_id, "rating": 3}, "clientId")
    rejected({"rating": 3}, "clientId")


def test_session_replay_id_must_not_be_empty() -> None:
    rejected(minimal(sessionReplayId=""), "sessionReplayId")


@pytest.mark.parametrize("offset", [-1, 1.5, True, "10", 2**53, float("inf")])
def test_replay_offset_must_be_a_non_negative_safe_integer(offset: Any) -> None:
    rejected(minimal(replayOffsetMs=offset), "replayOffsetMs")


@pytest.mark.parametrize("offset", [0, 1500, 2.0, MAX_SAFE_INTEGER])
def test_replay_offsets_are_accepted_as_integers(offset: float) -> None:
    result = accepted(minimal(replayOffsetMs=offset))
    assert result.replay_offset_ms == offset
    assert type(result.replay_offset_ms) is int


# --------------------------------------------------------------------------- screenshots

SHOT = {
    "fileName": "shot.png",
    "url": "https://cdn.example.com/shot.png",
    "fileSize": 48_213,
    "mimeType": "image/png",
}


def test_up_to_ten_screenshots_are_accepted_and_eleven_are_not() -> None:
    assert accepted(minimal(screenshots=[SHOT] * MAX_SCREENSHOTS)).screenshots == [SHOT] * 10
    rejected(minimal(screenshots=[SHOT] * (MAX_SCREENSHOTS + 1)), "screenshots")


@pytest.mark.parametrize(
    "change",
    [
        {"fileName": ""},
        {"url": None},
        {"mimeType": 3},
        {"fileSize": None},
        {"fileSize": -1},
        {"fileSize": "12"},
        {"fileSize": True},
        {"fileSize": float("nan")},
        {"width": -5},
        {"height": "tall"},
        {"fileName": "f" * (SCREENSHOT_MAX_LENGTHS["fileName"] + 1)},
    ],
)
def test_a_malformed_screenshot_is_refused(change: dict[str, Any]) -> None:
    rejected(minimal(screenshots=[{**SHOT, **change}]), "screenshots")


@pytest.mark.parametrize("screenshots", ["shot.png", {}, [1], [None]])
def test_screenshots_must_be_an_array_of_objects(screenshots: Any) -> None:
    rejected(minimal(screenshots=screenshots), "screenshots")


def test_an_empty_screenshot_array_is_stored_as_absent() -> None:
    assert accepted(minimal(screenshots=[])).screenshots is None


# --------------------------------------------------------------------------- Referer fallback

PAGE = "https://yourapp.com/projects/42/export"
REFERER = "https://yourapp.com/projects/42"


def test_the_referer_is_the_page_url_when_page_url_is_absent() -> None:
    assert accepted(minimal(), referer=REFERER).page_url == REFERER


def test_the_referer_is_the_page_url_when_page_url_is_null() -> None:
    assert accepted(minimal(pageUrl=None), referer=REFERER).page_url == REFERER


def test_an_explicit_page_url_wins_over_the_referer() -> None:
    assert accepted(minimal(pageUrl=PAGE), referer=REFERER).page_url == PAGE


def test_an_invalid_page_url_is_refused_rather_than_replaced_by_the_referer() -> None:
    rejected(minimal(pageUrl="x" * (MAX_LENGTHS["pageUrl"] + 1)), "pageUrl", referer=REFERER)
    rejected(minimal(pageUrl=42), "pageUrl", referer=REFERER)


def test_a_referer_at_the_page_url_limit_is_kept() -> None:
    referer = "https://a.example/" + "p" * (MAX_LENGTHS["pageUrl"] - len("https://a.example/"))
    assert accepted(minimal(), referer=referer).page_url == referer


@pytest.mark.parametrize(
    "referer",
    ["https://a.example/" + "p" * MAX_LENGTHS["pageUrl"], "https://a.example/\x00", "\ud800"],
    ids=["too-long", "nul", "lone-surrogate"],
)
def test_an_unusable_referer_is_dropped_silently(referer: str) -> None:
    assert accepted(minimal(), referer=referer).page_url is None


@pytest.mark.parametrize("referer", [None, ""])
def test_without_a_referer_or_page_url_the_page_url_is_absent(referer: str | None) -> None:
    assert accepted(minimal(), referer=referer).page_url is None


def test_the_referer_does_not_fill_the_referrer_field() -> None:
    assert accepted(minimal(), referer=REFERER).referrer is None


# --------------------------------------------------------------------------- absent / unknown

BASELINE = accepted(minimal())


@pytest.mark.parametrize("field", sorted(set(OPTIONAL_FIELDS) - {"rating"}))
def test_null_means_absent_for_every_optional_field(field: str) -> None:
    assert accepted(minimal(**{field: None})) == BASELINE


def test_a_null_rating_means_absent() -> None:
    body = {"clientId": CLIENT, "rating": None, "comment": "hi"}
    assert accepted(body) == accepted({"clientId": CLIENT, "comment": "hi"})
    rejected({"clientId": CLIENT, "rating": None}, "rating")


def test_every_optional_field_null_at_once_equals_a_minimal_body() -> None:
    body = minimal(**{field: None for field in OPTIONAL_FIELDS if field != "rating"})
    assert accepted(body) == BASELINE


def test_absent_optional_fields_are_none() -> None:
    assert (
        FeedbackInput(
            client_id=CLIENT,
            rating=3,
            comment=None,
            user_email=None,
            page_url=None,
            page_title=None,
            referrer=None,
            environment=None,
            screenshots=None,
            metadata=None,
            session_replay_id=None,
            replay_offset_ms=None,
        )
        == BASELINE
    )


@PROPERTY
@given(
    st.dictionaries(
        hostile_text.filter(lambda k: k not in API_FIELDS),
        st.one_of(hostile_leaves, hostile_values),
        max_size=4,
    )
)
def test_unknown_keys_are_ignored(extra: dict[str, Any]) -> None:
    assert accepted({**extra, **minimal()}) == BASELINE


def test_field_names_are_case_sensitive() -> None:
    result = accepted(minimal(Rating=9, CLIENTID=None, user_email="bad", comments=[]))
    assert result == BASELINE


def test_the_full_reference_example_is_accepted() -> None:
    body = {
        "clientId": CLIENT,
        "rating": 2,
        "comment": "Export to CSV times out on large projects",
        "userEmail": "jamie@example.com",
        "pageUrl": PAGE,
        "pageTitle": "Export project",
        "referrer": REFERER,
        "environment": "staging",
        "metadata": {"appVersion": "2.4.1", "os": "macOS 15.2", "build": 1842},
    }
    assert accepted(body) == replace(
        BASELINE,
        rating=2,
        comment=body["comment"],
        user_email="jamie@example.com",
        page_url=PAGE,
        page_title="Export project",
        referrer=REFERER,
        environment="staging",
        metadata=body["metadata"],
    )


def test_every_failing_field_is_reported_at_once() -> None:
    body = {
        "clientId": 7,
        "rating": 0,
        "userEmail": "nope",
        "pageUrl": [],
        "screenshots": {},
        "metadata": [],
        "sessionReplayId": "",
        "replayOffsetMs": -1,
    }
    issues = rejected(body)
    assert set(issues) == {
        "clientId",
        "rating",
        "userEmail",
        "pageUrl",
        "screenshots",
        "metadata",
        "sessionReplayId",
        "replayOffsetMs",
    }


# --------------------------------------------------------------------------- lone surrogates


@pytest.mark.parametrize("field", TEXT_FIELDS)
@pytest.mark.parametrize("text", ["\ud800", "ok\udfffok", "\udc00\ud800"])
def test_a_lone_surrogate_in_a_text_field_is_refused_not_raised(field: str, text: str) -> None:
    rejected(minimal(**{field: text}), field)


@pytest.mark.parametrize(
    "metadata",
    [{"a": "\ud800"}, {"\udfff": 1}, {"a": [{"b": "x\ud800"}]}],
    ids=["value", "key", "nested"],
)
def test_a_lone_surrogate_in_metadata_is_refused_not_raised(metadata: dict[str, Any]) -> None:
    rejected(minimal(metadata=metadata), "metadata")


@pytest.mark.parametrize("key", sorted(SCREENSHOT_MAX_LENGTHS))
def test_a_lone_surrogate_in_a_screenshot_is_refused_not_raised(key: str) -> None:
    rejected(minimal(screenshots=[{**SHOT, key: "\ud800"}]), "screenshots")
