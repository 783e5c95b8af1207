"""Membership scenarios through the client API, with the engine's rules behind them."""

from __future__ import annotations

from tests.api.harness import Client
from tests.api.rooms_helpers import User


async def users(client: Client, *names: str) -> list[User]:
    return [await User.register(client, name) for name in names]


async def test_invite_only_room(client: Client) -> None:
    alice, bob = await users(client, "alice", "bob")
    room_id = await alice.create_room(preset="private_chat")
    refused = await bob.join(room_id)
    assert (refused.status, refused.errcode) == (403, "M_FORBIDDEN")
    invited = await alice.call("POST", f"/rooms/{room_id}/invite", {"user_id": bob.user_id})
    assert invited.status == 200
    assert (await bob.join(room_id)).status == 200
    again = await alice.call("POST", f"/rooms/{room_id}/invite", {"user_id": bob.user_id})
    assert (again.status, again.errcode) == (403, "M_FORBIDDEN")


async def test_moderator_can_kick_user_cannot(client: Client) -> None:
    alice, bob, carol = await users(client, "alice", "bob", "carol")
    room_id = await alice.create_room(
        preset="public_chat",
        power_level_content_override={"users": {alice.user_id: 100, bob.user_id: 50}},
    )
    await bob.join(room_id)
    await carol.join(room_id)
    refused = await carol.call("POST", f"/rooms/{room_id}/kick", {"user_id": bob.user_id})
    assert (refused.status, refused.errcode) == (403, "M_FORBIDDEN")
    kicked = await bob.call(
        "POST", f"/rooms/{room_id}/kick", {"user_id": carol.user_id, "reason": "spam"}
    )
    assert kicked.status == 200
    state = await alice.call("GET", f"/rooms/{room_id}/state/m.room.member/{carol.user_id}")
    assert state.body == {"membership": "leave", "reason": "spam"}
    assert (await carol.join(room_id)).status == 200  # a kick is not a ban


async def test_banned_user_cannot_rejoin_until_unbanned(client: Client) -> None:
    alice, bob = await users(client, "alice", "bob")
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    banned = await alice.call("POST", f"/rooms/{room_id}/ban", {"user_id": bob.user_id})
    assert banned.status == 200
    rejoin = await bob.join(room_id)
    assert (rejoin.status, rejoin.errcode) == (403, "M_FORBIDDEN")
    not_banned = await alice.call("POST", f"/rooms/{room_id}/unban", {"user_id": alice.user_id})
    assert not_banned.status == 403
    assert (
        await alice.call("POST", f"/rooms/{room_id}/unban", {"user_id": bob.user_id})
    ).status == 200
    assert (await bob.join(room_id)).status == 200


async def test_knock_then_invite(client: Client) -> None:
    alice, bob = await users(client, "alice", "bob")
    room_id = await alice.create_room(room_version="10", preset="private_chat")
    await alice.call("PUT", f"/rooms/{room_id}/state/m.room.join_rules", {"join_rule": "knock"})
    knocked = await bob.call("POST", f"/knock/{room_id}", {"reason": "let me in"})
    assert knocked.status == 200 and knocked.body == {"room_id": room_id}
    member = await alice.call("GET", f"/rooms/{room_id}/state/m.room.member/{bob.user_id}")
    assert member.body["membership"] == "knock"
    await alice.call("POST", f"/rooms/{room_id}/invite", {"user_id": bob.user_id})
    assert (await bob.join(room_id)).status == 200


async def test_leave_and_forget(client: Client) -> None:
    alice, bob = await users(client, "alice", "bob")
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    early = await bob.call("POST", f"/rooms/{room_id}/forget")
    assert early.status == 400
    assert (await bob.call("POST", f"/rooms/{room_id}/leave", {})).status == 200
    twice = await bob.call("POST", f"/rooms/{room_id}/leave", {})
    assert twice.status == 403
    assert (await bob.call("POST", f"/rooms/{room_id}/forget")).status == 200
    assert (await bob.call("GET", "/joined_rooms")).body == {"joined_rooms": []}


async def test_join_by_alias_and_unknown_rooms(client: Client) -> None:
    alice, bob = await users(client, "alice", "bob")
    room_id = await alice.create_room(preset="public_chat", room_alias_name="hall")
    joined = await bob.join("%23hall:test.local")
    assert joined.body == {"room_id": room_id}
    unknown = await bob.join("!nope:test.local")
    assert (unknown.status, unknown.errcode) == (404, "M_NOT_FOUND")
    bad = await bob.join("not-a-room")
    assert bad.status == 400


async def test_left_user_sees_history_only_until_leaving(client: Client) -> None:
    alice, bob = await users(client, "alice", "bob")
    room_id = await alice.create_room(preset="public_chat")
    await alice.call(
        "PUT", f"/rooms/{room_id}/state/m.room.history_visibility", {"history_visibility": "joined"}
    )
    await alice.send(room_id, "before bob")
    await bob.join(room_id)
    await alice.send(room_id, "while bob")
    await bob.call("POST", f"/rooms/{room_id}/leave", {})
    await alice.send(room_id, "after bob")
    page = await bob.messages(room_id, limit="50")
    bodies = [e["content"].get("body") for e in page.body["chunk"] if e["type"] == "m.room.message"]
    assert bodies == ["while bob"]


async def test_shared_history_is_visible_to_joiners(client: Client) -> None:
    alice, bob = await users(client, "alice", "bob")
    room_id = await alice.create_room(preset="public_chat")
    await alice.send(room_id, "early")
    await bob.join(room_id)
    page = await bob.messages(room_id, limit="50")
    assert "early" in [e["content"].get("body") for e in page.body["chunk"]]


async def test_guests_join_only_rooms_that_allow_them(database_url: str, tmp_path) -> None:
    import aiohttp

    from tests.api.harness import make_config, start_server
    from tests.api.rooms_helpers import V3

    server = await start_server(
        make_config(database_url, tmp_path, registration={"enabled": True, "allow_guests": True})
    )
    try:
        async with aiohttp.ClientSession() as session:
            client = Client(session, f"http://127.0.0.1:{server.port}")
            alice = await User.register(client, "alice")
            open_room = await alice.create_room(preset="private_chat")
            await alice.call(
                "PUT", f"/rooms/{open_room}/state/m.room.join_rules", {"join_rule": "public"}
            )
            closed_room = await alice.create_room(preset="public_chat")
            guest = await client.request("POST", V3 + "/register", {}, params={"kind": "guest"})
            assert guest.status == 200, guest.body
            token = guest.body["access_token"]
            ok = await client.request("POST", f"{V3}/join/{open_room}", {}, token=token)
            assert ok.status == 200, ok.body
            refused = await client.request("POST", f"{V3}/join/{closed_room}", {}, token=token)
            assert (refused.status, refused.errcode) == (403, "M_GUEST_ACCESS_FORBIDDEN")
            no_create = await client.request("POST", f"{V3}/createRoom", {}, token=token)
            assert no_create.errcode == "M_GUEST_ACCESS_FORBIDDEN"
            # Closing the room to guests removes the guests in it.
            await alice.call(
                "PUT",
                f"/rooms/{open_room}/state/m.room.guest_access",
                {"guest_access": "forbidden"},
            )
            member = await alice.call(
                "GET", f"/rooms/{open_room}/state/m.room.member/{guest.body['user_id']}"
            )
            assert member.body["membership"] == "leave"
    finally:
        await server.stop()


async def test_invited_visibility_starts_at_the_invite(client: Client) -> None:
    alice, bob = await users(client, "alice", "bob")
    room_id = await alice.create_room(preset="private_chat")
    await alice.call(
        "PUT",
        f"/rooms/{room_id}/state/m.room.history_visibility",
        {"history_visibility": "invited"},
    )
    await alice.send(room_id, "before invite")
    await alice.call("POST", f"/rooms/{room_id}/invite", {"user_id": bob.user_id})
    await alice.send(room_id, "after invite")
    await bob.join(room_id)
    page = await bob.messages(room_id, limit="50")
    bodies = [e["content"].get("body") for e in page.body["chunk"] if e["type"] == "m.room.message"]
    assert bodies == ["after invite"]


async def test_world_readable_rooms_can_be_read_without_joining(client: Client) -> None:
    alice, bob = await users(client, "alice", "bob")
    room_id = await alice.create_room(preset="public_chat")
    await alice.call(
        "PUT",
        f"/rooms/{room_id}/state/m.room.history_visibility",
        {"history_visibility": "world_readable"},
    )
    await alice.send(room_id, "for everyone")
    page = await bob.messages(room_id, limit="10")
    assert "for everyone" in [e["content"].get("body") for e in page.body["chunk"]]
    state = await bob.call("GET", f"/rooms/{room_id}/state")
    assert state.status == 200


async def test_join_keeps_extra_content_from_the_body(client: Client) -> None:
    alice = await User.register(client, "alice")
    bob = await User.register(client, "bob")
    room_id = await alice.create_room(preset="public_chat")
    joined = await bob.call("POST", f"/join/{room_id}", {"foo": "bar", "membership": "leave"})
    assert joined.status == 200
    member = await bob.call("GET", f"/rooms/{room_id}/state/m.room.member/{bob.user_id}")
    assert member.body["foo"] == "bar" and member.body["membership"] == "join"
