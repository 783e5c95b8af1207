"""Many clients long-polling one server process: the memory held for them, and how fast a
message reaches every member's open /sync while messages flow.

The server runs in its own process (its RSS and CPU are read from /proc); this process plays
every client. Users are put in rooms of --room-size members; --rate messages per second go
to random rooms, each carrying its send time, and every member's long-poll records when it
arrived.

Run: .venv/bin/python -m tests.bench.longpoll_bench --clients 5000 --room-size 10 --rate 100
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import sys
import tempfile
import time
from collections.abc import Awaitable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import yaml

from homeserver.gc_policy import start_gc_policy
from homeserver.logging_setup import configure_logging
from tests.api.harness import SERVER_NAME
from tests.bench.common import scratch_database, timed

T = TypeVar("T")
V3 = "/_matrix/client/v3"
_BATCH = 50


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def in_batches(calls: Iterable[Awaitable[T]]) -> list[T]:
    """Run the calls at most _BATCH at a time, keeping their order."""
    pending = list(calls)
    results: list[T] = []
    for start in range(0, len(pending), _BATCH):
        results.extend(await asyncio.gather(*pending[start : start + _BATCH]))
    return results


class Bench:
    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base
        self.latencies: list[float] = []
        self.errors = 0

    async def call(
        self, method: str, path: str, token: str | None, body: Any = None, **params: str
    ) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.session.request(
            method, self.base + V3 + path, json=body, headers=headers, params=params
        ) as response:
            payload = await response.json()
            if response.status != 200:
                raise RuntimeError(f"{method} {path}: {response.status} {payload}")
            return payload

    async def register(self, n: int) -> str:
        body = {
            "username": f"u{n}",
            "password": "bench-password",
            "auth": {"type": "m.login.dummy"},
        }
        return str((await self.call("POST", "/register", None, body))["access_token"])

    async def poll(self, token: str, since: str) -> None:
        """One client's long-poll loop, recording each message's delivery delay."""
        while True:
            try:
                body = await self.call("GET", "/sync", token, since=since, timeout="30000")
            except (aiohttp.ClientError, RuntimeError):
                self.errors += 1
                await asyncio.sleep(1)
                continue
            arrived = time.time()
            since = body["next_batch"]
            for room in body["rooms"]["join"].values():
                for event in room["timeline"]["events"]:
                    sent_us = event["content"].get("sent_us")
                    if isinstance(sent_us, int):
                        self.latencies.append(arrived - sent_us / 1e6)


async def wait_for_waiting(bench: Bench, clients: int, timeout_s: float) -> float:
    """Seconds until the server reports every client's long-poll as waiting."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        async with bench.session.get(bench.base + "/metrics") as response:
            for line in (await response.text()).splitlines():
                if (
                    line.startswith("homeserver_sync_waiting ")
                    and float(line.split()[1]) >= clients
                ):
                    return time.monotonic() - started
        await asyncio.sleep(0.5)
    raise RuntimeError("the long-polls did not all arrive")


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def run(args: argparse.Namespace, base: str, pid: int) -> None:
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None, sock_read=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        bench = Bench(session, base)
        started = time.perf_counter()
        tokens = await in_batches(bench.register(n) for n in range(args.clients))
        groups = [tokens[i : i + args.room_size] for i in range(0, len(tokens), args.room_size)]
        rooms = await in_batches(
            bench.call("POST", "/createRoom", group[0], {"preset": "public_chat"})
            for group in groups
        )
        room_ids = [str(room["room_id"]) for room in rooms]
        await in_batches(
            bench.call("POST", f"/join/{room_id}", token, {})
            for room_id, group in zip(room_ids, groups, strict=True)
            for token in group[1:]
        )
        initial = await in_batches(bench.call("GET", "/sync", token) for token in tokens)
        print(
            f"set up {args.clients} users in {len(room_ids)} rooms of {args.room_size} "
            f"in {time.perf_counter() - started:.0f} s"
        )
        # The clients' own collector pauses would show up as delivery latency.
        client_gc = start_gc_policy()
        idle_rss = rss_mb(pid)
        pollers = [
            asyncio.create_task(bench.poll(token, body["next_batch"]))
            for token, body in zip(tokens, initial, strict=True)
        ]
        settle = await wait_for_waiting(bench, args.clients, 120)
        await asyncio.sleep(2)
        held_rss = rss_mb(pid)
        print(
            f"{args.clients} long-polls waiting after {settle:.1f} s: server RSS "
            f"{idle_rss:.0f} MB -> {held_rss:.0f} MB (+{held_rss - idle_rss:.0f} MB)"
        )
        cpu_before = cpu_seconds(pid)
        client_cpu_before = time.process_time()
        sends: list[asyncio.Task[Any]] = []
        send_times: list[float] = []
        send_started = time.monotonic()
        for n in range(int(args.rate * args.seconds)):
            await asyncio.sleep(max(0.0, send_started + n / args.rate - time.monotonic()))
            index = random.randrange(len(room_ids))
            # Events allow no floats: the send time goes in as integer microseconds.
            content = {"msgtype": "m.text", "body": "bench", "sent_us": time.time_ns() // 1000}
            path = f"/rooms/{room_ids[index]}/send/m.room.message/b{n}"
            send = bench.call("PUT", path, random.choice(groups[index]), content)
            sends.append(asyncio.create_task(timed(send_times, send)))
        await asyncio.gather(*sends)
        send_elapsed = time.monotonic() - send_started
        await asyncio.sleep(3)
        cpu = cpu_seconds(pid) - cpu_before
        client_cpu = time.process_time() - client_cpu_before
        await client_gc.stop()
        for poller in pollers:
            poller.cancel()
        await asyncio.gather(*pollers, return_exceptions=True)
        expected = len(sends) * args.room_size
        latencies = bench.latencies
        print(
            f"sent {len(sends)} messages in {send_elapsed:.1f} s "
            f"({len(sends) / send_elapsed:.0f}/s); delivered {len(latencies)} of {expected}; "
            f"sync errors {bench.errors}"
        )
        if latencies:
            print(
                f"delivery latency p50={percentile(latencies, 0.5):.1f} ms "
                f"p95={percentile(latencies, 0.95):.1f} ms "
                f"p99={percentile(latencies, 0.99):.1f} ms "
                f"max={max(latencies) * 1000:.1f} ms"
            )
        print(
            f"send request p50={percentile(send_times, 0.5):.1f} ms "
            f"p99={percentile(send_times, 0.99):.1f} ms"
        )
        print(
            f"CPU while sending: server {cpu / (send_elapsed + 3) * 100:.0f}% of a core, "
            f"clients {client_cpu / (send_elapsed + 3) * 100:.0f}%; "
            f"server peak RSS {rss_mb(pid):.0f} MB"
        )


async def main(args: argparse.Namespace) -> None:
    configure_logging("warning", "console")
    async with scratch_database() as dsn:
        data_dir = Path(tempfile.mkdtemp())
        port = free_port()
        config = {
            "server_name": SERVER_NAME,
            "data_dir": str(data_dir),
            "http": {"bind_address": "127.0.0.1", "port": port},
            "database": {"url": dsn, "pool_min_size": 5, "pool_max_size": 20},
            "registration": {"enabled": True},
            "password": {"hash_cost": "min"},
            "rate_limiting": {"enabled": False},
            "logging": {"level": "warning", "format": "json"},
        }
        config_path = data_dir / "homeserver.yaml"
        config_path.write_text(yaml.safe_dump(config))
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "homeserver", "run", "--config", str(config_path)
        )
        base = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as probe:
                for _ in range(200):
                    try:
                        async with probe.get(base + "/health") as response:
                            if response.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.1)
            await run(args, base, server.pid)
        finally:
            server.terminate()
            await asyncio.wait_for(server.wait(), 60)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=5000)
    parser.add_argument("--room-size", type=int, default=10)
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    asyncio.run(main(parser.parse_args()))
