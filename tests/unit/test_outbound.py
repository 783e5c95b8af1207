"""The outbound HTTP client's guards: address filter, timeouts, bounded bodies, backoff."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from homeserver.outbound import (
    AddressFilter,
    Backoff,
    BadResponse,
    ConnectionFailed,
    DestinationRefused,
    HttpStatusError,
    OutboundClient,
    OutboundSettings,
    RefusedAddress,
    RequestTimedOut,
    ResponseTooLarge,
    parse_networks,
)
from homeserver.outbound.resolver import FilteringResolver, filtering_socket_factory

LOOPBACK = parse_networks(["127.0.0.1/32"])


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.9.9.9",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
        "::",
        "::1",
        "fd00::1",
        "fe80::1",
        "fe80::1%eth0",
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "64:ff9b::a00:1",
        "2002:a00:1::",
    ],
)
def test_refused_addresses(address: str) -> None:
    assert not AddressFilter().is_allowed(address)
    with pytest.raises(RefusedAddress):
        AddressFilter().check(address)


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "100.128.0.1"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert AddressFilter().is_allowed(address)


def test_allow_list() -> None:
    allowed = AddressFilter(parse_networks(["10.0.0.0/8", "fd00::/8", "127.0.0.1"]))
    assert allowed.is_allowed("10.20.30.40")
    assert allowed.is_allowed("fd00::1")
    assert allowed.is_allowed("127.0.0.1")
    # The mapped form reaches the same allow-listed address.
    assert allowed.is_allowed("::ffff:10.0.0.1")
    assert not allowed.is_allowed("127.0.0.2")
    assert not allowed.is_allowed("192.168.0.1")
    assert not allowed.is_allowed("::ffff:192.168.0.1")


def test_hosts() -> None:
    refused = AddressFilter()
    for host in ("localhost", "LOCALHOST.", "push.localhost", "[::1]", "10.0.0.1"):
        with pytest.raises(RefusedAddress):
            refused.check_host(host)
    refused.check_host("push.example.org")
    AddressFilter(LOOPBACK).check_host("localhost")


def test_socket_factory_refuses_before_connecting() -> None:
    make = filtering_socket_factory(AddressFilter())
    with pytest.raises(RefusedAddress):
        make((socket.AF_INET, socket.SOCK_STREAM, 0, "", ("10.0.0.1", 443)))
    sock = make((socket.AF_INET, socket.SOCK_STREAM, 0, "", ("8.8.8.8", 443)))
    sock.close()


class FakeResolver(AbstractResolver):
    """Answers from a table, each name with the next of its answers (DNS rebinding)."""

    def __init__(self, answers: dict[str, list[list[str]]]) -> None:
        self.answers = answers

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        addresses = self.answers[host].pop(0)
        return [
            ResolveResult(hostname=host, host=a, port=port, family=socket.AF_INET, proto=0, flags=0)
            for a in addresses
        ]

    async def close(self) -> None:
        pass


async def test_resolver_drops_refused_answers() -> None:
    resolver = FilteringResolver(
        AddressFilter(),
        FakeResolver({"mixed.test": [["10.0.0.1", "8.8.8.8"]], "inside.test": [["127.0.0.1"]]}),
    )
    assert [r["host"] for r in await resolver.resolve("mixed.test", 443)] == ["8.8.8.8"]
    with pytest.raises(RefusedAddress):
        await resolver.resolve("inside.test", 443)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[int]]]:
    runners: list[web.AppRunner] = []

    async def start(handler: Handler) -> int:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        return int(runner.addresses[0][1])

    yield start
    for runner in runners:
        await runner.cleanup()


async def ok(request: web.Request) -> web.Response:
    return web.json_response({"echo": await request.json()})


def client(allowed: tuple[Any, ...] = (), **answers: list[list[str]]) -> OutboundClient:
    return OutboundClient(
        OutboundSettings(allowed_private_ranges=allowed, request_timeout_s=5),
        resolver=FakeResolver(answers) if answers else None,
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/x",
        "http://10.0.0.1:{port}/x",
        "http://169.254.169.254:{port}/x",
        "http://[::1]:{port}/x",
        "http://[fd00::1]:{port}/x",
        "http://localhost:{port}/x",
        "ftp://example.org/x",
    ],
)
async def test_private_literals_are_refused(
    serve: Callable[[Handler], Awaitable[int]], url: str
) -> None:
    port = await serve(ok)
    outbound = client()
    try:
        with pytest.raises(DestinationRefused):
            await outbound.post_json(url.format(port=port), {"a": 1})
    finally:
        await outbound.close()


async def test_allow_listed_loopback_is_reached(serve: Callable[[Handler], Awaitable[int]]) -> None:
    port = await serve(ok)
    outbound = client(LOOPBACK)
    try:
        answer = await outbound.post_json(f"http://127.0.0.1:{port}/x", {"a": 1})
        assert answer.status == 200 and answer.body == {"echo": {"a": 1}}
        with pytest.raises(DestinationRefused):
            await outbound.post_json(f"http://[::1]:{port}/x", {"a": 1})
    finally:
        await outbound.close()


async def test_names_resolving_to_refused_addresses_are_refused(
    serve: Callable[[Handler], Awaitable[int]],
) -> None:
    port = await serve(ok)
    outbound = client(**{"gateway.test": [["127.0.0.1"]]})
    try:
        with pytest.raises(DestinationRefused):
            await outbound.post_json(f"http://gateway.test:{port}/x", {})
    finally:
        await outbound.close()


async def test_dns_rebinding_is_judged_on_the_address_connected_to(
    serve: Callable[[Handler], Awaitable[int]],
) -> None:
    port = await serve(ok)
    # Allow-listing 127.0.0.1 stands in for "a public address" here: the first answer is
    # allowed and reached, the second (another loopback address) is not.
    outbound = client(LOOPBACK, **{"rebind.test": [["127.0.0.1"], ["127.0.0.2"]]})
    try:
        assert (await outbound.post_json(f"http://rebind.test:{port}/x", {})).status == 200
        await outbound.close()  # a new session: no cached answer, no pooled connection
        with pytest.raises(DestinationRefused):
            await outbound.post_json(f"http://rebind.test:{port}/x", {})
    finally:
        await outbound.close()


async def test_oversized_bodies_are_refused(serve: Callable[[Handler], Awaitable[int]]) -> None:
    big = b'{"x": "' + b"a" * 100_000 + b'"}'

    async def declared(request: web.Request) -> web.Response:
        return web.Response(body=big, content_type="application/json")

    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(big), 8192):
            await response.write(big[start : start + 8192])
        await response.write_eof()
        return response

    outbound = client(LOOPBACK)
    try:
        for handler in (declared, chunked):
            port = await serve(handler)
            with pytest.raises(ResponseTooLarge):
                await outbound.post_json(f"http://127.0.0.1:{port}/x", {})
            answer = await outbound.post_json(
                f"http://127.0.0.1:{port}/x", {}, max_response_bytes=200_000
            )
            assert len(answer.body["x"]) == 100_000
    finally:
        await outbound.close()


async def test_timeouts(serve: Callable[[Handler], Awaitable[int]]) -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1)
        return web.json_response({})

    port = await serve(slow)
    outbound = client(LOOPBACK)
    try:
        started = asyncio.get_running_loop().time()
        with pytest.raises(RequestTimedOut):
            await outbound.post_json(f"http://127.0.0.1:{port}/x", {}, timeout_s=0.2)
        assert asyncio.get_running_loop().time() - started < 2
    finally:
        await outbound.close()


async def test_statuses_bad_answers_and_redirects(
    serve: Callable[[Handler], Awaitable[int]],
) -> None:
    async def handler(request: web.Request) -> web.Response:
        if request.path == "/error":
            return web.json_response({"errcode": "X"}, status=502)
        if request.path == "/redirect":
            raise web.HTTPFound("http://10.0.0.1/")
        return web.Response(text="<html>", content_type="text/html")

    port = await serve(handler)
    outbound = client(LOOPBACK)
    try:
        with pytest.raises(HttpStatusError) as error:
            await outbound.post_json(f"http://127.0.0.1:{port}/error", {})
        assert error.value.status == 502
        with pytest.raises(HttpStatusError) as error:
            await outbound.post_json(f"http://127.0.0.1:{port}/redirect", {})
        assert error.value.status == 302
        with pytest.raises(BadResponse):
            await outbound.post_json(f"http://127.0.0.1:{port}/html", {})
    finally:
        await outbound.close()


async def test_connection_refused() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    outbound = client(LOOPBACK)
    try:
        with pytest.raises(ConnectionFailed):
            await outbound.post_json(f"http://127.0.0.1:{port}/x", {})
    finally:
        await outbound.close()


def test_backoff_doubles_up_to_a_cap_and_resets() -> None:
    now = [100.0]
    backoff: Backoff[str] = Backoff(1, 5, max_keys=2, now=lambda: now[0])
    assert [backoff.failed("a") for _ in range(5)] == [1, 2, 4, 5, 5]
    assert backoff.wait_s("a") == 5
    now[0] += 3
    assert backoff.wait_s("a") == 2
    backoff.succeeded("a")
    assert "a" not in backoff and backoff.wait_s("a") == 0
    assert backoff.failed("a") == 1
    backoff.failed("b")
    backoff.failed("c")
    assert len(backoff) == 2 and "a" not in backoff
