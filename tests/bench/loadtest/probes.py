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


def distinct_sync_filter(tag: str) -> str:
    """SYNC_FILTER with a presence type nobody sends: the same work, another request."""
    definition = json.loads(SYNC_FILTER) | {"presence": {"not_types": [f"probe.{tag}"]}}
    return json.dumps(definition, separators=(",", ":"))


async def leave_unplanned_rooms(api: Api, state: State) -> None:
    """Runs before this one had the probe user create rooms; it leaves and forgets them."""
    assert state.probe is not None
    token = state.probe.access_token
    joined = (await api.call("GET", "/joined_rooms", token))["joined_rooms"]
    for room_id in set(joined) - set(state.probe_rooms):
        await api.call("POST", f"/rooms/{path_part(room_id)}/leave", token, {})
        await api.call("POST", f"/rooms/{path_part(room_id)}/forget", token, {})


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

    # Rooms are created by a user of the registration probe, so that the probe user stays
    # in exactly its planned rooms from one run to the next.
    creator_token = accounts[0].access_token
    samples = []
    for n in range(repeats * 4):
        body = {"preset": "private_chat", "name": f"probe {nonce} {n}"}
        await timed(samples, api.call("POST", "/createRoom", creator_token, body))
    figures["create_room"] = percentiles_ms(samples)

    await leave_unplanned_rooms(api, state)
    samples = []
    for _ in range(repeats):
        await timed(samples, api.call("GET", "/sync", probe_token, params={"filter": SYNC_FILTER}))
    figures["initial_sync_50_rooms"] = {
        "first_ms": round(samples[0] * 1000, 1),
        **percentiles_ms(samples),
    }
    figures["initial_sync_50_rooms"]["rooms"] = len(state.probe_rooms)
    # The same again, but each request unlike the last, as the first sync of another device
    # would be: Synapse answers an identical repeat from its whole-response cache, so the
    # repeats above measure that cache on Synapse and the work itself on ours.
    samples = []
    for n in range(repeats):
        params = {"filter": distinct_sync_filter(f"{nonce}.{n}")}
        await timed(samples, api.call("GET", "/sync", probe_token, params=params))
    figures["initial_sync_50_rooms_distinct"] = percentiles_ms(samples)

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
