"""/sync: initial and incremental sections, long-polling, to-device, account data."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from tests.api.harness import Client
from tests.api.rooms_helpers import User, users_in_public_room


async def sync(user: User, **params: Any) -> dict[str, Any]:
    response = await user.call("GET", "/sync", params={k: str(v) for k, v in params.items()})
    assert response.status == 200, response.body
    return response.body


def bodies(room: dict[str, Any]) -> list[str]:
    return [
        e["content"]["body"] for e in room["timeline"]["events"] if e["type"] == "m.room.message"
    ]


async def test_initial_and_incremental(client: Client) -> None:
    alice = await User.register(client, "alice")
    bob = await User.register(client, "bob")
    room_id = await alice.create_room(preset="public_chat", name="Chat")
    await bob.join(room_id)
    await alice.send(room_id, "one")
    first = await sync(bob)
    room = first["rooms"]["join"][room_id]
    assert bodies(room) == ["one"]
    assert room["summary"]["m.joined_member_count"] == 2
    state_types = {e["type"] for e in room["state"]["events"]}
    timeline_types = {e["type"] for e in room["timeline"]["events"]}
    assert "m.room.create" in state_types | timeline_types
    assert all("room_id" not in e for e in room["timeline"]["events"])
    for key in ("account_data", "presence", "to_device", "device_lists"):
        assert key in first

    await alice.send(room_id, "two")
    second = await sync(bob, since=first["next_batch"])
    assert bodies(second["rooms"]["join"][room_id]) == ["two"]
    assert second["rooms"]["join"][room_id]["timeline"]["limited"] is False
    third = await sync(bob, since=second["next_batch"])
    assert third["rooms"]["join"] == {}


async def test_limited_timeline_and_prev_batch(client: Client) -> None:
    alice = await User.register(client, "alice")
    room_id = await alice.create_room()
    first = await sync(alice)
    for n in range(8):
        await alice.send(room_id, f"m{n}")
    await alice.call("PUT", f"/rooms/{room_id}/state/m.room.topic", {"topic": "t"})
    for n in range(8, 12):
        await alice.send(room_id, f"m{n}")
    limited = await sync(
        alice, since=first["next_batch"], filter=json.dumps({"room": {"timeline": {"limit": 3}}})
    )
    room = limited["rooms"]["join"][room_id]
    assert room["timeline"]["limited"] is True
    assert bodies(room) == ["m9", "m10", "m11"]
    assert [e["type"] for e in room["state"]["events"]] == ["m.room.topic"]
    older = await alice.messages(room_id, limit="2", **{"from": room["timeline"]["prev_batch"]})
    assert [e["content"].get("body", e["type"]) for e in older.body["chunk"]] == [
        "m8",
        "m.room.topic",
    ]


async def test_long_poll_wakes_on_message(client: Client) -> None:
    (alice, bob), room_id = await users_in_public_room(client, "alice", "bob")
    token = (await sync(bob))["next_batch"]

    async def later() -> None:
        await asyncio.sleep(0.3)
        await alice.send(room_id, "wake up")

    started = time.monotonic()
    sender = asyncio.create_task(later())
    woken = await sync(bob, since=token, timeout=10_000)
    await sender
    elapsed = time.monotonic() - started
    assert bodies(woken["rooms"]["join"][room_id]) == ["wake up"]
    assert elapsed < 5


async def test_long_poll_times_out_empty(client: Client) -> None:
    alice = await User.register(client, "alice")
    token = (await sync(alice))["next_batch"]
    started = time.monotonic()
    empty = await sync(alice, since=token, timeout=300)
    assert 0.25 < time.monotonic() - started < 5
    assert empty["rooms"]["join"] == {}
    assert empty["next_batch"]


async def test_invite_and_leave_sections(client: Client) -> None:
    alice = await User.register(client, "alice")
    bob = await User.register(client, "bob")
    token = (await sync(bob))["next_batch"]
    room_id = await alice.create_room(preset="private_chat", name="Secret", invite=[bob.user_id])
    invited = await sync(bob, since=token)
    invite_state = invited["rooms"]["invite"][room_id]["invite_state"]["events"]
    assert {"m.room.name", "m.room.member", "m.room.create"} <= {e["type"] for e in invite_state}
    await bob.join(room_id)
    joined = await sync(bob, since=invited["next_batch"])
    assert room_id in joined["rooms"]["join"]
    await alice.call("POST", f"/rooms/{room_id}/kick", {"user_id": bob.user_id, "reason": "bye"})
    left = await sync(bob, since=joined["next_batch"])
    leave = left["rooms"]["leave"][room_id]
    last = leave["timeline"]["events"][-1]
    assert (last["type"], last["content"]["membership"]) == ("m.room.member", "leave")
    await alice.send(room_id, "after bob left")
    later = await sync(bob, since=left["next_batch"])
    assert room_id not in later["rooms"]["join"] and room_id not in later["rooms"]["leave"]


async def test_to_device_delivered_once(client: Client) -> None:
    alice = await User.register(client, "alice")
    bob = await User.register(client, "bob")
    token = (await sync(bob))["next_batch"]
    await alice.call(
        "PUT", "/sendToDevice/m.test/1", {"messages": {bob.user_id: {"*": {"hello": 1}}}}
    )
    got = await sync(bob, since=token)
    assert got["to_device"]["events"] == [
        {"sender": alice.user_id, "type": "m.test", "content": {"hello": 1}}
    ]
    again = await sync(bob, since=got["next_batch"])
    assert again["to_device"]["events"] == []
    # A retry with the old token after acknowledgement gets nothing twice.
    replay = await sync(bob, since=got["next_batch"])
    assert replay["to_device"]["events"] == []


async def test_account_data_in_sync(client: Client) -> None:
    alice = await User.register(client, "alice")
    room_id = await alice.create_room()
    token = (await sync(alice))["next_batch"]
    await alice.call("PUT", f"/user/{alice.user_id}/account_data/org.example", {"a": 1})
    await alice.call("PUT", f"/user/{alice.user_id}/rooms/{room_id}/tags/u.work", {})
    got = await sync(alice, since=token)
    assert got["account_data"]["events"] == [{"type": "org.example", "content": {"a": 1}}]
    room_data = got["rooms"]["join"][room_id]["account_data"]["events"]
    assert room_data == [{"type": "m.tag", "content": {"tags": {"u.work": {}}}}]


async def test_sync_filters_and_bad_params(client: Client) -> None:
    alice = await User.register(client, "alice")
    room_id = await alice.create_room()
    await alice.send(room_id, "x")
    uploaded = await alice.call(
        "POST",
        f"/user/{alice.user_id}/filter",
        {"room": {"timeline": {"types": ["m.room.message"]}}},
    )
    filtered = await sync(alice, filter=uploaded.body["filter_id"])
    types = {e["type"] for e in filtered["rooms"]["join"][room_id]["timeline"]["events"]}
    assert types == {"m.room.message"}
    fields = await sync(alice, filter=json.dumps({"event_fields": ["type"]}))
    assert all(set(e) == {"type"} for e in fields["rooms"]["join"][room_id]["timeline"]["events"])
    for params in (
        {"since": "bogus"},
        {"timeout": "soon"},
        {"filter": "{bad"},
        {"set_presence": "x"},
    ):
        response = await alice.call("GET", "/sync", params=params)
        assert response.status == 400, params
    missing = await alice.call("GET", "/sync", params={"filter": "999"})
    assert missing.status == 404


async def test_typing_in_sync(client: Client) -> None:
    (alice, bob), room_id = await users_in_public_room(client, "alice", "bob")
    token = (await sync(bob))["next_batch"]
    typing = await alice.call(
        "PUT", f"/rooms/{room_id}/typing/{alice.user_id}", {"typing": True, "timeout": 300}
    )
    assert typing.status == 200
    got = await sync(bob, since=token)
    events = got["rooms"]["join"][room_id]["ephemeral"]["events"]
    assert events == [{"type": "m.typing", "content": {"user_ids": [alice.user_id]}}]
    # The timeout ends the typing and wakes the long-poll.
    expired = await sync(bob, since=got["next_batch"], timeout=5000)
    events = expired["rooms"]["join"][room_id]["ephemeral"]["events"]
    assert events == [{"type": "m.typing", "content": {"user_ids": []}}]
    other = await alice.call("PUT", f"/rooms/{room_id}/typing/{bob.user_id}", {"typing": True})
    assert other.status == 403


async def test_receipts_public_and_private(client: Client) -> None:
    (alice, bob), room_id = await users_in_public_room(client, "alice", "bob")
    event_id = (await alice.send(room_id, "read me")).body["event_id"]
    alice_token = (await sync(alice))["next_batch"]
    bob_token = (await sync(bob))["next_batch"]
    public = await bob.call("POST", f"/rooms/{room_id}/receipt/m.read/{event_id}", {})
    assert public.status == 200
    private = await bob.call(
        "POST", f"/rooms/{room_id}/receipt/m.read.private/{event_id}", {"thread_id": "main"}
    )
    assert private.status == 200
    seen_by_alice = await sync(alice, since=alice_token)
    receipt = seen_by_alice["rooms"]["join"][room_id]["ephemeral"]["events"][0]
    assert receipt["type"] == "m.receipt"
    assert set(receipt["content"][event_id]) == {"m.read"}
    assert bob.user_id in receipt["content"][event_id]["m.read"]
    seen_by_bob = await sync(bob, since=bob_token)
    own = seen_by_bob["rooms"]["join"][room_id]["ephemeral"]["events"][0]["content"][event_id]
    assert set(own) == {"m.read", "m.read.private"}
    assert own["m.read.private"][bob.user_id]["thread_id"] == "main"
    unknown = await bob.call("POST", f"/rooms/{room_id}/receipt/m.read/$nope", {})
    assert unknown.status == 404
    bad_type = await bob.call("POST", f"/rooms/{room_id}/receipt/m.bogus/{event_id}", {})
    assert bad_type.status == 400


async def test_read_markers(client: Client) -> None:
    alice = await User.register(client, "alice")
    room_id = await alice.create_room()
    event_id = (await alice.send(room_id, "x")).body["event_id"]
    token = (await sync(alice))["next_batch"]
    marked = await alice.call(
        "POST", f"/rooms/{room_id}/read_markers", {"m.fully_read": event_id, "m.read": event_id}
    )
    assert marked.status == 200
    got = await sync(alice, since=token)
    room = got["rooms"]["join"][room_id]
    assert {"type": "m.fully_read", "content": {"event_id": event_id}} in room["account_data"][
        "events"
    ]
    assert room["ephemeral"]["events"][0]["type"] == "m.receipt"


async def test_federation_event_format_carries_the_event_id(client: Client) -> None:
    alice = await User.register(client, "alice")
    room_id = await alice.create_room()
    sent = await alice.send(room_id, "raw")
    body = await sync(
        alice, filter=json.dumps({"event_format": "federation", "room": {"timeline": {"limit": 1}}})
    )
    (event,) = body["rooms"]["join"][room_id]["timeline"]["events"]
    # The PDU's own fields, and its ID, which room versions from 3 on derive from the hashes.
    assert event["event_id"] == sent.body["event_id"]
    assert event["room_id"] == room_id
    assert {"prev_events", "auth_events", "depth", "hashes", "signatures"} <= set(event)
