"""The client's IP address, directly connected or behind trusted reverse proxies.

``X-Forwarded-For`` is written by whoever sent the request, so it is believed
only when the direct peer is one of ``SAYSO_TRUSTED_PROXIES``. Each proxy
appends the address it received the request from, so the header is read from
the right: the right-most address that is not itself a trusted proxy is the
client. Everything left of it was chosen by the client and is ignored; a
forged header from an untrusted peer changes nothing.

Anything unparseable never raises: an entry that is not an address stops the
walk, and the last trusted hop (the proxy that passed it on) stands for the
client. IPv4-mapped IPv6 addresses count as their IPv4 address. Framework-free
(an ASGI scope is a plain dict), so the dashboard and the public API share it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
TrustedProxies = tuple[Network, ...]

# How many hops of X-Forwarded-For are looked at, from the right. Real chains
# have a handful; a header stuffed with trusted addresses can't make us walk
# further than this.
MAX_HOPS = 32
# The longest address text worth parsing ("[" + a scoped IPv6 address + "]:port").
_MAX_ENTRY = 100


def parse_trusted_proxies(value: str) -> TrustedProxies:
    """Addresses and CIDRs, separated by commas and/or spaces; raises ``ValueError``.

    ``10.0.0.0/8, 192.168.1.7 ::1 fd00::/8``. A CIDR with host bits set
    (``10.0.0.1/8``) is refused: it is more likely a typo than a meaning.
    """
    networks: list[Network] = []
    for entry in value.replace(",", " ").split():
        try:
            networks.append(ipaddress.ip_network(entry, strict=True))
        except ValueError:
            raise ValueError(
                f"{entry!r} is not an IP address or a CIDR network (e.g. 10.0.0.0/8)"
            ) from None
    return tuple(networks)


def client_ip(
    peer: str | None, forwarded_for: Iterable[str], trusted: TrustedProxies
) -> str | None:
    """The client's address as text (canonical form), or None when the peer is unknown.

    ``peer`` is the direct peer's host (``scope["client"][0]``);
    ``forwarded_for`` holds the values of every ``X-Forwarded-For`` header, in
    the order they came (several headers read as one comma-separated list).
    """
    if peer is None:
        return None
    address = _parse(peer)
    if address is None:
        # Not an IP (a Unix socket path, say): the best key we have, bounded.
        return peer[:_MAX_ENTRY]
    if not trusted or not _is_trusted(address, trusted):
        return str(address)
    hops = [hop for value in forwarded_for for hop in value.split(",")]
    for entry in reversed(hops[-MAX_HOPS:]):
        hop = _parse(entry)
        if hop is None:
            break
        address = hop
        if not _is_trusted(hop, trusted):
            break
    return str(address)


def scope_client_ip(scope: Mapping[str, Any], trusted: TrustedProxies) -> str | None:
    """``client_ip`` for an ASGI HTTP scope."""
    client = scope.get("client")
    peer = str(client[0]) if client else None
    forwarded = (
        value.decode("latin-1")
        for name, value in scope.get("headers", ())
        if name == b"x-forwarded-for"
    )
    return client_ip(peer, forwarded, trusted)


def _is_trusted(address: Address, trusted: TrustedProxies) -> bool:
    return any(address in network for network in trusted)


def _parse(text: str) -> Address | None:
    """An address from a peer host or an X-Forwarded-For entry; None if it isn't one.

    Accepts what proxies are known to write: ``1.2.3.4``, ``1.2.3.4:5678``,
    ``2001:db8::1``, ``[2001:db8::1]`` and ``[2001:db8::1]:5678``.
    """
    text = text.strip()
    if not text or len(text) > _MAX_ENTRY:
        return None
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
