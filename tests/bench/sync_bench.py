"""Sync benchmarks: initial sync of a user in many rooms, and empty incremental syncs.

Run: .venv/bin/python -m tests.bench.sync_bench --rooms 200 --events 20
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time

from tests.api.rooms_helpers import User
from tests.bench.common import scratch_server, summary, timed


async def main(args: argparse.Namespace) -> None:
    async with scratch_server() as (_, client):
        user = await User.register(client, "reader")
        other = await User.register(client, "writer")
        started = time.perf_counter()
        for _ in range(args.rooms):
            room_id = await other.create_room(preset="public_chat")
            await user.join(room_id)
            await asyncio.gather(*(other.send(room_id, f"m{n}") for n in range(args.events)))
        print(
            f"set up {args.rooms} rooms x {args.events} events in "
            f"{time.perf_counter() - started:.1f} s; load {os.getloadavg()}"
        )
        initial: list[float] = []
        token = ""
        for _ in range(args.repeat):
            response = await timed(initial, user.call("GET", "/sync"))
            assert len(response.body["rooms"]["join"]) == args.rooms
            token = response.body["next_batch"]
        print(summary(f"initial sync, {args.rooms} rooms", initial))
        print("  samples (ms):", [round(s * 1000) for s in initial])
        empty: list[float] = []
        cpu_before = time.process_time()
        for _ in range(args.empty):
            response = await timed(
                empty, user.call("GET", "/sync", params={"since": token, "timeout": "0"})
            )
            assert response.body["rooms"]["join"] == {}
        cpu = (time.process_time() - cpu_before) / args.empty
        print(summary(f"empty incremental sync, {args.rooms} rooms", empty))
        print(f"  process CPU per empty sync (server and client together): {cpu * 1000:.2f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--empty", type=int, default=200)
    asyncio.run(main(parser.parse_args()))
