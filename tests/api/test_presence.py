"""Presence: setting, reading, delivery to room-mates, and the privacy switch."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiohttp

from tests.api.harness import Client, make_config, start_server
from tests.api.rooms_helpers import User, users_in_public_room


async def test_presence_set_get_and_sync(client: Client) -> None:
    (alice, bob), _room_id = await users_in_public_room(client, "alice", "bob")
    carol = await User.register(client, "carol")
    token = (await bob.call("GET", "/sync")).body["next_batch"]
    put = await alice.call(
        "PUT",
        f"/presence/{alice.user_id}/status",
        {"presence": "unavailable", "status_msg": "lunch"},
    )
    assert put.status == 200
    seen = await bob.call("GET", f"/presence/{alice.user_id}/status")
    assert seen.body["presence"] == "unavailable"
    assert seen.body["status_msg"] == "lunch"
    assert seen.body["last_active_ago"] >= 0
    synced = await bob.call("GET", "/sync", params={"since": token})
    events = [e for e in synced.body["presence"]["events"] if e["sender"] == alice.user_id]
    assert events and events[-1]["content"]["presence"] == "unavailable"
    stranger = await carol.call("GET", f"/presence/{alice.user_id}/status")
    assert (stranger.status, stranger.errcode) == (403, "M_FORBIDDEN")
    other = await bob.call("PUT", f"/presence/{alice.user_id}/status", {"presence": "online"})
    assert other.status == 403
    bad = await alice.call("PUT", f"/presence/{alice.user_id}/status", {"presence": "asleep"})
    assert bad.status == 400
    unknown = await alice.call("GET", "/presence/@ghost:test.local/status")
    assert unknown.status == 404


async def test_sync_sets_online(client: Client) -> None:
    alice = await User.register(client, "alice")
    await alice.call("GET", "/sync")
    own = await alice.call("GET", f"/presence/{alice.user_id}/status")
    assert own.body["presence"] == "online" and own.body["currently_active"] is True
    await alice.call("GET", "/sync", params={"set_presence": "offline"})
    assert (await alice.call("GET", f"/presence/{alice.user_id}/status")).body[
        "presence"
    ] == "offline"


async def test_privacy_switch_hides_presence(client: Client) -> None:
    (alice, bob), _room_id = await users_in_public_room(client, "alice", "bob")
    await alice.call(
        "PUT",
        f"/user/{alice.user_id}/account_data/org.homeserver.presence",
        {"share_presence": False},
    )
    await alice.call(
        "PUT", f"/presence/{alice.user_id}/status", {"presence": "online", "status_msg": "hi"}
    )
    seen = await bob.call("GET", f"/presence/{alice.user_id}/status")
    assert seen.body == {"presence": "offline"}
    own = await alice.call("GET", f"/presence/{alice.user_id}/status")
    assert own.body["presence"] == "online" and own.body["status_msg"] == "hi"
    synced = await bob.call("GET", "/sync")
    for event in synced.body["presence"]["events"]:
        if event["sender"] == alice.user_id:
            assert event["content"] == {"presence": "offline"}


async def test_presence_wakes_small_rooms_and_rides_along_in_large_ones(
    database_url: str, tmp_path: Path
) -> None:
    """A change wakes those waiting in a room where few wait at once; where more wait, each
    gets it when its long-poll ends, in the response that ends it."""
    server = await start_server(
        make_config(database_url, tmp_path, presence={"wake_room_waiting_limit": 1})
    )
    async with aiohttp.ClientSession() as session:
        client = Client(session, f"http://127.0.0.1:{server.port}")
        try:
            (alice, bob, carol), _large = await users_in_public_room(
                client, "alice", "bob", "carol"
            )
            dave = await User.register(client, "dave")
            dm = await alice.create_room(invite=[dave.user_id], is_direct=True)
            assert (await dave.join(dm)).status == 200
            for user in (carol, alice, dave, bob):
                await user.call("GET", "/sync")
            tokens = {
                u.user_id: (await u.call("GET", "/sync")).body["next_batch"]
                for u in (bob, carol, dave)
            }

            async def long_poll(user: User, timeout_ms: int) -> tuple[float, list[str]]:
                started = time.monotonic()
                synced = await user.call(
                    "GET",
                    "/sync",
                    params={"since": tokens[user.user_id], "timeout": str(timeout_ms)},
                )
                senders = [
                    e["sender"]
                    for e in synced.body["presence"]["events"]
                    if e["content"]["presence"] == "unavailable"
                ]
                return time.monotonic() - started, senders

            # Two wait in the large room, more than the limit; one in the DM.
            polls = [asyncio.create_task(long_poll(u, 3000)) for u in (bob, carol, dave)]
            await asyncio.sleep(0.3)
            put = await alice.call(
                "PUT", f"/presence/{alice.user_id}/status", {"presence": "unavailable"}
            )
            assert put.status == 200
            (bob_took, bob_saw), _, (dave_took, dave_saw) = await asyncio.gather(*polls)
        finally:
            await server.stop()
    assert dave_saw == [alice.user_id] and dave_took < 2.0
    assert bob_saw == [alice.user_id] and bob_took >= 2.5
