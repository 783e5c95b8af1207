"""Context, timestamp lookups, reports, aliases and the public room directory."""

from __future__ import annotations

from tests.api.harness import Client
from tests.api.rooms_helpers import User


async def test_context(client: Client) -> None:
    alice = await User.register(client, "alice")
    room_id = await alice.create_room()
    ids = [(await alice.send(room_id, f"m{n}")).body["event_id"] for n in range(7)]
    context = await alice.call("GET", f"/rooms/{room_id}/context/{ids[3]}", params={"limit": "4"})
    assert context.status == 200
    assert context.body["event"]["event_id"] == ids[3]
    assert [e["event_id"] for e in context.body["events_before"]] == [ids[2], ids[1]]
    assert [e["event_id"] for e in context.body["events_after"]] == [ids[4], ids[5]]
    assert {e["type"] for e in context.body["state"]} >= {"m.room.create", "m.room.member"}
    older = await alice.messages(room_id, **{"from": context.body["start"], "limit": "1"})
    assert older.body["chunk"][0]["event_id"] == ids[0]
    newer = await alice.messages(room_id, dir="f", **{"from": context.body["end"], "limit": "1"})
    assert newer.body["chunk"][0]["event_id"] == ids[6]
    missing = await alice.call("GET", f"/rooms/{room_id}/context/$nope")
    assert (missing.status, missing.errcode) == (404, "M_NOT_FOUND")


async def test_context_for_those_outside_the_room(client: Client) -> None:
    alice = await User.register(client, "alice")
    stranger = await User.register(client, "stranger")
    private = await alice.create_room()
    readable = await alice.create_room(
        initial_state=[
            {
                "type": "m.room.history_visibility",
                "content": {"history_visibility": "world_readable"},
            }
        ]
    )
    for room_id, status in ((private, 403), (readable, 200)):
        event_id = (await alice.send(room_id, "hello")).body["event_id"]
        got = await stranger.call("GET", f"/rooms/{room_id}/context/{event_id}")
        assert got.status == status, got.body
    # Someone who was in the room asks for an event from before their time: not found.
    joined_only = await alice.create_room(
        preset="public_chat",
        initial_state=[
            {"type": "m.room.history_visibility", "content": {"history_visibility": "joined"}}
        ],
    )
    early = (await alice.send(joined_only, "before you")).body["event_id"]
    await stranger.join(joined_only)
    hidden = await stranger.call("GET", f"/rooms/{joined_only}/context/{early}")
    assert (hidden.status, hidden.errcode) == (404, "M_NOT_FOUND")


async def test_timestamp_to_event(client: Client) -> None:
    alice = await User.register(client, "alice")
    room_id = await alice.create_room()
    sent = await alice.send(room_id, "x")
    event = await alice.call("GET", f"/rooms/{room_id}/event/{sent.body['event_id']}")
    ts = event.body["origin_server_ts"]
    path = f"/_matrix/client/v1/rooms/{room_id}/timestamp_to_event"
    backwards = await client.request(
        "GET", path, params={"ts": str(ts + 10_000), "dir": "b"}, token=alice.token
    )
    assert backwards.body == {"event_id": sent.body["event_id"], "origin_server_ts": ts}
    none_after = await client.request(
        "GET", path, params={"ts": str(ts + 10_000), "dir": "f"}, token=alice.token
    )
    assert none_after.status == 404
    bad = await client.request("GET", path, params={"ts": "x", "dir": "f"}, token=alice.token)
    assert bad.status == 400
    missing = await client.request("GET", path, params={"dir": "f"}, token=alice.token)
    assert missing.errcode == "M_MISSING_PARAM"


async def test_reports(client: Client, server) -> None:
    alice = await User.register(client, "alice")
    bob = await User.register(client, "bob")
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    event_id = (await alice.send(room_id, "rude")).body["event_id"]
    reported = await bob.call(
        "POST", f"/rooms/{room_id}/report/{event_id}", {"reason": "rude", "score": -100}
    )
    assert reported.status == 200
    room_report = await bob.call("POST", f"/rooms/{room_id}/report", {"reason": "spam room"})
    assert room_report.status == 200
    unknown = await bob.call("POST", f"/rooms/{room_id}/report/$nope", {"reason": "x"})
    assert unknown.status == 404
    async with server.services.events.stores.db.connection() as conn:
        count = await conn.fetchval("t", "SELECT COUNT(*) FROM reports")
    assert count == 2


async def test_alias_lifecycle(client: Client) -> None:
    alice = await User.register(client, "alice")
    bob = await User.register(client, "bob")
    room_id = await alice.create_room(preset="public_chat")
    alias = "%23second:test.local"
    created = await alice.call("PUT", f"/directory/room/{alias}", {"room_id": room_id})
    assert created.status == 200
    again = await alice.call("PUT", f"/directory/room/{alias}", {"room_id": room_id})
    assert again.status == 409
    not_member = await bob.call("PUT", "/directory/room/%23bobs:test.local", {"room_id": room_id})
    assert not_member.status == 403
    aliases = await alice.call("GET", f"/rooms/{room_id}/aliases")
    assert aliases.body == {"aliases": ["#second:test.local"]}
    refused = await bob.call("DELETE", f"/directory/room/{alias}")
    assert refused.status == 403
    assert (await alice.call("DELETE", f"/directory/room/{alias}")).status == 200
    gone = await alice.call("GET", f"/directory/room/{alias}")
    assert (gone.status, gone.errcode) == (404, "M_NOT_FOUND")
    bad = await alice.call("GET", "/directory/room/no-hash")
    assert bad.status == 400


async def test_public_rooms(client: Client) -> None:
    alice = await User.register(client, "alice")
    bob = await User.register(client, "bob")
    big = await alice.create_room(visibility="public", name="Big Room", topic="lots")
    small = await alice.create_room(visibility="public", name="Small", room_alias_name="small")
    await alice.create_room(name="Hidden")
    await bob.join(big)
    listing = await client.request("GET", "/_matrix/client/v3/publicRooms")
    assert [r["room_id"] for r in listing.body["chunk"]] == [big, small]
    first = listing.body["chunk"][0]
    assert first["num_joined_members"] == 2
    assert first["name"] == "Big Room" and first["topic"] == "lots"
    assert first["join_rule"] == "public" and first["world_readable"] is False
    assert listing.body["chunk"][1]["canonical_alias"] == "#small:test.local"
    paged = await client.request("GET", "/_matrix/client/v3/publicRooms", params={"limit": "1"})
    assert len(paged.body["chunk"]) == 1 and paged.body["next_batch"]
    rest = await client.request(
        "GET",
        "/_matrix/client/v3/publicRooms",
        params={"limit": "1", "since": paged.body["next_batch"]},
    )
    assert [r["room_id"] for r in rest.body["chunk"]] == [small]
    search = await alice.call("POST", "/publicRooms", {"filter": {"generic_search_term": "smal"}})
    assert [r["room_id"] for r in search.body["chunk"]] == [small]
    visibility = await alice.call("GET", f"/directory/list/room/{big}")
    assert visibility.body == {"visibility": "public"}
    await bob.call("PUT", f"/directory/list/room/{big}", {"visibility": "private"})
    assert (await alice.call("GET", f"/directory/list/room/{big}")).body["visibility"] == "public"
    await alice.call("PUT", f"/directory/list/room/{big}", {"visibility": "private"})
    assert (await alice.call("GET", f"/directory/list/room/{big}")).body["visibility"] == "private"


async def test_room_upgrade(client: Client) -> None:
    alice = await User.register(client, "alice")
    bob = await User.register(client, "bob")
    old = await alice.create_room(
        preset="public_chat", name="Old name", room_alias_name="moving", visibility="public"
    )
    await bob.join(old)
    await alice.call("POST", f"/rooms/{old}/ban", {"user_id": "@troll:test.local"})
    refused = await bob.call("POST", f"/rooms/{old}/upgrade", {"new_version": "11"})
    assert (refused.status, refused.errcode) == (403, "M_FORBIDDEN")
    unknown = await alice.call("POST", f"/rooms/{old}/upgrade", {"new_version": "77"})
    assert unknown.errcode == "M_UNSUPPORTED_ROOM_VERSION"
    upgraded = await alice.call("POST", f"/rooms/{old}/upgrade", {"new_version": "11"})
    assert upgraded.status == 200, upgraded.body
    new = upgraded.body["replacement_room"]
    tombstone = await alice.call(
        "GET", f"/rooms/{old}/state/m.room.tombstone", params={"format": "event"}
    )
    assert tombstone.body["content"]["replacement_room"] == new
    create = await alice.call("GET", f"/rooms/{new}/state/m.room.create")
    # Before v12 the predecessor also names the tombstone (as Synapse does, SyTest checks).
    assert create.body["predecessor"] == {"room_id": old, "event_id": tombstone.body["event_id"]}
    assert create.body["room_version"] == "11"
    name = await alice.call("GET", f"/rooms/{new}/state/m.room.name")
    assert name.body == {"name": "Old name"}
    ban = await alice.call("GET", f"/rooms/{new}/state/m.room.member/@troll:test.local")
    assert ban.body["membership"] == "ban"
    resolved = await alice.call("GET", "/directory/room/%23moving:test.local")
    assert resolved.body["room_id"] == new
    assert (await bob.send(old, "still here?")).status == 403
    assert (await bob.join(new)).status == 200
    assert (await bob.send(new, "moved")).status == 200


async def test_upgrade_to_v12_names_only_the_old_room(client: Client) -> None:
    alice = await User.register(client, "alice")
    old = await alice.create_room(room_version="11")
    upgraded = await alice.call("POST", f"/rooms/{old}/upgrade", {"new_version": "12"})
    assert upgraded.status == 200, upgraded.body
    new = upgraded.body["replacement_room"]
    tombstone = await alice.call("GET", f"/rooms/{old}/state/m.room.tombstone")
    assert tombstone.body["replacement_room"] == new
    create = await alice.call("GET", f"/rooms/{new}/state/m.room.create")
    # The new room's ID comes from its create event, so the tombstone can only follow it.
    assert create.body["predecessor"] == {"room_id": old}


async def test_canonical_alias_validation(client: Client) -> None:
    alice = await User.register(client, "alice")
    room_id = await alice.create_room(room_alias_name="mine")
    other = await alice.create_room(room_alias_name="other")
    path = f"/rooms/{room_id}/state/m.room.canonical_alias"
    ok = await alice.call("PUT", path, {"alias": "#mine:test.local", "alt_aliases": []})
    assert ok.status == 200
    wrong_room = await alice.call("PUT", path, {"alias": "#other:test.local"})
    assert (wrong_room.status, wrong_room.errcode) == (400, "M_BAD_ALIAS")
    unknown = await alice.call("PUT", path, {"alt_aliases": ["#ghost:test.local"]})
    assert unknown.errcode == "M_BAD_ALIAS"
    bad = await alice.call("PUT", path, {"alias": "not-an-alias"})
    assert (bad.status, bad.errcode) == (400, "M_INVALID_PARAM")
    remote = await alice.call("PUT", path, {"alt_aliases": ["#elsewhere:remote.example"]})
    assert remote.status == 200
    assert other


async def test_moderators_delete_aliases_and_the_canonical_alias_follows(client: Client) -> None:
    alice = await User.register(client, "alice")
    bob = await User.register(client, "bob")
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    alias = "#shared:test.local"
    created = await bob.call(
        "PUT", f"/directory/room/{alias.replace('#', '%23')}", {"room_id": room_id}
    )
    assert created.status == 200
    canonical = await alice.call(
        "PUT", f"/rooms/{room_id}/state/m.room.canonical_alias", {"alias": alias}
    )
    assert canonical.status == 200
    # Alice did not create the alias but may change the canonical alias: she may delete it.
    deleted = await alice.call("DELETE", f"/directory/room/{alias.replace('#', '%23')}")
    assert deleted.status == 200
    state = await alice.call("GET", f"/rooms/{room_id}/state/m.room.canonical_alias")
    assert "alias" not in state.body


async def test_upgrade_keeps_high_levels_tags_and_direct_chats(client: Client) -> None:
    alice = await User.register(client, "alice")
    old = await alice.create_room(power_level_content_override={"users": {alice.user_id: 500}})
    me = f"/user/{alice.user_id}"
    direct = {"@bob:test.local": ["!elsewhere:test.local", old]}
    assert (await alice.call("PUT", f"{me}/account_data/m.direct", direct)).status == 200
    tagged = await alice.call("PUT", f"{me}/rooms/{old}/tags/u.work", {"order": 0.5})
    assert tagged.status == 200
    upgraded = await alice.call("POST", f"/rooms/{old}/upgrade", {"new_version": "11"})
    assert upgraded.status == 200, upgraded.body
    new = upgraded.body["replacement_room"]
    levels = await alice.call("GET", f"/rooms/{new}/state/m.room.power_levels")
    assert levels.body["users"] == {alice.user_id: 500}
    moved = await alice.call("GET", f"{me}/account_data/m.direct")
    assert moved.body == {"@bob:test.local": ["!elsewhere:test.local", old, new]}
    tags = await alice.call("GET", f"{me}/rooms/{new}/tags")
    assert tags.body == {"tags": {"u.work": {"order": 0.5}}}
