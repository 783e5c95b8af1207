"""Rooms over the client API: creation, sending, state, history, redaction."""

from __future__ import annotations

import asyncio

import pytest

from homeserver.app import Homeserver
from tests.api.harness import Client, make_config, start_server
from tests.api.rooms_helpers import User


async def test_create_room_events_in_spec_order(client: Client) -> None:
    alice = await User.register(client, "alice")
    bob = await User.register(client, "bob")
    room_id = await alice.create_room(
        preset="public_chat",
        name="Room",
        topic="Talk",
        room_alias_name="lobby",
        invite=[bob.user_id],
        initial_state=[
            {"type": "m.room.encryption", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}
        ],
    )
    page = await alice.messages(room_id, dir="f", limit="50")
    types = [(e["type"], e.get("state_key")) for e in page.body["chunk"]]
    assert types == [
        ("m.room.create", ""),
        ("m.room.member", alice.user_id),
        ("m.room.power_levels", ""),
        ("m.room.canonical_alias", ""),
        ("m.room.join_rules", ""),
        ("m.room.history_visibility", ""),
        ("m.room.guest_access", ""),
        ("m.room.encryption", ""),
        ("m.room.name", ""),
        ("m.room.topic", ""),
        ("m.room.member", bob.user_id),
    ]
    chunk = page.body["chunk"]
    assert chunk[0]["content"]["room_version"] == "10"
    assert chunk[1]["content"] == {"membership": "join", "displayname": "alice"}
    assert chunk[4]["content"] == {"join_rule": "public"}
    assert chunk[10]["content"]["membership"] == "invite"
    resolved = await alice.call("GET", "/directory/room/%23lobby:test.local")
    assert resolved.body == {"room_id": room_id, "servers": ["test.local"]}


@pytest.mark.parametrize("version", [str(v) for v in range(1, 13)])
async def test_every_room_version(client: Client, version: str) -> None:
    alice = await User.register(client, "alice")
    bob = await User.register(client, "bob")
    room_id = await alice.create_room(room_version=version, preset="public_chat")
    assert (await bob.join(room_id)).status == 200
    assert (await bob.send(room_id)).status == 200
    create = await alice.call("GET", f"/rooms/{room_id}/state/m.room.create")
    assert create.body["room_version"] == version
    if version == "12":
        levels = await alice.call("GET", f"/rooms/{room_id}/state/m.room.power_levels")
        assert alice.user_id not in levels.body["users"]


async def test_unsupported_room_version(client: Client) -> None:
    alice = await User.register(client, "alice")
    response = await alice.call("POST", "/createRoom", {"room_version": "99"})
    assert (response.status, response.errcode) == (400, "M_UNSUPPORTED_ROOM_VERSION")


async def test_alias_in_use(client: Client) -> None:
    alice = await User.register(client, "alice")
    await alice.create_room(room_alias_name="taken")
    response = await alice.call("POST", "/createRoom", {"room_alias_name": "taken"})
    assert (response.status, response.errcode) == (400, "M_ROOM_IN_USE")


async def test_send_is_idempotent_per_txn_and_survives_restart(
    database_url: str,
    tmp_path,
    client: Client,
    server: Homeserver,
) -> None:
    alice = await User.register(client, "alice")
    room_id = await alice.create_room()
    path = f"/rooms/{room_id}/send/m.room.message/fixed-txn"
    first = await alice.call("PUT", path, {"msgtype": "m.text", "body": "once"})
    again = await alice.call("PUT", path, {"msgtype": "m.text", "body": "once"})
    assert first.status == 200 and first.body == again.body
    other = await start_server(make_config(database_url, tmp_path))
    try:
        alice.client.base_url = f"http://127.0.0.1:{other.port}"
        after_restart = await alice.call("PUT", path, {"msgtype": "m.text", "body": "once"})
    finally:
        await other.stop()
    assert after_restart.body == first.body


async def test_messages_pagination_both_ways(client: Client) -> None:
    alice = await User.register(client, "alice")
    room_id = await alice.create_room()
    for n in range(15):
        assert (await alice.send(room_id, f"m{n}")).status == 200
    page = await alice.messages(room_id, dir="b", limit="5", filter='{"types":["m.room.message"]}')
    bodies = [e["content"]["body"] for e in page.body["chunk"]]
    assert bodies == ["m14", "m13", "m12", "m11", "m10"]
    older = await alice.messages(
        room_id,
        dir="b",
        limit="5",
        **{"from": page.body["end"]},
        filter='{"types":["m.room.message"]}',
    )
    assert [e["content"]["body"] for e in older.body["chunk"]] == ["m9", "m8", "m7", "m6", "m5"]
    forward = await alice.messages(
        room_id,
        dir="f",
        limit="3",
        **{"from": older.body["end"]},
        filter='{"types":["m.room.message"]}',
    )
    assert [e["content"]["body"] for e in forward.body["chunk"]] == ["m5", "m6", "m7"]
    tail = await alice.messages(room_id, dir="f", limit="100")
    assert tail.body["chunk"][-1]["content"]["body"] == "m14"
    beyond = await alice.messages(room_id, dir="f", **{"from": tail.body["end"]})
    assert beyond.body["chunk"] == [] and "end" not in beyond.body
    not_mine = await alice.messages(room_id, filter='{"not_senders":["@alice:test.local"]}')
    assert not_mine.body["chunk"] == []


async def test_messages_bad_params(client: Client) -> None:
    alice = await User.register(client, "alice")
    room_id = await alice.create_room()
    for params in ({"dir": "x"}, {"from": "garbage"}, {"limit": "ten"}, {"filter": "{bad"}):
        response = await alice.messages(room_id, **params)
        assert response.status == 400, params


async def test_own_transaction_id_is_echoed(client: Client) -> None:
    alice = await User.register(client, "alice")
    room_id = await alice.create_room()
    sent = await alice.call("PUT", f"/rooms/{room_id}/send/m.room.message/abc", {"body": "x"})
    event = await alice.call("GET", f"/rooms/{room_id}/event/{sent.body['event_id']}")
    assert event.body["unsigned"]["transaction_id"] == "abc"
    assert event.body["content"] == {"body": "x"}


async def test_state_put_and_get(client: Client) -> None:
    alice = await User.register(client, "alice")
    bob = await User.register(client, "bob")
    room_id = await alice.create_room(preset="public_chat")
    put = await alice.call("PUT", f"/rooms/{room_id}/state/m.room.topic", {"topic": "T"})
    assert put.status == 200
    got = await alice.call("GET", f"/rooms/{room_id}/state/m.room.topic")
    assert got.body == {"topic": "T"}
    full = await alice.call(
        "GET", f"/rooms/{room_id}/state/m.room.topic/", params={"format": "event"}
    )
    assert full.body["event_id"] == put.body["event_id"]
    missing = await alice.call("GET", f"/rooms/{room_id}/state/m.room.avatar")
    assert (missing.status, missing.errcode) == (404, "M_NOT_FOUND")
    outsider = await bob.call("GET", f"/rooms/{room_id}/state")
    assert (outsider.status, outsider.errcode) == (403, "M_FORBIDDEN")
    await bob.join(room_id)
    forbidden = await bob.call("PUT", f"/rooms/{room_id}/state/m.room.topic", {"topic": "B"})
    assert (forbidden.status, forbidden.errcode) == (403, "M_FORBIDDEN")
    assert "power level" in forbidden.body["error"]
    state = await bob.call("GET", f"/rooms/{room_id}/state")
    assert {e["type"] for e in state.body} >= {"m.room.create", "m.room.topic", "m.room.member"}


async def test_members_and_joined(client: Client) -> None:
    alice = await User.register(client, "alice")
    bob = await User.register(client, "bob")
    carol = await User.register(client, "carol")
    room_id = await alice.create_room(preset="public_chat", invite=[carol.user_id])
    await bob.join(room_id)
    members = await alice.call("GET", f"/rooms/{room_id}/members")
    assert {e["state_key"]: e["content"]["membership"] for e in members.body["chunk"]} == {
        alice.user_id: "join",
        bob.user_id: "join",
        carol.user_id: "invite",
    }
    invited = await alice.call("GET", f"/rooms/{room_id}/members", params={"membership": "invite"})
    assert [e["state_key"] for e in invited.body["chunk"]] == [carol.user_id]
    joined = await alice.call("GET", f"/rooms/{room_id}/joined_members")
    assert set(joined.body["joined"]) == {alice.user_id, bob.user_id}
    assert joined.body["joined"][bob.user_id]["display_name"] == "bob"
    rooms = await bob.call("GET", "/joined_rooms")
    assert rooms.body == {"joined_rooms": [room_id]}


async def test_redaction(client: Client) -> None:
    alice = await User.register(client, "alice")
    bob = await User.register(client, "bob")
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    secret = (await bob.send(room_id, "secret")).body["event_id"]
    mine = (await alice.send(room_id, "mine")).body["event_id"]
    refused = await bob.call("PUT", f"/rooms/{room_id}/redact/{mine}/r1", {"reason": "no"})
    assert (refused.status, refused.errcode) == (403, "M_FORBIDDEN")
    done = await bob.call("PUT", f"/rooms/{room_id}/redact/{secret}/r2", {"reason": "oops"})
    assert done.status == 200
    await alice.call("PUT", f"/rooms/{room_id}/redact/{mine}/r3", {})  # moderators may
    for user in (alice, bob):
        event = await user.call("GET", f"/rooms/{room_id}/event/{secret}")
        assert event.body["content"] == {}
        because = event.body["unsigned"]["redacted_because"]
        assert because["event_id"] == done.body["event_id"]
        assert because["content"]["reason"] == "oops"
    page = await alice.messages(room_id, limit="10")
    bodies = [e["content"].get("body") for e in page.body["chunk"] if e["type"] == "m.room.message"]
    assert "secret" not in bodies and "mine" not in bodies
    other_room = await alice.create_room()
    elsewhere = (await alice.send(other_room, "elsewhere")).body["event_id"]
    crossed = await alice.call("PUT", f"/rooms/{room_id}/redact/{elsewhere}/r4", {})
    assert (crossed.status, crossed.errcode) == (400, "M_INVALID_PARAM")
    unknown = await alice.call("PUT", f"/rooms/{room_id}/redact/$nothing:test.local/r5", {})
    assert (unknown.status, unknown.errcode) == (404, "M_NOT_FOUND")


async def test_concurrent_sends_keep_a_linear_room(client: Client) -> None:
    alice = await User.register(client, "alice")
    room_id = await alice.create_room()
    results = await asyncio.gather(*(alice.send(room_id, str(n)) for n in range(20)))
    assert all(r.status == 200 for r in results)
    page = await alice.messages(room_id, limit="20", filter='{"types":["m.room.message"]}')
    assert sorted(e["content"]["body"] for e in page.body["chunk"]) == sorted(
        str(n) for n in range(20)
    )
