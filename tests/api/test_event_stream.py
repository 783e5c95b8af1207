"""GET /events: the peeking API with room_id, and the deprecated form without."""

from __future__ import annotations

import asyncio

from tests.api.harness import Client
from tests.api.rooms_helpers import User, users_in_public_room


async def test_events_after_a_token_long_polled(client: Client) -> None:
    (alice, bob), room_id = await users_in_public_room(client, "alice", "bob")
    start = await bob.call("GET", "/events", params={"timeout": "0"})
    assert start.status == 200 and start.body["chunk"] == []

    async def later() -> None:
        await asyncio.sleep(0.2)
        await alice.send(room_id, "streamed")

    sender = asyncio.create_task(later())
    got = await bob.call("GET", "/events", params={"from": start.body["end"], "timeout": "5000"})
    await sender
    messages = [e for e in got.body["chunk"] if e["type"] == "m.room.message"]
    assert [(e["room_id"], e["content"]["body"]) for e in messages] == [(room_id, "streamed")]
    again = await bob.call("GET", "/events", params={"from": got.body["end"], "timeout": "0"})
    assert again.body["chunk"] == []
    bad = await bob.call("GET", "/events", params={"from": "nonsense"})
    assert (bad.status, bad.errcode) == (400, "M_INVALID_PARAM")


async def test_peeking_needs_a_readable_room(client: Client) -> None:
    alice = await User.register(client, "alice")
    stranger = await User.register(client, "stranger")
    public = await alice.create_room(
        preset="public_chat",
        initial_state=[
            {
                "type": "m.room.history_visibility",
                "content": {"history_visibility": "world_readable"},
            }
        ],
    )
    private = await alice.create_room()
    start = (await stranger.call("GET", "/events", params={"room_id": public})).body["end"]
    await alice.send(public, "anyone may read")
    peeked = await stranger.call(
        "GET", "/events", params={"room_id": public, "from": start, "timeout": "1000"}
    )
    assert [e["content"].get("body") for e in peeked.body["chunk"]] == ["anyone may read"]
    refused = await stranger.call("GET", "/events", params={"room_id": private})
    assert (refused.status, refused.errcode) == (403, "M_FORBIDDEN")


async def test_tokens_and_numbers_too_large_for_the_database_are_refused(client: Client) -> None:
    alice = await User.register(client, "alice")
    room_id = await alice.create_room()
    huge = "9" * 25
    for path, params in (
        ("/sync", {"since": f"s{huge}"}),
        ("/events", {"from": f"s{huge}"}),
        (f"/rooms/{room_id}/messages", {"from": f"t{huge}-1"}),
        (f"/rooms/{room_id}/messages", {"from": f"s{huge}"}),
        ("/sync", {"timeout": huge}),
    ):
        response = await alice.call("GET", path, params=params)
        assert (response.status, response.errcode) == (400, "M_INVALID_PARAM"), (path, params)


async def test_a_huge_timeline_limit_is_capped(client: Client) -> None:
    alice = await User.register(client, "alice")
    room_id = await alice.create_room()
    filter_json = '{"room": {"timeline": {"limit": 10000000000000000000000}}}'
    response = await alice.call("GET", "/sync", params={"filter": filter_json})
    assert response.status == 200
    assert response.body["rooms"]["join"][room_id]["timeline"]["limited"] is False
