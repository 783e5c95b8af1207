"""Which IP addresses outbound requests may reach (DESIGN rule 16).

A URL handed to us by a user (a push gateway, a URL preview) or by a remote server must
not be a way into the machines behind our firewall: addresses in private, loopback,
link-local, shared (CGNAT), multicast, reserved and documentation ranges are refused
unless an operator allow-lists them. IPv6 addresses that embed an IPv4 one (mapped,
NAT64, 6to4, Teredo's server part aside) are judged by the IPv4 address they lead to.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

REFUSED_RANGES: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(cidr)
    for cidr in (
        # IPv4
        "0.0.0.0/8",  # "this network", unspecified
        "10.0.0.0/8",  # private
        "100.64.0.0/10",  # shared address space (CGNAT)
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local (cloud metadata services live here)
        "172.16.0.0/12",  # private
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # documentation
        "192.88.99.0/24",  # 6to4 relay anycast
        "192.168.0.0/16",  # private
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation
        "203.0.113.0/24",  # documentation
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and the broadcast address
        # IPv6
        "::/128",  # unspecified
        "::1/128",  # loopback
        "100::/64",  # discard-only
        "2001:db8::/32",  # documentation
        "fc00::/7",  # unique local (ULA)
        "fe80::/10",  # link-local
        "fec0::/10",  # deprecated site-local
        "ff00::/8",  # multicast
    )
)

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.ip_network("2002::/16")


class RefusedAddress(OSError):
    """The destination address is in a refused range and not allow-listed.

    An OSError so that aiohttp treats it as a failure to resolve or connect (and
    aiohappyeyeballs tries no further with it) rather than as a programming error.
    """

    def __init__(self, address: str) -> None:
        super().__init__(f"outbound requests to {address} are not allowed")
        self.address = address


def parse_networks(cidrs: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Parse CIDRs (a bare address is a single-address network); raises ValueError."""
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    return None


class AddressFilter:
    """Answers whether an IP address may be connected to."""

    def __init__(self, allowed: Iterable[IPNetwork] = ()) -> None:
        self.allowed = tuple(allowed)

    def _allow_listed(self, address: IPAddress) -> bool:
        return any(
            address.version == network.version and address in network for network in self.allowed
        )

    def is_allowed(self, address: IPAddress | str) -> bool:
        if isinstance(address, str):
            address = ipaddress.ip_address(address)
        if self._allow_listed(address):
            return True
        if isinstance(address, ipaddress.IPv6Address):
            embedded = _embedded_ipv4(address)
            # "::ffff:10.0.0.1" reaches 10.0.0.1: judge (and allow-list) what it reaches.
            if embedded is not None and not self.is_allowed(embedded):
                return False
        return not any(
            address.version == network.version and address in network for network in REFUSED_RANGES
        )

    def check(self, address: IPAddress | str) -> None:
        """Raise RefusedAddress unless the address may be connected to."""
        if not self.is_allowed(address):
            raise RefusedAddress(str(address))

    def check_host(self, host: str) -> None:
        """For a URL's host: refuse an IP literal in a refused range, and `localhost` (which
        resolves to loopback without DNS) unless loopback is allow-listed. Names are
        otherwise judged when they are resolved, at connect time."""
        literal = ip_literal(host)
        if literal is not None:
            self.check(literal)
            return
        name = host.rstrip(".").lower()
        if name == "localhost" or name.endswith(".localhost"):
            self.check("127.0.0.1")


def ip_literal(host: str) -> IPAddress | None:
    """The address a URL host names directly (`[::1]`, `::1` or `10.0.0.1`), else None."""
    try:
        return ipaddress.ip_address(host.removeprefix("[").removesuffix("]"))
    except ValueError:
        return None
