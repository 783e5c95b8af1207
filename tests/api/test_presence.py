"""Presence: setting, reading, delivery to room-mates, and the privacy switch."""

from __future__ import annotations

from tests.api.harness import Client
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
