"""Room benchmarks: send latency by room size, createRoom, deep /messages pagination.

Drives a live in-process server over real HTTP against a scratch database, except that the
long history for the pagination probe is written straight into the events table (real,
signed events, bulk-copied) so a million-event room takes minutes, not hours.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from homeserver.app import Homeserver
from homeserver.rules.events import build_local_event
from tests.api.rooms_helpers import User
from tests.bench.common import scratch_server, summary, timed


async def send_latency(users: list[User], room_id: str, sends: int) -> list[float]:
    samples: list[float] = []
    for n in range(sends):
        response = await timed(samples, users[n % len(users)].send(room_id, f"bench {n}"))
        assert response.status == 200, response.body
    return samples


async def fill_history(server: Homeserver, user: User, room_id: str, count: int) -> None:
    """Append `count` real signed messages to the room by bulk copy, keeping the DAG linear."""
    services = server.services
    stores = services.events.stores
    version = await services.events.room_version(room_id)
    assert version is not None and server.signing_key is not None
    state = await stores.rooms.current_state_ids(room_id)
    auth = [state[("m.room.create", "")], state[("m.room.power_levels", "")]]
    auth.append(state[("m.room.member", user.user_id)])
    extremity = (await stores.events.forward_extremities(room_id))[0]
    prev, depth, group = extremity.event_id, extremity.depth, extremity.state_group
    async with stores.db.connection() as conn:
        start = await conn.fetchval("s", "SELECT nextval('events_stream_ordering_seq')")
        await conn.execute("s", f"SELECT setval('events_stream_ordering_seq', {start + count})")
    rows = []
    for n in range(count):
        depth += 1
        event = build_local_event(
            version,
            server_name=services.server_name,
            signing_key=server.signing_key,
            room_id=room_id,
            sender=user.user_id,
            event_type="m.room.message",
            content={"msgtype": "m.text", "body": f"history {n}"},
            prev_event_ids=[prev],
            auth_event_ids=auth,
            depth=depth,
            origin_server_ts=1_700_000_000_000 + n,
        )
        rows.append(
            (
                start + n,
                event.event_id,
                room_id,
                event.type,
                None,
                event.sender,
                depth,
                event.origin_server_ts,
                False,
                False,
                None,
                group,
                event.canonical_json(),
            )
        )
        prev = event.event_id
    async with stores.db.transaction() as conn:
        await conn.raw.copy_records_to_table(
            "events",
            records=rows,
            columns=[
                "stream_ordering",
                "event_id",
                "room_id",
                "type",
                "state_key",
                "sender",
                "depth",
                "origin_server_ts",
                "contains_url",
                "outlier",
                "rejected_reason",
                "state_group",
                "json",
            ],
        )
        await conn.execute(
            "x",
            "UPDATE forward_extremities SET event_id = $2 WHERE room_id = $1",
            room_id,
            prev,
        )
        await conn.execute("a", "ANALYZE events")


async def main(args: argparse.Namespace) -> None:
    async with scratch_server() as (server, client):
        users = [await User.register(client, f"u{n}") for n in range(args.members)]
        owner = users[0]
        small = await owner.create_room(preset="public_chat")
        await users[1].join(small)
        big = await owner.create_room(preset="public_chat")
        joins = [u.join(big) for u in users[1:]]
        for chunk in range(0, len(joins), 50):
            await asyncio.gather(*joins[chunk : chunk + 50])
        print(f"machine load average: {os.getloadavg()}")
        print(summary("send, 2-member room", await send_latency(users[:2], small, args.sends)))
        big_sends = await send_latency(users[:2], big, args.sends)
        print(summary(f"send, {args.members}-member room", big_sends))
        creates: list[float] = []
        for _ in range(args.creates):
            await timed(creates, owner.create_room(preset="private_chat", name="bench"))
        print(summary("createRoom (private_chat preset)", creates))
        started = time.perf_counter()
        await fill_history(server, owner, small, args.history)
        print(f"wrote {args.history} history events in {time.perf_counter() - started:.1f} s")
        middle = await owner.messages(small, limit="1")
        token = middle.body["end"]
        depth, stream = (int(x) for x in token[1:].split("-"))
        deep = f"t{depth - args.history // 2}-{stream - args.history // 2}"
        pages: list[float] = []
        for _ in range(args.pages):
            response = await timed(pages, owner.messages(small, limit="50", **{"from": deep}))
            assert len(response.body["chunk"]) == 50
        print(summary(f"/messages limit 50, {args.history // 2} deep", pages))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--sends", type=int, default=300)
    parser.add_argument("--creates", type=int, default=50)
    parser.add_argument("--history", type=int, default=200_000)
    parser.add_argument("--pages", type=int, default=100)
    asyncio.run(main(parser.parse_args()))
