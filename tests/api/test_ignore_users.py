"""Ignoring users (spec: Ignoring Users): the `m.ignored_user_list` account data hides the
messages and invites of ignored users from /sync, /messages, /context and /events, while
their state events still come."""

from __future__ import annotations

from typing import Any

from tests.api.harness import Client
from tests.api.rooms_helpers import User, users_in_public_room
from tests.api.test_sync import bodies, sync


async def ignore(user: User, *user_ids: str) -> None:
    response = await user.call(
        "PUT",
        f"/user/{user.user_id}/account_data/m.ignored_user_list",
        {"ignored_users": {u: {} for u in user_ids}},
    )
    assert response.status == 200, response.body


def senders(events: list[dict[str, Any]]) -> list[str]:
    return [e["sender"] for e in events if e["type"] == "m.room.message"]


async def test_sync_hides_messages_of_ignored_users_but_not_their_state(client: Client) -> None:
    (alice, bob, carol), room_id = await users_in_public_room(client, "alice", "bob", "carol")
    for user in (alice, bob, carol):
        await user.send(room_id, f"from {user.user_id}")
    await ignore(alice, bob.user_id)
    first = await sync(alice)
    room = first["rooms"]["join"][room_id]
    assert senders(room["timeline"]["events"]) == [alice.user_id, carol.user_id]
    assert {"m.ignored_user_list"} <= {e["type"] for e in first["account_data"]["events"]}

    # Only an ignored user's message since the token: the room is left out altogether.
    await bob.send(room_id, "unseen")
    quiet = await sync(alice, since=first["next_batch"])
    assert room_id not in quiet["rooms"]["join"]

    # State events of ignored users still come.
    renamed = await bob.call(
        "PUT",
        f"/rooms/{room_id}/state/m.room.member/{bob.user_id}",
        {"membership": "join", "displayname": "Bob"},
    )
    assert renamed.status == 200, renamed.body
    await bob.send(room_id, "unseen too")
    await carol.send(room_id, "seen")
    later = await sync(alice, since=quiet["next_batch"])
    events = later["rooms"]["join"][room_id]["timeline"]["events"]
    assert [(e["type"], e["sender"]) for e in events] == [
        ("m.room.member", bob.user_id),
        ("m.room.message", carol.user_id),
    ]

    # Un-ignoring takes effect at once; what was missed meanwhile is not sent again.
    await ignore(alice)
    await bob.send(room_id, "visible again")
    after = await sync(alice, since=later["next_batch"])
    assert bodies(after["rooms"]["join"][room_id]) == ["visible again"]


async def test_a_long_poll_is_not_woken_by_an_ignored_user(client: Client) -> None:
    (alice, bob), room_id = await users_in_public_room(client, "alice", "bob")
    await ignore(alice, bob.user_id)
    first = await sync(alice)
    await bob.send(room_id, "unseen")
    waited = await sync(alice, since=first["next_batch"], timeout=300)
    assert waited["rooms"]["join"] == {}


async def test_timeline_is_filled_from_before_the_ignored_messages(client: Client) -> None:
    (alice, bob), room_id = await users_in_public_room(client, "alice", "bob")
    await alice.send(room_id, "early")
    for n in range(12):
        await bob.send(room_id, f"bob {n}")
    await ignore(alice, bob.user_id)
    room = (await sync(alice, filter='{"room":{"timeline":{"limit":3}}}'))["rooms"]["join"][room_id]
    assert bodies(room) == ["early"]
    # Bob's join (state) is still there, and a limited timeline says history goes on.
    assert all("state_key" in e for e in room["timeline"]["events"] if e["sender"] == bob.user_id)
    assert room["timeline"]["limited"] is True


async def test_messages_context_and_events_hide_ignored_users(client: Client) -> None:
    (alice, bob), room_id = await users_in_public_room(client, "alice", "bob")
    stream_start = await alice.call("GET", "/events", params={"timeout": "0"})
    await alice.send(room_id, "before")
    await bob.send(room_id, "ignored")
    anchor = await alice.send(room_id, "anchor")
    await bob.send(room_id, "ignored too")
    await alice.send(room_id, "after")
    await ignore(alice, bob.user_id)

    page = await alice.messages(room_id, dir="b", limit="3")
    assert page.status == 200, page.body
    assert [e["content"]["body"] for e in page.body["chunk"]] == ["after", "anchor", "before"]

    context = await alice.call(
        "GET", f"/rooms/{room_id}/context/{anchor.body['event_id']}", params={"limit": "10"}
    )
    assert context.status == 200, context.body
    assert senders(context.body["events_before"]) == [alice.user_id]
    assert senders(context.body["events_after"]) == [alice.user_id]
    # The event itself, asked for by ID, stays readable (to report it, for instance).
    bobs = await bob.messages(room_id, dir="b", limit="1")
    ignored_id = bobs.body["chunk"][0]["event_id"]
    single = await alice.call("GET", f"/rooms/{room_id}/event/{ignored_id}")
    assert single.status == 200, single.body

    stream = await alice.call(
        "GET", "/events", params={"from": stream_start.body["end"], "timeout": "0"}
    )
    assert [
        e["content"]["body"] for e in stream.body["chunk"] if e["type"] == "m.room.message"
    ] == [
        "before",
        "anchor",
        "after",
    ]


async def test_invites_from_ignored_users_are_not_sent(client: Client) -> None:
    alice, bob, carol, dave = [
        await User.register(client, name) for name in ("alice", "bob", "carol", "dave")
    ]
    from_dave = await dave.create_room(invite=[alice.user_id])
    first = await sync(alice)
    assert set(first["rooms"]["invite"]) == {from_dave}
    await ignore(alice, bob.user_id)
    await bob.create_room(invite=[alice.user_id])
    from_carol = await carol.create_room(invite=[alice.user_id])
    incremental = await sync(alice, since=first["next_batch"])
    assert set(incremental["rooms"]["invite"]) == {from_carol}
    # An invite sent before its sender was ignored is left out from then on too.
    await ignore(alice, bob.user_id, dave.user_id)
    full = await sync(alice)
    assert set(full["rooms"]["invite"]) == {from_carol}


async def test_malformed_ignore_lists_ignore_nobody(client: Client) -> None:
    (alice, bob), room_id = await users_in_public_room(client, "alice", "bob")
    await bob.send(room_id, "hello")
    for content in ({"ignored_users": [bob.user_id]}, {"ignored_users": "x"}, {}):
        put = await alice.call(
            "PUT", f"/user/{alice.user_id}/account_data/m.ignored_user_list", content
        )
        # Stored as written, as Synapse does; only a well-formed list ignores anyone.
        assert put.status == 200, put.body
        room = (await sync(alice))["rooms"]["join"][room_id]
        assert bodies(room) == ["hello"]
