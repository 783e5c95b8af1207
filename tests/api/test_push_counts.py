"""Unread notification counts in /sync (per room and per thread), their fall with read
receipts, GET /notifications, and push evaluation resuming after a stop."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp

from homeserver.app import Homeserver
from tests.api.harness import Client, make_config, start_server
from tests.api.rooms_helpers import User, users_in_public_room


async def _sync(user: User, **params: str) -> dict[str, Any]:
    response = await user.call("GET", "/sync", params={"timeout": "0", **params})
    assert response.status == 200, response.body
    return dict(response.body)


def _counts(sync: dict[str, Any], room_id: str) -> dict[str, int]:
    return dict(sync["rooms"]["join"][room_id]["unread_notifications"])


async def _event_id(response: Any) -> str:
    assert response.status == 200, response.body
    return str(response.body["event_id"])


async def _receipt(user: User, room_id: str, event_id: str, **body: Any) -> None:
    response = await user.call(
        "POST", f"/rooms/{room_id}/receipt/{body.pop('kind', 'm.read')}/{event_id}", body
    )
    assert response.status == 200, response.body


async def test_group_messages_count_and_mentions_highlight(client: Client) -> None:
    (alice, bob, carol), room_id = await users_in_public_room(client, "alice", "bob", "carol")
    await alice.send(room_id, "hello all")
    await alice.send(room_id, "bob, look", **{"m.mentions": {"user_ids": [bob.user_id]}})
    bob_counts = _counts(await _sync(bob), room_id)
    assert bob_counts == {"notification_count": 2, "highlight_count": 1}
    # The sender's own messages never count for them.
    assert _counts(await _sync(alice), room_id) == {
        "notification_count": 0,
        "highlight_count": 0,
    }
    assert _counts(await _sync(carol), room_id)["notification_count"] == 2


async def test_a_read_receipt_clears_counts_and_an_incremental_sync_reports_it(
    client: Client,
) -> None:
    (alice, bob, _), room_id = await users_in_public_room(client, "alice", "bob", "carol")
    first = await _event_id(await alice.send(room_id, "one"))
    await alice.send(room_id, "two")
    last = await _event_id(await alice.send(room_id, "three"))
    initial = await _sync(bob)
    assert _counts(initial, room_id)["notification_count"] == 3
    await _receipt(bob, room_id, first)
    after_first = await _sync(bob, since=initial["next_batch"])
    assert _counts(after_first, room_id)["notification_count"] == 2
    # A private receipt clears them too, and only its owner's counts.
    await _receipt(bob, room_id, last, kind="m.read.private")
    after_last = await _sync(bob, since=after_first["next_batch"])
    assert _counts(after_last, room_id) == {"notification_count": 0, "highlight_count": 0}


async def test_thread_counts_with_threaded_and_unthreaded_receipts(client: Client) -> None:
    (alice, bob, _), room_id = await users_in_public_room(client, "alice", "bob", "carol")
    root = await _event_id(await alice.send(room_id, "root"))
    relation = {"rel_type": "m.thread", "event_id": root}
    await alice.send(room_id, "in thread 1", **{"m.relates_to": relation})
    reply = await _event_id(await alice.send(room_id, "in thread 2", **{"m.relates_to": relation}))
    threaded_filter = json.dumps({"room": {"timeline": {"unread_thread_notifications": True}}})
    sync = await _sync(bob, filter=threaded_filter)
    room = sync["rooms"]["join"][room_id]
    assert room["unread_notifications"]["notification_count"] == 1
    assert room["unread_thread_notifications"] == {
        root: {"notification_count": 2, "highlight_count": 0}
    }
    # Without the filter flag, threads are summed into the room's counts.
    assert _counts(await _sync(bob), room_id)["notification_count"] == 3
    # A threaded receipt clears that thread only.
    await _receipt(bob, room_id, reply, thread_id=root)
    room = (await _sync(bob, filter=threaded_filter))["rooms"]["join"][room_id]
    assert room["unread_notifications"]["notification_count"] == 1
    assert room["unread_thread_notifications"] == {}
    # An unthreaded receipt on the newest event clears everything before it.
    await alice.send(room_id, "in thread 3", **{"m.relates_to": relation})
    newest = await _event_id(await alice.send(room_id, "main again"))
    await _receipt(bob, room_id, newest)
    assert _counts(await _sync(bob), room_id) == {"notification_count": 0, "highlight_count": 0}


async def test_one_to_one_rooms_and_muted_rooms(client: Client) -> None:
    alice = await User.register(client, "alice")
    bob = await User.register(client, "bob")
    dm = await alice.create_room(
        invite=[bob.user_id], is_direct=True, preset="trusted_private_chat"
    )
    assert (await bob.join(dm)).status == 200
    await alice.send(dm, "psst")
    assert _counts(await _sync(bob), dm)["notification_count"] == 1
    # Muting (an override rule for the room without notify) silences the room entirely,
    # mentions included.
    mute = await bob.call(
        "PUT",
        f"/pushrules/global/override/{dm}",
        {
            "actions": [],
            "conditions": [{"kind": "event_match", "key": "room_id", "pattern": dm}],
        },
    )
    assert mute.status == 200, mute.body
    await alice.send(dm, "again", **{"m.mentions": {"user_ids": [bob.user_id]}})
    assert _counts(await _sync(bob), dm)["notification_count"] == 1


async def test_notices_edits_and_ignored_senders_do_not_notify(client: Client) -> None:
    (alice, bob, _), room_id = await users_in_public_room(client, "alice", "bob", "carol")
    await alice.send(room_id, "a bot says", msgtype="m.notice")
    original = await _event_id(await alice.send(room_id, "typo"))
    await alice.send(
        room_id,
        "* fixed",
        **{
            "m.new_content": {"msgtype": "m.text", "body": "fixed"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": original},
        },
    )
    assert _counts(await _sync(bob), room_id)["notification_count"] == 1
    ignore = await bob.call(
        "PUT",
        f"/user/{bob.user_id}/account_data/m.ignored_user_list",
        {"ignored_users": {alice.user_id: {}}},
    )
    assert ignore.status == 200
    await alice.send(room_id, "you will not hear this")
    assert _counts(await _sync(bob), room_id)["notification_count"] == 1


async def test_invites_notify_the_invitee(client: Client) -> None:
    alice = await User.register(client, "alice")
    bob = await User.register(client, "bob")
    room_id = await alice.create_room(preset="private_chat")
    invite = await alice.call("POST", f"/rooms/{room_id}/invite", {"user_id": bob.user_id})
    assert invite.status == 200
    listed = await bob.call("GET", "/notifications")
    assert listed.status == 200, listed.body
    [notification] = listed.body["notifications"]
    assert notification["room_id"] == room_id
    assert notification["event"]["type"] == "m.room.member"
    assert notification["event"]["state_key"] == bob.user_id
    assert "notify" in notification["actions"]


async def test_notifications_list_pages_and_filters_highlights(client: Client) -> None:
    (alice, bob, _), room_id = await users_in_public_room(client, "alice", "bob", "carol")
    sent = [await _event_id(await alice.send(room_id, f"message {i}")) for i in range(5)]
    mention = await _event_id(
        await alice.send(room_id, "hey", **{"m.mentions": {"user_ids": [bob.user_id]}})
    )
    await _receipt(bob, room_id, sent[1])
    first = await bob.call("GET", "/notifications", params={"limit": "4"})
    assert first.status == 200, first.body
    page = first.body["notifications"]
    assert [n["event"]["event_id"] for n in page] == [mention, sent[4], sent[3], sent[2]]
    assert all(not n["read"] for n in page)
    assert page[0]["room_id"] == room_id and isinstance(page[0]["ts"], int)
    assert {"set_tweak": "highlight"} in page[0]["actions"]
    second = await bob.call(
        "GET", "/notifications", params={"from": first.body["next_token"], "limit": "4"}
    )
    rest = second.body["notifications"]
    assert [n["event"]["event_id"] for n in rest] == [sent[1], sent[0]]
    assert all(n["read"] for n in rest)
    assert "next_token" not in second.body
    highlights = await bob.call("GET", "/notifications", params={"only": "highlight"})
    assert [n["event"]["event_id"] for n in highlights.body["notifications"]] == [mention]


async def test_notifications_refuses_bad_parameters(client: Client) -> None:
    bob = await User.register(client, "bob")
    for params in ({"from": "abc"}, {"from": "١٢"}, {"limit": "-1"}, {"limit": "x"}):
        response = await bob.call("GET", "/notifications", params=params)
        assert response.status == 400, (params, response.body)
        assert response.errcode == "M_INVALID_PARAM"
    unauthenticated = await client.request("GET", "/_matrix/client/v3/notifications")
    assert unauthenticated.status == 401


async def test_evaluation_resumes_after_a_stop(database_url: str, tmp_path: Path) -> None:
    """Events persisted while the evaluator was behind are evaluated at the next start:
    nothing acknowledged is lost."""
    config = make_config(database_url, tmp_path)
    server = await start_server(config)
    try:
        async with aiohttp.ClientSession() as session:
            client = Client(session, f"http://127.0.0.1:{server.port}")
            (alice, bob, _), room_id = await users_in_public_room(client, "alice", "bob", "carol")
            # Stop evaluating, as a crash between persisting and evaluating would.
            await server.services.push_evaluator.stop()
            await alice.send(room_id, "while nobody evaluated")
            await alice.send(room_id, "and another")
    finally:
        await server.stop()
    server = await start_server(config)
    try:
        async with aiohttp.ClientSession() as session:
            client = Client(session, f"http://127.0.0.1:{server.port}")
            bob.client = client
            assert _counts(await _sync(bob), room_id)["notification_count"] == 2
    finally:
        await server.stop()


async def test_old_notifications_are_pruned_read_first(server: Homeserver, client: Client) -> None:
    (alice, bob, carol), room_id = await users_in_public_room(client, "alice", "bob", "carol")
    mention = await _event_id(
        await alice.send(room_id, "hey", **{"m.mentions": {"user_ids": [bob.user_id]}})
    )
    read = await _event_id(await alice.send(room_id, "read"))
    unread = await _event_id(await alice.send(room_id, "unread"))
    await _receipt(bob, room_id, read)
    assert (await carol.call("POST", f"/rooms/{room_id}/leave", {})).status == 200
    # Wait for the evaluator, as a sync does.
    assert _counts(await _sync(bob), room_id)["notification_count"] == 1
    services = server.services
    in_an_hour = services.clock.time_ms() + 3_600_000

    async def listed(user: User) -> list[str]:
        body = (await user.call("GET", "/notifications")).body
        return [n["event"]["event_id"] for n in body["notifications"]]

    # Everything is younger than the threshold for read ones: bob's read plain message
    # and everything of carol, who left, go; the read highlight and the unread one stay.
    await services.notifications.stores.push_actions.delete_old(in_an_hour, 0, 1000)
    assert await listed(bob) == [unread, mention]
    assert await listed(carol) == []
    assert _counts(await _sync(bob), room_id)["notification_count"] == 1
    # Past the retention, the rest goes too, in batches.
    stores = services.notifications.stores
    assert await stores.push_actions.delete_old(in_an_hour, in_an_hour, 1) == 1
    assert await stores.push_actions.delete_old(in_an_hour, in_an_hour, 1000) == 1
    assert await listed(bob) == []
    assert await services.notifications.prune() == 0
