"""Unit tests for ``sayso.origins``: parsing origins and matching them against an allowlist.

Pure and fast: no database, no server. An origin is the triple
(scheme, host, port); these tests pin down that it is never compared as a
string prefix or suffix, that ``*.`` wildcards cover strict subdomains only,
and how the request's origin is taken from the ``Origin`` / ``Referer`` headers.
"""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from sayso.origins import (
    InvalidOrigin,
    Origin,
    origin_allowed,
    parse_allowlist_entry,
    parse_origin,
    request_origin,
)

PROPERTY = settings(max_examples=200, deadline=None)


def allows(entry: str, origin: str) -> bool:
    """Whether allowlist ``entry`` admits a request whose Origin header is ``origin``."""
    return origin_allowed((parse_allowlist_entry(entry),), request_origin(origin, None))


# --------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://example.com", Origin("https", "example.com", 443)),
        ("http://example.com", Origin("http", "example.com", 80)),
        ("https://example.com:8443", Origin("https", "example.com", 8443)),
        ("http://localhost:3000", Origin("http", "localhost", 3000)),
        ("http://127.0.0.1:8000", Origin("http", "127.0.0.1", 8000)),
        ("https://example.com/", Origin("https", "example.com", 443)),
        ("HTTPS://EXAMPLE.COM", Origin("https", "example.com", 443)),
        ("https://App.Example.COM:443/", Origin("https", "app.example.com", 443)),
        ("  https://example.com  ", Origin("https", "example.com", 443)),
        ("https://xn--bcher-kva.example", Origin("https", "xn--bcher-kva.example", 443)),
    ],
)
def test_an_origin_parses_to_lowercase_scheme_host_and_explicit_port(
    value: str, expected: Origin
) -> None:
    assert parse_origin(value) == expected
    assert parse_allowlist_entry(value) == expected


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("https://example.com:443", "https://example.com"),
        ("http://example.com:80/", "http://example.com"),
        ("https://example.com:80", "https://example.com:80"),
        ("http://example.com:443", "http://example.com:443"),
        ("HTTP://LOCALHOST:3000", "http://localhost:3000"),
        ("https://*.Example.com", "https://*.example.com"),
        ("https://*.example.com:8443/", "https://*.example.com:8443"),
        ("https://[::1]", "https://[::1]"),
        ("http://[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_an_origin_prints_in_canonical_form_without_default_ports(value: str, text: str) -> None:
    entry = parse_allowlist_entry(value)
    assert str(entry) == text
    assert parse_allowlist_entry(str(entry)) == entry


def test_default_ports_are_normalised() -> None:
    assert parse_origin("https://a.com:443") == parse_origin("https://a.com")
    assert parse_origin("http://a.com:80") == parse_origin("http://a.com")
    assert parse_origin("https://a.com:80") != parse_origin("https://a.com")


NOT_ORIGINS = [
    "",
    "null",
    "example.com",
    "//example.com",
    "https://",
    "https:///",
    "https://example.com/path",
    "https://example.com/path/",
    "https://example.com//",
    "https://example.com?q=1",
    "https://example.com/?q=1",
    "https://example.com#top",
    "https://user@example.com",
    "https://user:secret@example.com",
    "https://@example.com",
    "ftp://example.com",
    "ws://example.com",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "data:text/html,hi",
    "chrome-extension://abcdefghijklmnop",
    "https://exa mple.com",
    "https://example.com /",
    "https://example.com\t:443",
    "https://exa\nmple.com",
    "https://example.com:port",
    "https://example.com:99999",
    "https://example.com:-1",
    "https://exa_mple.com",
    "https://-example.com",
    "https://example-.com",
    "https://example..com",
    "https://.example.com",
    "https://example.com.",
    "https://exämple.com",
    "https://example.com\x00",
    "https://[::1",
    "https://[not-an-ip]",
    "https://" + "a" * 300 + ".com",
    "https://" + ".".join(["a" * 63] * 5),
]


@pytest.mark.parametrize("value", NOT_ORIGINS)
def test_anything_but_scheme_host_and_port_is_refused(value: str) -> None:
    with pytest.raises(InvalidOrigin):
        parse_origin(value)
    with pytest.raises(InvalidOrigin):
        parse_allowlist_entry(value)


@pytest.mark.parametrize(
    "value",
    [
        "https://*.com",
        "https://*.localhost",
        "https://*",
        "https://*.",
        "https://*.*.example.com",
        "https://a.*.example.com",
        "https://*example.com",
        "https://ex*ample.com",
        "https://example.*",
        "*.example.com",
        "https://*.example.com/path",
    ],
)
def test_a_wildcard_must_lead_and_cover_at_least_a_second_level_domain(value: str) -> None:
    with pytest.raises(InvalidOrigin):
        parse_allowlist_entry(value)


def test_a_wildcard_is_an_allowlist_entry_not_an_origin() -> None:
    assert parse_allowlist_entry("https://*.example.com") == Origin(
        "https", "example.com", 443, wildcard=True
    )
    with pytest.raises(InvalidOrigin):
        parse_origin("https://*.example.com")


def test_invalid_origin_is_a_value_error() -> None:
    assert issubclass(InvalidOrigin, ValueError)


# --------------------------------------------------------------------------- matching


def test_an_exact_entry_matches_the_same_scheme_host_and_port() -> None:
    assert allows("https://good.example", "https://good.example")
    assert allows("http://localhost:3000", "http://localhost:3000")


def test_an_entry_matches_whether_or_not_the_default_port_is_spelled_out() -> None:
    assert allows("https://good.example:443", "https://good.example")
    assert allows("https://good.example", "https://good.example:443")
    assert allows("http://good.example", "http://good.example:80")


@pytest.mark.parametrize(
    "origin",
    [
        "https://good.example:8443",
        "https://good.example:0",
        "http://good.example",
        "http://good.example:443",
        "https://good.example:80",
    ],
)
def test_a_different_port_or_scheme_does_not_match(origin: str) -> None:
    assert not allows("https://good.example", origin)


@pytest.mark.parametrize(
    "origin",
    [
        "https://good.example.evil.example",
        "https://good.example.evil",
        "https://evilgood.example",
        "https://evil-good.example",
        "https://evil.good.example",
        "https://good.examplee",
        "https://ood.example",
        "https://good.exampl",
    ],
)
def test_an_exact_entry_is_not_a_prefix_or_suffix_match(origin: str) -> None:
    assert not allows("https://good.example", origin)


def test_uppercase_hosts_match_their_lowercase_entry() -> None:
    assert allows("https://Good.Example", "https://good.example")
    assert allows("https://good.example", "HTTPS://GOOD.EXAMPLE")


def test_a_trailing_slash_is_tolerated_on_both_sides() -> None:
    assert allows("https://good.example/", "https://good.example")
    assert allows("https://good.example", "https://good.example/")


@pytest.mark.parametrize("origin", ["https://a.example.com", "https://a.b.example.com"])
def test_a_wildcard_entry_matches_subdomains(origin: str) -> None:
    assert allows("https://*.example.com", origin)


@pytest.mark.parametrize(
    "origin",
    [
        "https://example.com",
        "https://badexample.com",
        "https://a.badexample.com",
        "https://example.com.evil.com",
        "https://a.example.com.evil.com",
        "http://a.example.com",
        "https://a.example.com:8443",
        "https://a.example.org",
    ],
)
def test_a_wildcard_entry_matches_subdomains_only(origin: str) -> None:
    assert not allows("https://*.example.com", origin)


def test_a_wildcard_entry_with_a_port_requires_that_port() -> None:
    assert allows("http://*.dev.example:8080", "http://app.dev.example:8080")
    assert not allows("http://*.dev.example:8080", "http://app.dev.example")


def test_a_wildcard_origin_never_matches_anything() -> None:
    wildcard = parse_allowlist_entry("https://*.example.com")
    assert not wildcard.matches(wildcard)
    assert not parse_allowlist_entry("https://example.com").matches(wildcard)


@pytest.mark.parametrize(
    ("entry", "origin", "expected"),
    [
        ("https://[::1]", "https://[::1]", True),
        ("http://[::1]:8080", "http://[::1]:8080", True),
        ("https://[2001:db8::1]", "https://[2001:DB8::1]", True),
        ("https://[2001:db8::1]:443", "https://[2001:db8::1]", True),
        ("https://[::1]", "https://[::2]", False),
        ("https://[::1]", "http://[::1]", False),
        ("http://[::1]:8080", "http://[::1]:8081", False),
        ("https://[::1]", "https://localhost", False),
        ("https://[::ffff:127.0.0.1]", "https://[::ffff:127.0.0.1]", True),
    ],
)
def test_ipv6_literal_origins_match_exactly(entry: str, origin: str, expected: bool) -> None:
    assert allows(entry, origin) is expected


def test_an_ipv6_origin_keeps_its_brackets() -> None:
    assert parse_origin("http://[::1]:8080") == Origin("http", "[::1]", 8080)


# --------------------------------------------------------------------------- allowlists


def test_an_empty_allowlist_allows_everything_even_no_origin() -> None:
    assert origin_allowed((), parse_origin("https://anything.example"))
    assert origin_allowed((), None)


def test_a_missing_origin_is_refused_by_a_non_empty_allowlist() -> None:
    assert not origin_allowed((parse_allowlist_entry("https://good.example"),), None)


def test_any_entry_of_the_allowlist_may_match() -> None:
    allowlist = tuple(
        parse_allowlist_entry(entry)
        for entry in ("https://good.example", "https://*.cdn.example", "http://localhost:3000")
    )
    for origin in ("https://good.example", "https://x.cdn.example", "http://localhost:3000"):
        assert origin_allowed(allowlist, parse_origin(origin))
    for origin in ("https://cdn.example", "http://localhost:3001", "https://bad.example"):
        assert not origin_allowed(allowlist, parse_origin(origin))


# --------------------------------------------------------------------------- request origin


def test_the_origin_header_is_the_request_origin() -> None:
    assert request_origin("https://good.example", "https://other.example/x") == parse_origin(
        "https://good.example"
    )


def test_an_origin_header_of_null_falls_back_to_the_referer() -> None:
    assert request_origin("null", "https://good.example/page") == parse_origin(
        "https://good.example"
    )


@pytest.mark.parametrize("origin", [None, ""])
def test_without_an_origin_header_the_referer_gives_the_origin(origin: str | None) -> None:
    assert request_origin(origin, "https://good.example/page") == parse_origin(
        "https://good.example"
    )


@pytest.mark.parametrize(
    ("referer", "expected"),
    [
        ("https://good.example/a/b?c=d#e", "https://good.example"),
        ("https://good.example", "https://good.example"),
        ("https://good.example/", "https://good.example"),
        ("https://good.example?q=1", "https://good.example"),
        ("HTTPS://Good.Example:443/Path", "https://good.example"),
        ("http://localhost:3000/dashboard", "http://localhost:3000"),
        ("http://[::1]:8080/x", "http://[::1]:8080"),
        ("  https://good.example/page  ", "https://good.example"),
    ],
)
def test_the_referer_origin_drops_path_query_and_fragment(referer: str, expected: str) -> None:
    assert request_origin(None, referer) == parse_origin(expected)


@pytest.mark.parametrize(
    "referer",
    [
        "garbage",
        "/relative/path",
        "https://",
        "ftp://good.example/file",
        "android-app://com.example.app/",
        "https://user:pw@good.example/",
        "https://exa mple.com/",
        "https://[::1/",
        "https://good.example:99999/",
    ],
)
def test_an_unusable_referer_gives_no_origin(referer: str) -> None:
    assert request_origin(None, referer) is None
    assert request_origin("null", referer) is None


@pytest.mark.parametrize(
    "origin",
    [
        "garbage",
        "https://good.example/path",
        "https://*.good.example",
        "https://user@good.example",
        "ftp://good.example",
        "https://good example",
        "https://[::1",
    ],
)
def test_a_garbage_origin_header_gives_no_origin_and_is_not_allowed(origin: str) -> None:
    # No fallback to the Referer: a malformed Origin is never replaced by a nicer one.
    parsed = request_origin(origin, "https://good.example/")
    assert parsed is None
    assert not origin_allowed((parse_allowlist_entry("https://good.example"),), parsed)
    assert origin_allowed((), parsed)


def test_no_headers_give_no_origin() -> None:
    assert request_origin(None, None) is None
    assert request_origin("null", None) is None
    assert request_origin("null", "") is None


def test_a_repeated_origin_header_parses_the_same_every_time() -> None:
    first = request_origin("https://cached.example", None)
    assert first is not None
    assert request_origin("https://cached.example", None) == first
    assert request_origin("https://cached.example/x", None) is None


# --------------------------------------------------------------------------- properties

_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"
labels = st.builds(
    lambda first, rest: first + rest.strip("-") if rest.strip("-") else first,
    st.sampled_from(_ALNUM),
    st.text(_ALNUM + "-", max_size=12),
)
hostnames = st.lists(labels, min_size=1, max_size=4).map(".".join)
schemes = st.sampled_from(["http", "https"])
ports = st.one_of(st.none(), st.integers(1, 65535))


def _url(scheme: str, host: str, port: int | None) -> str:
    return f"{scheme}://{host}" if port is None else f"{scheme}://{host}:{port}"


@PROPERTY
@given(hostnames, hostnames, schemes, ports)
def test_an_entry_for_one_host_never_matches_another(
    h1: str, h2: str, scheme: str, port: int | None
) -> None:
    assume(h1 != h2)
    entry = parse_allowlist_entry(_url(scheme, h1, port))
    assert not entry.matches(parse_origin(_url(scheme, h2, port)))


@PROPERTY
@given(hostnames, st.sampled_from(["evil", "evil-", "evil.", "x"]), schemes)
def test_an_entry_never_matches_its_host_with_anything_added(
    host: str, extra: str, scheme: str
) -> None:
    entry = parse_allowlist_entry(f"{scheme}://{host}")
    for spoof in (extra.rstrip("-.") + host, f"{host}.{extra.strip('-.')}", f"{extra}{host}"):
        try:
            origin = parse_origin(f"{scheme}://{spoof}")
        except InvalidOrigin:
            continue
        assert not entry.matches(origin)


@PROPERTY
@given(hostnames, schemes, ports, st.data())
def test_an_entry_matches_its_own_host_in_any_letter_case(
    host: str, scheme: str, port: int | None, data: st.DataObject
) -> None:
    upper = data.draw(st.lists(st.booleans(), min_size=len(host), max_size=len(host)))
    shouted = "".join(c.upper() if up else c for c, up in zip(host, upper, strict=True))
    entry = parse_allowlist_entry(_url(scheme, host, port))
    assert entry.matches(parse_origin(_url(scheme.upper(), shouted, port) + "/"))


@PROPERTY
@given(hostnames.filter(lambda h: "." in h), hostnames, schemes)
def test_a_wildcard_matches_exactly_the_hosts_ending_in_dot_its_domain(
    domain: str, host: str, scheme: str
) -> None:
    entry = parse_allowlist_entry(f"{scheme}://*.{domain}")
    for candidate in (host, f"{host}.{domain}", domain):
        origin = parse_origin(f"{scheme}://{candidate}")
        assert entry.matches(origin) is candidate.endswith("." + domain)


@PROPERTY
@given(hostnames, schemes, ports)
def test_printing_and_reparsing_an_origin_is_the_identity(
    host: str, scheme: str, port: int | None
) -> None:
    origin = parse_origin(_url(scheme, host, port))
    assert parse_origin(str(origin)) == origin
