"""Push delivery: a backlog of notifications drained to a slow gateway.

Builds `--users` users, each with one HTTP pusher, in one room where a sender posts
`--messages` messages, with delivery off (the evaluator still stores a notification per
user and message). Then restarts the server with delivery on: at start every pusher is
behind, and the backlog (users x messages, 10,000 by default) drains to a gateway on
loopback that takes `--delay-ms` per answer. Expected time is about
count x delay / min(concurrency, users); memory should stay flat however large the
backlog, since only pushers with work are held, never notifications.

Prints the drain time against that expectation, the gateway's peak requests in flight,
and the process RSS (and, with --tracemalloc, Python's traced peak) before, during and
after the drain.

    .venv/bin/python -m tests.bench.push_delivery_bench --users 100 --messages 100
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from homeserver.app import Homeserver
from homeserver.logging_setup import configure_logging
from tests.api.harness import Client, make_config
from tests.api.rooms_helpers import User
from tests.bench.common import scratch_database

NOTIFY_PATH = "/_matrix/push/v1/notify"


class SlowGateway:
    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.received = 0
        self.in_flight = 0
        self.peak_in_flight = 0
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post(NOTIFY_PATH, self.notify)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0, backlog=1024).start()
        self.port = int(self.runner.addresses[0][1])

    async def notify(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay_s)
        finally:
            self.in_flight -= 1
        if body["notification"].get("event_id"):
            self.received += 1
        return web.json_response({"rejected": []})

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def server_config(dsn: str, data_dir: Path, *, enabled: bool, concurrency: int) -> Any:
    return make_config(
        dsn,
        data_dir,
        database={"url": dsn, "pool_max_size": 20},
        outbound={"allowed_private_ranges": ["127.0.0.1/32"]},
        push={"enabled": enabled, "max_concurrent_deliveries": concurrency},
    )


async def build_backlog(
    dsn: str, data_dir: Path, gateway: SlowGateway, users: int, messages: int
) -> None:
    server = Homeserver(server_config(dsn, data_dir, enabled=False, concurrency=1))
    await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            client = Client(session, f"http://127.0.0.1:{server.port}")
            sender = await User.register(client, "sender")
            room_id = await sender.create_room(preset="public_chat")
            started = time.perf_counter()
            for n in range(users):
                user = await User.register(client, f"user{n}")
                assert (await user.join(room_id)).status == 200
                pusher = await user.call(
                    "POST",
                    "/pushers/set",
                    {
                        "kind": "http",
                        "app_id": "org.example.bench",
                        "pushkey": f"key-{n}",
                        "app_display_name": "Bench",
                        "device_display_name": "Phone",
                        "lang": "en",
                        "data": {"url": f"http://127.0.0.1:{gateway.port}{NOTIFY_PATH}"},
                    },
                )
                assert pusher.status == 200, pusher.body
            for n in range(messages):
                assert (await sender.send(room_id, f"message {n}")).status == 200
            await server.services.push_evaluator.caught_up(
                server.services.notifier.current_token.events, timeout_s=120
            )
            print(f"backlog built in {time.perf_counter() - started:.1f} s")
    finally:
        await server.stop()


async def drain(
    dsn: str, data_dir: Path, gateway: SlowGateway, expected: int, concurrency: int
) -> None:
    rss_before = rss_mib()
    if tracemalloc.is_tracing():
        tracemalloc.reset_peak()
    server = Homeserver(server_config(dsn, data_dir, enabled=True, concurrency=concurrency))
    started = time.perf_counter()
    await server.start()
    rss_peak = rss_before
    pending_peak = 0
    samples: list[str] = []
    next_sample = started
    try:
        while gateway.received < expected:
            await asyncio.sleep(0.05)
            now = time.perf_counter()
            rss_peak = max(rss_peak, rss_mib())
            pending_peak = max(pending_peak, server.services.push_delivery.pending)
            if now >= next_sample:
                samples.append(
                    f"  t={now - started:5.1f} s  delivered={gateway.received:6}  "
                    f"rss={rss_mib():6.1f} MiB  in flight={gateway.in_flight}"
                )
                next_sample += 5
            if now - started > expected * gateway.delay_s + 120:
                raise TimeoutError(f"only {gateway.received} of {expected} delivered")
        elapsed = time.perf_counter() - started
    finally:
        await server.stop()
    print("\n".join(samples))
    ideal = expected * gateway.delay_s / concurrency
    print(
        f"drained {expected} notifications in {elapsed:.1f} s "
        f"(ideal {ideal:.1f} s at {concurrency} in flight: {ideal / elapsed:.0%} of the pace), "
        f"{expected / elapsed:.0f}/s"
    )
    print(f"gateway peak in flight: {gateway.peak_in_flight} (limit {concurrency})")
    print(f"pushers/users with work held at peak: {pending_peak}")
    print(
        f"RSS before {rss_before:.1f} MiB, peak during {rss_peak:.1f} MiB, "
        f"after {rss_mib():.1f} MiB"
    )
    if tracemalloc.is_tracing():
        current, peak = tracemalloc.get_traced_memory()
        print(f"tracemalloc: peak {peak / 2**20:.1f} MiB, now {current / 2**20:.1f} MiB")


async def main(args: argparse.Namespace) -> None:
    configure_logging("warning", "console")
    if args.tracemalloc:
        tracemalloc.start()
    gateway = SlowGateway(args.delay_ms / 1000)
    await gateway.start()
    try:
        async with scratch_database() as dsn:
            data_dir = Path(tempfile.mkdtemp())
            await build_backlog(dsn, data_dir, gateway, args.users, args.messages)
            concurrency = min(args.concurrency, args.users)
            await drain(dsn, data_dir, gateway, args.users * args.messages, concurrency)
    finally:
        await gateway.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--delay-ms", type=int, default=200)
    parser.add_argument("--tracemalloc", action="store_true")
    asyncio.run(main(parser.parse_args()))
