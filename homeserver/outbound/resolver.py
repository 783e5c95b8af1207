"""The address filter wired into aiohttp, where addresses are actually connected to.

aiohttp connects to exactly the addresses its resolver returns (an IP-literal URL skips
the resolver), so filtering there judges the address connected to, not one looked up
earlier: a name that resolves to a public address once and to 127.0.0.1 the next time
(DNS rebinding) is judged on the second answer. The socket factory checks again just
before each connect, which also covers IP-literal URLs and redirects.
"""

from __future__ import annotations

import socket

from aiohappyeyeballs import AddrInfoType, SocketFactoryType
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from homeserver.outbound.address_filter import AddressFilter, RefusedAddress


class FilteringResolver(AbstractResolver):
    """Resolves with aiohttp's default resolver and drops refused addresses; a name with
    nothing left raises RefusedAddress."""

    def __init__(self, address_filter: AddressFilter, inner: AbstractResolver | None = None):
        self.filter = address_filter
        self.inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self.inner.resolve(host, port, family)
        allowed = [result for result in results if self.filter.is_allowed(result["host"])]
        if not allowed:
            refused = results[0]["host"] if results else host
            raise RefusedAddress(f"{host} ({refused})")
        return allowed

    async def close(self) -> None:
        await self.inner.close()


def filtering_socket_factory(address_filter: AddressFilter) -> SocketFactoryType:
    """A socket factory for aiohttp's connector that refuses to make a socket for a
    refused destination."""

    def make(addr_info: AddrInfoType) -> socket.socket:
        family, type_, proto, _, address = addr_info
        address_filter.check(address[0])
        return socket.socket(family=family, type=type_, proto=proto)

    return make
