"""/sync scenarios: joins after a token, rejoins, profile changes, lazy loading, forgetting,
tokens from before a restart and long-polls woken by each stream."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.api.harness import Client, make_config, start_server
from tests.api.rooms_helpers import User, users_in_public_room
from tests.api.test_sync import bodies, sync


def state_types(room: dict[str, Any]) -> set[str]:
    return {e["type"] for e in room["state"]["events"]}


def member_keys(room: dict[str, Any]) -> set[str]:
    return {e["state_key"] for e in room["state"]["events"] if e["type"] == "m.room.member"}


async def test_room_joined_after_the_token_comes_with_its_state(client: Client) -> None:
    alice = await User.register(client, "alice")
    bob = await User.register(client, "bob")
    room_id = await alice.create_room(preset="public_chat", name="Lobby", topic="hi")
    for n in range(12):
        await alice.send(room_id, f"m{n}")
    token = (await sync(bob))["next_batch"]
    await bob.join(room_id)
    room = (await sync(bob, since=token))["rooms"]["join"][room_id]
    assert room["timeline"]["limited"] is True
    timeline_types = {e["type"] for e in room["timeline"]["events"]}
    assert {"m.room.create", "m.room.name", "m.room.topic"} <= state_types(room) | timeline_types
    assert room["summary"]["m.joined_member_count"] == 2


async def test_profile_change_is_an_incremental_update(client: Client) -> None:
    alice = await User.register(client, "alice")
    room_id = await alice.create_room(name="Mine")
    token = (await sync(alice))["next_batch"]
    changed = await alice.call(
        "PUT", f"/profile/{alice.user_id}/displayname", {"displayname": "Alice"}
    )
    assert changed.status == 200
    room = (await sync(alice, since=token))["rooms"]["join"][room_id]
    assert room["timeline"]["limited"] is False
    assert room["state"]["events"] == []
    [member] = room["timeline"]["events"]
    assert member["content"]["displayname"] == "Alice"


async def test_leave_then_rejoin(client: Client) -> None:
    alice = await User.register(client, "alice")
    bob = await User.register(client, "bob")
    room_id = await alice.create_room(preset="public_chat", name="Door")
    await bob.join(room_id)
    token = (await sync(bob))["next_batch"]
    left = await bob.call("POST", f"/rooms/{room_id}/leave", {})
    assert left.status == 200
    after_leave = await sync(bob, since=token)
    assert room_id in after_leave["rooms"]["leave"]
    assert room_id not in after_leave["rooms"]["join"]
    await alice.send(room_id, "while bob was away")
    await bob.join(room_id)
    back = await sync(bob, since=after_leave["next_batch"])
    room = back["rooms"]["join"][room_id]
    assert room_id not in back["rooms"]["leave"]
    assert "while bob was away" in bodies(room)
    timeline_types = {e["type"] for e in room["timeline"]["events"]}
    assert "m.room.name" in state_types(room) | timeline_types


async def test_lazy_loaded_members_are_the_timeline_senders(client: Client) -> None:
    (alice, bob, carol), room_id = await users_in_public_room(client, "alice", "bob", "carol")
    for n in range(5):
        await bob.send(room_id, f"b{n}")
    lazy = json.dumps({"room": {"state": {"lazy_load_members": True}, "timeline": {"limit": 3}}})
    room = (await sync(alice, filter=lazy))["rooms"]["join"][room_id]
    assert member_keys(room) == {alice.user_id, bob.user_id}
    full = (await sync(alice, filter=json.dumps({"room": {"timeline": {"limit": 3}}})))["rooms"]
    assert member_keys(full["join"][room_id]) == {alice.user_id, bob.user_id, carol.user_id}


async def test_forgotten_room_leaves_the_leave_section(client: Client) -> None:
    (_alice, bob), room_id = await users_in_public_room(client, "alice", "bob")
    include_leave = json.dumps({"room": {"include_leave": True}})
    await sync(bob, filter=include_leave)
    await bob.call("POST", f"/rooms/{room_id}/leave", {})
    assert room_id in (await sync(bob, filter=include_leave))["rooms"]["leave"]
    forgot = await bob.call("POST", f"/rooms/{room_id}/forget", {})
    assert forgot.status == 200
    assert room_id not in (await sync(bob, filter=include_leave))["rooms"]["leave"]


async def test_token_from_before_a_restart_keeps_working(
    database_url: str, tmp_path: Path, client: Client
) -> None:
    alice = await User.register(client, "alice")
    room_id = await alice.create_room()
    token = (await sync(alice))["next_batch"]
    await alice.send(room_id, "before the restart")
    other = await start_server(make_config(database_url, tmp_path))
    try:
        alice.client.base_url = f"http://127.0.0.1:{other.port}"
        after = await sync(alice, since=token)
        assert bodies(after["rooms"]["join"][room_id]) == ["before the restart"]
        empty = await sync(alice, since=after["next_batch"])
        assert empty["rooms"]["join"] == {}
    finally:
        await other.stop()


async def _woken_by(
    user: User, action: Callable[[], Awaitable[object]], token: str
) -> tuple[dict[str, Any], float]:
    async def later() -> None:
        await asyncio.sleep(0.2)
        await action()

    started = time.monotonic()
    task = asyncio.create_task(later())
    body = await sync(user, since=token, timeout=10_000)
    await task
    return body, time.monotonic() - started


@pytest.mark.parametrize(
    "stream", ["message", "account_data", "room_account_data", "receipt", "typing", "to_device"]
)
async def test_long_poll_wakes_on_each_stream(client: Client, stream: str) -> None:
    (alice, bob), room_id = await users_in_public_room(client, "alice", "bob")
    event_id = (await alice.send(room_id, "x")).body["event_id"]
    token = (await sync(bob))["next_batch"]
    actions: dict[str, Callable[[], Awaitable[object]]] = {
        "message": lambda: alice.send(room_id, "wake"),
        "account_data": lambda: bob.call(
            "PUT", f"/user/{bob.user_id}/account_data/org.example", {"n": 1}
        ),
        "room_account_data": lambda: bob.call(
            "PUT", f"/user/{bob.user_id}/rooms/{room_id}/account_data/org.example", {"n": 1}
        ),
        "receipt": lambda: alice.call("POST", f"/rooms/{room_id}/receipt/m.read/{event_id}", {}),
        "typing": lambda: alice.call(
            "PUT", f"/rooms/{room_id}/typing/{alice.user_id}", {"typing": True}
        ),
        "to_device": lambda: alice.call(
            "PUT", "/sendToDevice/m.test/1", {"messages": {bob.user_id: {"*": {"n": 1}}}}
        ),
    }
    body, elapsed = await _woken_by(bob, actions[stream], token)
    assert elapsed < 3, stream
    joined = body["rooms"]["join"].get(room_id, {})
    delivered = {
        "message": lambda: bodies(joined) == ["wake"],
        "account_data": lambda: (
            body["account_data"]["events"] == [{"type": "org.example", "content": {"n": 1}}]
        ),
        "room_account_data": lambda: (
            joined["account_data"]["events"] == [{"type": "org.example", "content": {"n": 1}}]
        ),
        "receipt": lambda: joined["ephemeral"]["events"][0]["type"] == "m.receipt",
        "typing": lambda: (
            joined["ephemeral"]["events"]
            == [{"type": "m.typing", "content": {"user_ids": [alice.user_id]}}]
        ),
        "to_device": lambda: (
            body["to_device"]["events"]
            == [{"sender": alice.user_id, "type": "m.test", "content": {"n": 1}}]
        ),
    }
    assert delivered[stream](), body


async def test_long_poll_wakes_on_presence(client: Client) -> None:
    (alice, bob), _room_id = await users_in_public_room(client, "alice", "bob")
    token = (await sync(bob))["next_batch"]
    body, elapsed = await _woken_by(
        bob,
        lambda: alice.call("PUT", f"/presence/{alice.user_id}/status", {"presence": "unavailable"}),
        token,
    )
    assert elapsed < 3
    senders = {e["sender"]: e["content"]["presence"] for e in body["presence"]["events"]}
    assert senders.get(alice.user_id) == "unavailable"


async def test_summary_is_sent_when_members_change(client: Client) -> None:
    (alice, bob), room_id = await users_in_public_room(client, "alice", "bob")
    first = await sync(alice)
    assert first["rooms"]["join"][room_id]["summary"]["m.joined_member_count"] == 2
    await bob.send(room_id, "no membership change")
    quiet = await sync(alice, since=first["next_batch"])
    assert quiet["rooms"]["join"][room_id]["summary"] == {}
    carol = await User.register(client, "carol")
    await carol.join(room_id)
    joined = await sync(alice, since=quiet["next_batch"])
    summary = joined["rooms"]["join"][room_id]["summary"]
    assert summary["m.joined_member_count"] == 3
    assert set(summary["m.heroes"]) == {bob.user_id, carol.user_id}


async def test_redaction_reaches_a_replayed_token(client: Client) -> None:
    (alice, bob), room_id = await users_in_public_room(client, "alice", "bob")
    token = (await sync(bob))["next_batch"]
    event_id = (await alice.send(room_id, "oops")).body["event_id"]
    assert bodies((await sync(bob, since=token))["rooms"]["join"][room_id]) == ["oops"]
    redacted = await alice.call("PUT", f"/rooms/{room_id}/redact/{event_id}/r1", {})
    assert redacted.status == 200
    again = (await sync(bob, since=token))["rooms"]["join"][room_id]["timeline"]["events"]
    original = next(e for e in again if e["event_id"] == event_id)
    assert original["content"] == {}
    assert any(e["type"] == "m.room.redaction" for e in again)


async def test_timeline_limits_count_only_what_the_filter_lets_through(client: Client) -> None:
    alice = await User.register(client, "alice")
    room_id = await alice.create_room()
    first = (await alice.send(room_id, "the message")).body["event_id"]
    for n in range(12):
        filler = await alice.call("PUT", f"/rooms/{room_id}/send/org.example.filler/f{n}", {"n": n})
        assert filler.status == 200
    only_messages = json.dumps({"room": {"timeline": {"types": ["m.room.message"], "limit": 1}}})
    room = (await sync(alice, filter=only_messages))["rooms"]["join"][room_id]
    assert [e["event_id"] for e in room["timeline"]["events"]] == [first]
    assert room["timeline"]["limited"] is False
    everything = json.dumps({"room": {"timeline": {"limit": 100}}})
    room = (await sync(alice, filter=everything))["rooms"]["join"][room_id]
    assert room["timeline"]["limited"] is False
    assert room["timeline"]["events"][0]["type"] == "m.room.create"
    no_timeline = json.dumps({"room": {"timeline": {"limit": 0}}})
    room = (await sync(alice, filter=no_timeline))["rooms"]["join"][room_id]
    assert room["timeline"]["events"] == [] and room["timeline"]["limited"] is True
    assert "m.room.create" in state_types(room)


async def test_heroes_only_for_rooms_without_a_name(client: Client) -> None:
    (alice, bob), room_id = await users_in_public_room(client, "alice", "bob")
    summary = (await sync(alice))["rooms"]["join"][room_id]["summary"]
    assert summary["m.heroes"] == [bob.user_id]
    await alice.call("PUT", f"/rooms/{room_id}/state/m.room.name", {"name": "Named"})
    named = (await sync(alice))["rooms"]["join"][room_id]["summary"]
    assert "m.heroes" not in named and named["m.joined_member_count"] == 2


async def test_repeating_state_or_a_join_makes_no_new_event(client: Client) -> None:
    (alice, bob), room_id = await users_in_public_room(client, "alice", "bob")
    path = f"/rooms/{room_id}/state/m.room.topic"
    first = await alice.call("PUT", path, {"topic": "same"})
    again = await alice.call("PUT", path, {"topic": "same"})
    assert first.body["event_id"] == again.body["event_id"]
    changed = await alice.call("PUT", path, {"topic": "other"})
    assert changed.body["event_id"] != first.body["event_id"]
    token = (await sync(bob))["next_batch"]
    assert (await bob.join(room_id)).status == 200
    assert room_id not in (await sync(bob, since=token))["rooms"]["join"]


async def test_send_without_a_transaction_id(client: Client) -> None:
    alice = await User.register(client, "alice")
    room_id = await alice.create_room()
    content = {"msgtype": "m.text", "body": "legacy"}
    one = await alice.call("POST", f"/rooms/{room_id}/send/m.room.message", content)
    two = await alice.call("POST", f"/rooms/{room_id}/send/m.room.message", content)
    assert one.status == two.status == 200
    assert one.body["event_id"] != two.body["event_id"]


async def _syncer_away_while_invitee_joins(client: Client) -> tuple[User, User, User, str, str]:
    """A joined-only-history room the syncer left (holding a token from before) while an
    invitee joined: what happened meanwhile is hidden from the syncer."""
    (creator, syncer), room_id = await users_in_public_room(client, "creator", "syncer")
    invitee = await User.register(client, "invitee")
    await creator.call(
        "PUT", f"/rooms/{room_id}/state/m.room.history_visibility", {"history_visibility": "joined"}
    )
    token = (await sync(syncer))["next_batch"]
    await syncer.call("POST", f"/rooms/{room_id}/leave", {})
    assert (await invitee.join(room_id)).status == 200
    return creator, syncer, invitee, room_id, token


async def test_current_state_from_an_unseen_time_is_in_the_timeline(client: Client) -> None:
    _creator, syncer, invitee, room_id, token = await _syncer_away_while_invitee_joins(client)
    assert (await syncer.join(room_id)).status == 200
    room = (await sync(syncer, since=token))["rooms"]["join"][room_id]
    joins = [
        e
        for e in room["timeline"]["events"] + room["state"]["events"]
        if e["type"] == "m.room.member" and e["state_key"] == invitee.user_id
    ]
    assert joins and joins[0]["content"]["membership"] == "join"


async def test_a_room_whose_changes_are_all_filtered_out_is_left_out(client: Client) -> None:
    alice = await User.register(client, "alice")
    room_id = await alice.create_room()
    nothing = json.dumps({"room": {"timeline": {"types": []}, "state": {"types": []}}})
    token = (await sync(alice, filter=nothing))["next_batch"]
    await alice.send(room_id, "filtered out")
    assert (await sync(alice, since=token, filter=nothing))["rooms"]["join"] == {}


async def test_join_and_leave_between_syncs_bring_the_full_state(client: Client) -> None:
    alice = await User.register(client, "alice")
    bob = await User.register(client, "bob")
    room_id = await alice.create_room(preset="public_chat", name="Visited")
    token = (await sync(bob))["next_batch"]
    await bob.join(room_id)
    await bob.call("POST", f"/rooms/{room_id}/leave", {})
    left = (await sync(bob, since=token))["rooms"]["leave"][room_id]
    seen = state_types(left) | {e["type"] for e in left["timeline"]["events"]}
    assert {"m.room.create", "m.room.name"} <= seen


async def test_a_newly_joined_room_brings_its_members_presence(client: Client) -> None:
    alice = await User.register(client, "alice")
    bob = await User.register(client, "bob")
    room_id = await alice.create_room(preset="public_chat")
    await alice.call("PUT", f"/presence/{alice.user_id}/status", {"presence": "online"})
    token = (await sync(bob))["next_batch"]
    await bob.join(room_id)
    body = await sync(bob, since=token)
    assert alice.user_id in {e["sender"] for e in body["presence"]["events"]}


async def test_lazy_members_arrive_once_when_their_senders_speak(client: Client) -> None:
    (alice, bob, carol), room_id = await users_in_public_room(client, "alice", "bob", "carol")
    for n in range(3):
        await bob.send(room_id, f"filler {n}")
    lazy: dict[str, Any] = {
        "room": {"state": {"lazy_load_members": True}, "timeline": {"limit": 2}}
    }
    first = await sync(alice, filter=json.dumps(lazy))
    assert carol.user_id not in member_keys(first["rooms"]["join"][room_id])
    await carol.send(room_id, "hello")
    spoke = await sync(alice, since=first["next_batch"], filter=json.dumps(lazy))
    assert member_keys(spoke["rooms"]["join"][room_id]) == {carol.user_id}
    assert spoke["rooms"]["join"][room_id]["summary"] == {}, "nobody joined or left"
    await carol.send(room_id, "again")
    again = await sync(alice, since=spoke["next_batch"], filter=json.dumps(lazy))
    assert member_keys(again["rooms"]["join"][room_id]) == set()
    lazy["room"]["state"]["include_redundant_members"] = True
    await carol.send(room_id, "and again")
    redundant = await sync(alice, since=again["next_batch"], filter=json.dumps(lazy))
    # Redundant members are the senders', never the syncing user's own.
    assert member_keys(redundant["rooms"]["join"][room_id]) == {carol.user_id}


async def test_redundant_members_are_the_current_ones_after_a_profile_change(
    client: Client,
) -> None:
    (alice, bob), room_id = await users_in_public_room(client, "alice", "bob")
    lazy = json.dumps(
        {"room": {"state": {"lazy_load_members": True, "include_redundant_members": True}}}
    )

    def members(body: dict[str, Any]) -> list[dict[str, Any]]:
        events = body["rooms"]["join"][room_id]["state"]["events"]
        return [e for e in events if e["type"] == "m.room.member"]

    token = (await sync(alice, filter=lazy))["next_batch"]
    await bob.send(room_id, "before")
    before = await sync(alice, since=token, filter=lazy)
    renamed = await bob.call("PUT", f"/profile/{bob.user_id}/displayname", {"displayname": "B2"})
    assert renamed.status == 200
    await bob.send(room_id, "after")
    after = await sync(alice, since=before["next_batch"], filter=lazy)
    # The new member event is in this timeline; the one it replaced must not come as state.
    assert [e["event_id"] for e in members(after)] == []
    await bob.send(room_id, "again")
    again = await sync(alice, since=after["next_batch"], filter=lazy)
    assert [e["content"].get("displayname") for e in members(again)] == ["B2"]


async def test_the_state_filter_applies_to_left_rooms(client: Client) -> None:
    alice = await User.register(client, "alice")
    bob = await User.register(client, "bob")
    room_id = await alice.create_room(preset="public_chat", name="Filtered")
    token = (await sync(bob))["next_batch"]
    await bob.join(room_id)
    await bob.call("POST", f"/rooms/{room_id}/leave", {})
    only_names = json.dumps({"room": {"state": {"types": ["m.room.name"]}}})
    left = (await sync(bob, since=token, filter=only_names))["rooms"]["leave"][room_id]
    assert state_types(left) == {"m.room.name"}


async def test_hidden_history_does_not_crowd_out_the_timeline(client: Client) -> None:
    creator, syncer, invitee, room_id, token = await _syncer_away_while_invitee_joins(client)
    for n in range(15):
        await creator.send(room_id, f"while away {n}")
    assert (await syncer.join(room_id)).status == 200
    room = (await sync(syncer, since=token))["rooms"]["join"][room_id]
    timeline = room["timeline"]["events"]
    assert not any(e["content"].get("body", "").startswith("while away") for e in timeline)
    assert any(e["type"] == "m.room.member" and e["state_key"] == invitee.user_id for e in timeline)
    assert len(timeline) > 2
