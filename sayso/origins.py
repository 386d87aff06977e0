"""Web origins: normalising allowlist entries and matching a request against them.

An origin is compared as the triple (scheme, host, port), never as a string
prefix or suffix, so ``https://good.example.evil.example`` and
``https://evilgood.example`` never match ``https://good.example``. An entry
whose host starts with ``*.`` matches strict subdomains only
(``https://*.example.com`` matches ``https://a.example.com`` and
``https://a.b.example.com``, not ``https://example.com``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_IPV6 = re.compile(r"^\[[0-9a-f:.]+\]$")


class InvalidOrigin(ValueError):
    """An allowlist entry or a header that is not a usable origin."""


@dataclass(frozen=True, slots=True)
class Origin:
    scheme: str
    host: str  # lowercase; for a wildcard entry, the part after "*."
    port: int
    wildcard: bool = False

    def __str__(self) -> str:
        host = f"*.{self.host}" if self.wildcard else self.host
        port = "" if DEFAULT_PORTS.get(self.scheme) == self.port else f":{self.port}"
        return f"{self.scheme}://{host}{port}"

    def matches(self, other: Origin) -> bool:
        """Whether request origin ``other`` is allowed by this entry."""
        if (self.scheme, self.port) != (other.scheme, other.port) or other.wildcard:
            return False
        if self.wildcard:
            return other.host.endswith("." + self.host)
        return other.host == self.host


def _valid_host(host: str) -> bool:
    if _IPV6.match(host):
        return True
    labels = host.split(".")
    return len(host) <= 253 and all(_HOST_LABEL.match(label) for label in labels)


def parse_origin(value: str, *, allow_wildcard: bool = False) -> Origin:
    """Parse ``scheme://host[:port]`` (a trailing ``/`` is tolerated).

    Raises ``InvalidOrigin`` for anything with a path, query, credentials, an
    unsupported scheme or a malformed host.
    """
    value = value.strip()
    if len(value) > 300 or any(c.isspace() for c in value):
        raise InvalidOrigin("not an origin")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise InvalidOrigin("not an origin") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise InvalidOrigin("an origin starts with http:// or https://")
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        raise InvalidOrigin("an origin has no path, query or credentials")
    host = (parts.hostname or "").lower()
    if parts.netloc.startswith("[") and host:
        host = f"[{host}]"
    wildcard = host.startswith("*.")
    if wildcard:
        if not allow_wildcard:
            raise InvalidOrigin("a wildcard is not an origin")
        host = host[2:]
        if "." not in host:  # "*.com" would allow a whole top-level domain
            raise InvalidOrigin("a wildcard needs at least two labels after '*.'")
    if not host or not _valid_host(host):
        raise InvalidOrigin("the host is not valid")
    return Origin(scheme, host, DEFAULT_PORTS[scheme] if port is None else port, wildcard)


def parse_allowlist_entry(value: str) -> Origin:
    """An allowlist entry: an origin, optionally with a ``*.`` subdomain wildcard."""
    return parse_origin(value, allow_wildcard=True)


# Browsers send the same few Origin values over and over; parsing a URL costs
# more than the rest of the allowlist check. Only successes are cached.
_parse_header_origin = lru_cache(maxsize=1024)(parse_origin)


def request_origin(origin_header: str | None, referer_header: str | None) -> Origin | None:
    """The origin a browser request came from: ``Origin``, else the ``Referer``'s origin."""
    if origin_header and origin_header != "null":
        try:
            return _parse_header_origin(origin_header)
        except InvalidOrigin:
            return None
    if referer_header:
        try:
            parts = urlsplit(referer_header.strip())
            return parse_origin(f"{parts.scheme}://{parts.netloc}")
        except (InvalidOrigin, ValueError):
            return None
    return None


def origin_allowed(allowlist: tuple[Origin, ...], origin: Origin | None) -> bool:
    """An empty allowlist allows everything; otherwise an exact entry match is required."""
    if not allowlist:
        return True
    return origin is not None and any(entry.matches(origin) for entry in allowlist)
