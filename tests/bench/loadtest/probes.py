"""Single operations timed on a quiet server: registration, createRoom, the initial sync of a
user in 50 rooms, joining a 1,000-member room, and /messages pagination."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.bench.common import timed
from tests.bench.loadtest.client import Api, path_part
from tests.bench.loadtest.measure import percentiles_ms
from tests.bench.loadtest.provision import State, bounded, register

SYNC_FILTER = json.dumps(
    {"room": {"timeline": {"limit": 10}, "state": {"lazy_load_members": True}}},
    separators=(",", ":"),
)


async def run_probes(api: Api, state: State, registrations: int, repeats: int) -> dict[str, Any]:
    assert state.probe is not None
    probe_token = state.probe.access_token
    figures: dict[str, Any] = {}
    nonce = time.time_ns()

    samples: list[float] = []
    started = time.perf_counter()
    accounts = await bounded(
        [
            lambda n=n: timed(samples, register(api, f"ltreg{nonce}_{n}"))
            for n in range(registrations)
        ],
        8,
    )
    elapsed = time.perf_counter() - started
    figures["register"] = {
        "per_second": round(registrations / elapsed, 1),
        **percentiles_ms(samples),
    }

    samples = []
    for n in range(repeats * 4):
        body = {"preset": "private_chat", "name": f"probe {nonce} {n}"}
        await timed(samples, api.call("POST", "/createRoom", probe_token, body))
    figures["create_room"] = percentiles_ms(samples)

    samples = []
    for _ in range(repeats):
        await timed(samples, api.call("GET", "/sync", probe_token, params={"filter": SYNC_FILTER}))
    figures["initial_sync_50_rooms"] = {
        "first_ms": round(samples[0] * 1000, 1),
        **percentiles_ms(samples),
    }
    figures["initial_sync_50_rooms"]["rooms"] = len(state.probe_rooms)

    big_room = state.rooms[0]
    samples = []
    for account in accounts[:repeats]:
        join = api.call("POST", f"/join/{path_part(big_room)}", account.access_token, {})
        await timed(samples, join)
    figures["join_big_room"] = percentiles_ms(samples)
    for account in accounts[:repeats]:
        await api.call("POST", f"/rooms/{path_part(big_room)}/leave", account.access_token, {})

    samples = []
    since: str | None = None
    for _ in range(repeats * 4):
        query = {"dir": "b", "limit": "50"} | ({"from": since} if since else {})
        path = f"/rooms/{path_part(big_room)}/messages"
        page = await timed(samples, api.call("GET", path, probe_token, params=query))
        since = page.get("end")
        if since is None:
            break
    figures["messages_page_50"] = percentiles_ms(samples)
    return figures
