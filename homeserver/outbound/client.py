"""The one outbound HTTP client (DESIGN rule 16).

Every request to another machine goes through `OutboundClient`: its destination address is
filtered where the connection is made (see resolver.py), it has a total and a connect
timeout, redirects are not followed (a redirect is a new destination nobody asked for),
proxies from the environment are ignored, and the response body is read only up to a
bound. Failures are `OutboundError`s, never aiohttp's exceptions, so callers handle one
family of errors and never relay a remote server's answer raw.
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver

from homeserver.outbound.address_filter import AddressFilter, IPNetwork, RefusedAddress
from homeserver.outbound.resolver import FilteringResolver, filtering_socket_factory

DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024
_READ_CHUNK_BYTES = 16 * 1024


@dataclass(frozen=True, slots=True)
class OutboundSettings:
    allowed_private_ranges: tuple[IPNetwork, ...] = ()
    request_timeout_s: float = 20.0
    connect_timeout_s: float = 5.0
    max_connections: int = 100
    user_agent: str = "homeserver"
    extra_ca_certificates: str | None = None


class OutboundError(Exception):
    """A request to another machine failed; the message says how, for logs."""


class DestinationRefused(OutboundError):
    """The destination is not allowed (a refused address range, a bad URL)."""


class RequestTimedOut(OutboundError):
    pass


class ConnectionFailed(OutboundError):
    pass


class ResponseTooLarge(OutboundError):
    pass


class BadResponse(OutboundError):
    """The answer is not what was asked for (not JSON)."""


class HttpStatusError(OutboundError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class JsonResponse:
    status: int
    body: Any


class OutboundClient:
    def __init__(self, settings: OutboundSettings, resolver: AbstractResolver | None = None):
        """`resolver` replaces the system's name resolution (tests); its answers are
        filtered all the same."""
        self.settings = settings
        self.address_filter = AddressFilter(settings.allowed_private_ranges)
        self._resolver = resolver
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        # Made on first use, inside the running loop that will own it.
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                resolver=FilteringResolver(self.address_filter, self._resolver),
                socket_factory=filtering_socket_factory(self.address_filter),
                limit=self.settings.max_connections,
                ssl=self._tls_context(),
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                trust_env=False,
                headers={"User-Agent": self.settings.user_agent},
                timeout=aiohttp.ClientTimeout(
                    total=self.settings.request_timeout_s,
                    connect=self.settings.connect_timeout_s,
                ),
            )
        return self._session

    def _tls_context(self) -> ssl.SSLContext | bool:
        """The system's CAs, plus the configured extra ones; certificates are always
        verified."""
        if self.settings.extra_ca_certificates is None:
            return True
        context = ssl.create_default_context()
        context.load_verify_locations(cafile=self.settings.extra_ca_certificates)
        return context

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def check_url(self, url: str) -> None:
        """Refuse a URL that is not http(s) or names a refused address directly."""
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError as error:
            raise DestinationRefused(f"invalid URL: {error}") from None
        if parts.scheme not in ("http", "https") or not host:
            raise DestinationRefused("only absolute http(s) URLs are allowed")
        try:
            self.address_filter.check_host(host)
        except RefusedAddress as error:
            raise DestinationRefused(str(error)) from None

    async def post_json(
        self,
        url: str,
        body: Any,
        *,
        max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES,
        timeout_s: float | None = None,
    ) -> JsonResponse:
        """POST a JSON body and return the JSON answer of a 2xx response; anything else
        raises an OutboundError."""
        self.check_url(url)
        timeout = (
            aiohttp.ClientTimeout(total=timeout_s, connect=self.settings.connect_timeout_s)
            if timeout_s is not None
            else None
        )
        # ASCII-only JSON: some receivers (SyTest's gateway among them) measure the body in
        # characters, so a multi-byte character made them read into the next request.
        data = json.dumps(body).encode()
        try:
            async with self._get_session().post(
                url,
                data=data,
                headers={"Content-Type": "application/json"},
                allow_redirects=False,
                **({"timeout": timeout} if timeout is not None else {}),
            ) as response:
                raw = await _read_bounded(response, max_response_bytes)
                status = response.status
        except OutboundError:
            raise
        except TimeoutError:
            raise RequestTimedOut(f"no answer from {_where(url)} in time") from None
        except aiohttp.ClientConnectorError as error:
            if isinstance(error.os_error, RefusedAddress):
                raise DestinationRefused(str(error.os_error)) from None
            raise ConnectionFailed(f"cannot connect to {_where(url)}: {error.os_error}") from None
        except (aiohttp.ClientError, OSError) as error:
            raise ConnectionFailed(f"request to {_where(url)} failed: {error!r}") from None
        if not 200 <= status < 300:
            raise HttpStatusError(status, f"{_where(url)} answered {status}")
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            raise BadResponse(f"{_where(url)} answered with something other than JSON") from None
        return JsonResponse(status, parsed)


async def _read_bounded(response: aiohttp.ClientResponse, limit: int) -> bytes:
    declared = response.content_length
    if declared is not None and declared > limit:
        raise ResponseTooLarge(f"response of {declared} bytes is over the {limit}-byte limit")
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await response.content.read(min(_READ_CHUNK_BYTES, limit + 1 - size))
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise ResponseTooLarge(f"response is over the {limit}-byte limit")
        chunks.append(chunk)


def _where(url: str) -> str:
    """The host and port of a URL, for messages: paths and queries may carry secrets."""
    parts = urlsplit(url)
    return parts.netloc.rsplit("@", 1)[-1] or url
