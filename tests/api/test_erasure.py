"""Erasure (spec: POST /account/deactivate, `erase`): an erased user's messages are shown
redacted to those who were not in the room when they were sent."""

from __future__ import annotations

from typing import Any

from tests.api.harness import PASSWORD, Client
from tests.api.rooms_helpers import User, users_in_public_room
from tests.api.test_sync import sync


async def deactivate(user: User, **body: Any) -> None:
    challenge = await user.call("POST", "/account/deactivate", {})
    auth = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": user.user_id},
        "password": PASSWORD,
        "session": challenge.body["session"],
    }
    done = await user.call("POST", "/account/deactivate", {**body, "auth": auth})
    assert done.status == 200, done.body


def content_of(events: list[dict[str, Any]], event_id: str) -> dict[str, Any]:
    (event,) = [e for e in events if e["event_id"] == event_id]
    return dict(event["content"])


async def test_only_members_at_the_time_see_an_erased_users_messages(client: Client) -> None:
    (alice, bob), room_id = await users_in_public_room(client, "alice", "bob")
    message = (await alice.send(room_id, "secret")).body["event_id"]
    carol = await User.register(client, "carol")
    assert (await carol.join(room_id)).status == 200
    await deactivate(alice, erase=True)

    bob_sees = (await sync(bob))["rooms"]["join"][room_id]["timeline"]["events"]
    assert content_of(bob_sees, message)["body"] == "secret"
    carol_sees = (await sync(carol))["rooms"]["join"][room_id]["timeline"]["events"]
    assert content_of(carol_sees, message) == {}
    page = await carol.messages(room_id, dir="b")
    assert content_of(page.body["chunk"], message) == {}
    page = await bob.messages(room_id, dir="b")
    assert content_of(page.body["chunk"], message)["body"] == "secret"


async def test_deactivation_without_erase_keeps_messages(client: Client) -> None:
    (alice, _), room_id = await users_in_public_room(client, "alice", "bob")
    message = (await alice.send(room_id, "kept")).body["event_id"]
    carol = await User.register(client, "carol")
    await carol.join(room_id)
    await deactivate(alice, erase=False)
    carol_sees = (await sync(carol))["rooms"]["join"][room_id]["timeline"]["events"]
    assert content_of(carol_sees, message)["body"] == "kept"
