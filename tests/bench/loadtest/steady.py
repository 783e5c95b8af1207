"""The steady state: A active users each holding a /sync long-poll open while senders post
messages into random rooms, every delivery timed per recipient."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from tests.bench.loadtest.client import Api, path_part
from tests.bench.loadtest.measure import Window, percentiles_ms
from tests.bench.loadtest.population import PlannedRoom
from tests.bench.loadtest.provision import State, bounded
from tests.bench.loadtest.report import summarise_step

# What a mobile client asks for while idle: a small timeline, members loaded lazily.
STEADY_FILTER = json.dumps(
    {"room": {"timeline": {"limit": 10}, "state": {"lazy_load_members": True}}},
    separators=(",", ":"),
)
# The first sync only has to yield a position; its contents are not what is measured.
FIRST_FILTER = json.dumps(
    {"room": {"timeline": {"limit": 1}, "state": {"lazy_load_members": True}}},
    separators=(",", ":"),
)
HOLD_P99_MS = 1000.0


@dataclass
class Deliveries:
    """Messages in flight and who still has to see them."""

    run: str
    sent_at: dict[int, float] = field(default_factory=dict)
    waiting: dict[int, set[int]] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    syncs: int = 0
    all_arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def expect(self, message: int, recipients: set[int]) -> None:
        self.sent_at[message] = time.monotonic()
        if recipients:
            self.waiting[message] = set(recipients)
            self.all_arrived.clear()

    def arrived(self, user: int, body: dict[str, Any]) -> None:
        now = time.monotonic()
        self.syncs += 1
        for room in body.get("rooms", {}).get("join", {}).values():
            for event in room.get("timeline", {}).get("events", []):
                content = event.get("content")
                if not isinstance(content, dict) or content.get("lt_run") != self.run:
                    continue
                message = content.get("lt_id")
                recipients = self.waiting.get(message)
                if recipients is not None and user in recipients:
                    recipients.discard(user)
                    self.latencies.append(now - self.sent_at[message])
                    if not recipients:
                        del self.waiting[message]
                        if not self.waiting:
                            self.all_arrived.set()

    def missing(self) -> int:
        return sum(len(recipients) for recipients in self.waiting.values())


class SteadyState:
    def __init__(
        self, api: Api, state: State, plans: list[PlannedRoom], active: list[int], pid: int | None
    ) -> None:
        self.api = api
        self.state = state
        self.pid = pid
        self.active = active
        self.deliveries = Deliveries(run=f"{time.time_ns():x}")
        self.stopping = asyncio.Event()
        self.pollers: list[asyncio.Task[None]] = []
        self.polling = 0
        self.all_polling = asyncio.Event()
        active_set = set(active)
        # Only rooms with someone listening make deliveries to measure.
        self.rooms = [
            (state.rooms[n], plan.members, [m for m in plan.members if m in active_set])
            for n, plan in enumerate(plans)
            if any(m in active_set for m in plan.members)
        ]
        self.next_message = 0
        self.rng = random.Random(7)

    async def start(self) -> float:
        """Every active user makes a first sync, then opens its long-poll loop."""
        started = time.monotonic()
        tokens = [self.state.users[n].access_token for n in self.active]
        first_params = {"filter": FIRST_FILTER}
        firsts = await bounded(
            [lambda t=t: self.api.call("GET", "/sync", t, params=first_params) for t in tokens], 16
        )
        for user, token, first in zip(self.active, tokens, firsts, strict=True):
            self.pollers.append(asyncio.create_task(self._poll(user, token, first["next_batch"])))
        if self.active:
            await self.all_polling.wait()
        # Let the last requests reach the server and settle before anything is measured.
        await asyncio.sleep(3)
        return time.monotonic() - started

    async def _poll(self, user: int, token: str, since: str) -> None:
        # Real clients are not in step: the first poll's timeout is drawn at random, so the
        # polls do not all time out in the same second every 30 s.
        first_timeout = random.Random(user).randint(1_000, 30_000)
        params = {"timeout": str(first_timeout), "filter": STEADY_FILTER, "since": since}
        first = True
        while not self.stopping.is_set():
            if first:
                self.polling += 1
                if self.polling == len(self.active):
                    self.all_polling.set()
                first = False
            try:
                status, body = await self.api.request("GET", "/sync", token, params=params)
            except (TimeoutError, aiohttp.ClientError):
                await asyncio.sleep(1)
                continue
            if status != 200 or not isinstance(body, dict):
                await asyncio.sleep(1)
                continue
            params["since"] = body["next_batch"]
            params["timeout"] = "30000"
            self.deliveries.arrived(user, body)

    async def stop(self) -> None:
        self.stopping.set()
        for poller in self.pollers:
            poller.cancel()
        await asyncio.gather(*self.pollers, return_exceptions=True)

    async def idle(self, seconds: float) -> dict[str, Any]:
        """No messages: what holding the long-polls open costs."""
        syncs_before = self.deliveries.syncs
        errors_before = Counter(self.api.errors)
        queries_before = await self.api.db_queries()
        window = Window(self.pid)
        await asyncio.sleep(seconds)
        figures = await window.close()
        syncs = self.deliveries.syncs - syncs_before
        figures["syncs_per_second"] = round(syncs / figures["seconds"], 1)
        figures["errors"] = dict(self.api.errors - errors_before)
        figures["db_queries_per_sync"] = _per(await self.api.db_queries() - queries_before, syncs)
        return figures

    async def send_phase(self, rate: float, seconds: float, drain_s: float) -> dict[str, Any]:
        """`rate` messages/s for `seconds`, then up to `drain_s` for the last deliveries."""
        deliveries = self.deliveries
        deliveries.latencies = []
        syncs_before = deliveries.syncs
        errors_before = Counter(self.api.errors)
        send_times: list[float] = []
        failed_sends = 0
        queries_before = await self.api.db_queries()
        window = Window(self.pid)

        async def send(message: int) -> None:
            nonlocal failed_sends
            room_id, members, listening = self.rooms[self.rng.randrange(len(self.rooms))]
            sender = self._sender(members, listening)
            deliveries.expect(message, set(listening) - {sender})
            content = {
                "msgtype": "m.text",
                "body": f"load {message}",
                "lt_run": deliveries.run,
                "lt_id": message,
                "lt_sent_ms": int(time.time() * 1000),
            }
            path = f"/rooms/{path_part(room_id)}/send/m.room.message/{deliveries.run}-{message}"
            token = self.state.users[sender].access_token
            started = time.perf_counter()
            try:
                await self.api.call("PUT", path, token, content)
                send_times.append(time.perf_counter() - started)
            except Exception:
                failed_sends += 1
                deliveries.waiting.pop(message, None)

        count = int(rate * seconds)
        sends = []
        began = time.monotonic()
        for n in range(count):
            await asyncio.sleep(max(0.0, began + n / rate - time.monotonic()))
            sends.append(asyncio.create_task(send(self.next_message)))
            self.next_message += 1
        await asyncio.gather(*sends)
        send_seconds = time.monotonic() - began
        if deliveries.waiting:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(deliveries.all_arrived.wait(), drain_s)
        figures = await window.close()
        queries = await self.api.db_queries() - queries_before
        elapsed = figures["seconds"]
        missing = deliveries.missing()
        deliveries.waiting.clear()
        figures.update(
            {
                "rate_asked": rate,
                "rate_achieved": round(count / send_seconds, 1),
                "messages": count,
                "failed_sends": failed_sends,
                "send_ms": percentiles_ms(send_times),
                "delivery_ms": percentiles_ms(deliveries.latencies),
                "deliveries": len(deliveries.latencies),
                "missing": missing,
                "syncs_per_second": round((deliveries.syncs - syncs_before) / elapsed, 1),
                "errors": dict(self.api.errors - errors_before),
                "db_queries_per_message": _per(queries, count),
            }
        )
        p99 = figures["delivery_ms"]["p99"]
        figures["held"] = (
            missing == 0
            and failed_sends == 0
            and not figures["errors"]
            and (p99 is None or p99 <= HOLD_P99_MS)
            and figures["rate_achieved"] >= rate * 0.95
        )
        return figures

    def _sender(self, members: tuple[int, ...], listening: list[int]) -> int:
        """Someone online talks to the others online; where only one member is online (a DM
        to someone at their desk), an offline member writes, as from a phone in a pocket."""
        if len(listening) >= 2:
            return self.rng.choice(listening)
        offline = [m for m in members if m not in listening]
        return self.rng.choice(offline or list(members))

    async def ramp(self, rates: list[float], seconds: float, drain_s: float) -> dict[str, Any]:
        steps = []
        highest_held: float | None = None
        for rate in rates:
            step = await self.send_phase(rate, seconds, drain_s)
            steps.append(step)
            print(f"  {summarise_step(step)}", flush=True)
            if not step["held"]:
                break
            highest_held = rate
        return {"steps": steps, "highest_rate_held": highest_held}


def _per(queries: Counter[str], count: int) -> dict[str, float]:
    """Database queries per unit of work (message or sync), the most frequent first: with a
    busy core every round trip waits to be scheduled, so their number is the cost."""
    if not queries or not count:
        return {}
    per = {"total": round(sum(queries.values()) / count, 2)}
    per.update((name, round(n / count, 2)) for name, n in queries.most_common(12))
    return per
