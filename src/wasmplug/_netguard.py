"""Which addresses a plug-in's HTTP requests may connect to: the manifest's `blocked_networks`.

`allowed_hosts` judges the host name as the plug-in wrote it; a name can resolve to anything,
so a host that wants to keep plug-ins off its own network (loopback, the LAN, a cloud metadata
service at 169.254.169.254) also judges the address the connection goes to. `_http` resolves
the name once, asks `NetworkGuard.refusal` about every address, and connects only to one that
was checked (no second lookup, so DNS rebinding cannot slip past).

`"non-public"` in `blocked_networks` stands for every special-purpose network of IPv4 and IPv6
(IANA's registries): private, loopback, link-local, CGNAT, multicast, reserved, documentation,
and the IPv6 ranges that embed an IPv4 address (NAT64, 6to4, Teredo). An IPv4-mapped IPv6
address (::ffff:a.b.c.d) is judged as the IPv4 address it maps.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeAlias

Network: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network

NON_PUBLIC = "non-public"

_NON_PUBLIC: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "this network"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared address space (CGNAT)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local, cloud metadata"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "6to4 relay"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved, broadcast"),
    ("::/96", "unspecified, loopback, IPv4-compatible"),
    ("64:ff9b::/96", "NAT64"),
    ("64:ff9b:1::/48", "local NAT64"),
    ("100::/64", "discard"),
    ("2001::/23", "IETF protocol assignments, Teredo"),
    ("2001:db8::/32", "documentation"),
    ("2002::/16", "6to4"),
    ("3fff::/20", "documentation"),
    ("fc00::/7", "unique local (private)"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local"),
    ("ff00::/8", "multicast"),
)

_LABELS: dict[Network, str] = {ipaddress.ip_network(cidr): label for cidr, label in _NON_PUBLIC}

# A bound on a manifest's lists (each request checks every address against them).
MAX_NETWORKS = 256


def parse_networks(value: object, where: str) -> tuple[Network, ...]:
    """A manifest's list of networks (CIDR like "10.0.0.0/8", a single address, or "non-public");
    ValueError saying which entry is wrong."""
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}: expected a list of networks like \"10.0.0.0/8\" or "
                         f"\"{NON_PUBLIC}\", got {type(value).__name__}")
    if len(value) > MAX_NETWORKS:
        raise ValueError(f"{where}: at most {MAX_NETWORKS} networks, got {len(value)}")
    networks: list[Network] = []
    for i, entry in enumerate(value):
        if entry == NON_PUBLIC:
            networks.extend(_LABELS)
            continue
        try:
            networks.append(ipaddress.ip_network(entry))
        except ValueError as exc:
            raise ValueError(f"{where}[{i}]: {entry!r} is not a network ({exc}); write a CIDR "
                             f"like \"10.0.0.0/8\" or \"fd00::/8\", or \"{NON_PUBLIC}\"") from None
    return tuple(dict.fromkeys(networks))


@dataclass(frozen=True)
class NetworkGuard:
    """Addresses in `blocked` are refused unless they are in `allowed` (the exceptions)."""

    blocked: tuple[Network, ...]
    allowed: tuple[Network, ...] = ()

    def refusal(self, address: str) -> str | None:
        """The blocked network `address` (as getaddrinfo gives it) is in, or None."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if _find(ip, self.allowed) is not None:
            return None
        network = _find(ip, self.blocked)
        if network is None:
            return None
        label = _LABELS.get(network)
        return f"the blocked network {network}" + (f" ({label})" if label else "")


def _find(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, networks: Iterable[Network]) -> Network | None:
    for network in networks:
        if network.version == ip.version and ip in network:
            return network
    return None
