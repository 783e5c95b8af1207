"""Delivery to push gateways over real HTTP: a small gateway on 127.0.0.1 (allow-listed in
the server's config) records what it is sent (spec: Push Gateway API v1)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from homeserver.app import Homeserver
from homeserver.config import HomeserverConfig
from storage.stores.push_actions import MAIN_TIMELINE, EventNotifications
from storage.stores.pushers import PusherKey
from tests.api.harness import Client, make_config, start_server
from tests.api.rooms_helpers import User, users_in_public_room

NOTIFY_PATH = "/_matrix/push/v1/notify"
APP_ID = "org.example.app"
WAIT_S = 10.0


def push_config(database_url: str, data_dir: Path) -> HomeserverConfig:
    return make_config(
        database_url,
        data_dir,
        outbound={"allowed_private_ranges": ["127.0.0.1/32"], "request_timeout_ms": 2000},
        # Short backoff keeps the tests of failing gateways quick.
        push={"retry_initial_backoff_ms": 50, "retry_max_backoff_ms": 300},
    )


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[Homeserver]:
    homeserver = await start_server(push_config(database_url, tmp_path))
    yield homeserver
    await homeserver.stop()


Answer = tuple[int, dict[str, Any]]


class Gateway:
    """A push gateway: records each request, answers with `respond` (by default from the
    `answers` queue, then 200 with nothing rejected), and can go down and come back on
    the same port."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.accepted: list[dict[str, Any]] = []
        self.answers: list[Answer] = []
        self.respond: Callable[[dict[str, Any]], Answer] = self._next_answer
        self.port = 0
        self._runner: web.AppRunner | None = None

    def _next_answer(self, body: dict[str, Any]) -> Answer:
        return self.answers.pop(0) if self.answers else (200, {"rejected": []})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{NOTIFY_PATH}"

    async def up(self) -> None:
        app = web.Application()
        app.router.add_post(NOTIFY_PATH, self._notify)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self.port = int(self._runner.addresses[0][1])

    async def down(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _notify(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        status, answer = self.respond(body)
        if status == 200:
            self.accepted.append(body)
        return web.json_response(answer, status=status)

    def events(self) -> list[dict[str, Any]]:
        """Accepted notifications about events, in arrival order."""
        return [b["notification"] for b in self.accepted if b["notification"].get("event_id")]

    def badges(self) -> list[dict[str, Any]]:
        return [b["notification"] for b in self.accepted if not b["notification"].get("event_id")]

    async def wait(self, condition: Callable[[], bool], timeout_s: float = WAIT_S) -> None:
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not condition():
            assert asyncio.get_running_loop().time() < deadline, self.requests
            await asyncio.sleep(0.02)


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    gateway = Gateway()
    await gateway.up()
    yield gateway
    await gateway.down()


async def set_pusher(user: User, url: str, pushkey: str = "key-1", **data: Any) -> Any:
    return await user.call(
        "POST",
        "/pushers/set",
        {
            "kind": "http",
            "app_id": APP_ID,
            "pushkey": pushkey,
            "app_display_name": "Example",
            "device_display_name": "Phone",
            "lang": "en",
            "data": {"url": url, **data},
        },
    )


async def add_pusher(user: User, gateway: Gateway, pushkey: str = "key-1", **data: Any) -> None:
    response = await set_pusher(user, gateway.url, pushkey, **data)
    assert response.status == 200, response.body


async def event_id(response: Any) -> str:
    assert response.status == 200, response.body
    return str(response.body["event_id"])


async def test_message_payload_full_and_event_id_only(client: Client, gateway: Gateway) -> None:
    (alice, bob, _), room_id = await users_in_public_room(client, "alice", "bob", "carol")
    await add_pusher(bob, gateway, "full", custom={"x": 1})
    await add_pusher(bob, gateway, "short", format="event_id_only")
    sent = await event_id(await alice.send(room_id, "hello there"))
    await gateway.wait(lambda: len(gateway.events()) == 2)
    by_key = {n["devices"][0]["pushkey"]: n for n in gateway.events()}
    full, short = by_key["full"], by_key["short"]
    [device] = full.pop("devices")
    assert isinstance(device.pop("pushkey_ts"), int)
    # A plain group message: notify without tweaks, so no tweaks and low priority.
    assert device == {"app_id": APP_ID, "pushkey": "full", "data": {"custom": {"x": 1}}}
    assert full == {
        "id": sent,
        "event_id": sent,
        "room_id": room_id,
        "type": "m.room.message",
        "sender": alice.user_id,
        "sender_display_name": "alice",
        "room_name": "alice and carol",
        "prio": "low",
        "content": {"msgtype": "m.text", "body": "hello there"},
        "counts": {"unread": 1},
    }
    [device] = short.pop("devices")
    assert device["data"] == {"format": "event_id_only"} and "tweaks" not in device
    assert short == {
        "id": sent,
        "event_id": sent,
        "room_id": room_id,
        "prio": "low",
        "counts": {"unread": 1},
    }


async def test_named_rooms_one_to_one_sound_and_the_unread_badge(
    client: Client, gateway: Gateway
) -> None:
    alice = await User.register(client, "alice")
    bob = await User.register(client, "bob")
    await add_pusher(bob, gateway)
    named = await alice.create_room(preset="public_chat", name="Mission Control")
    dm = await alice.create_room(preset="public_chat")
    for room in (named, dm):
        assert (await bob.join(room)).status == 200
    await alice.send(named, "one")
    await gateway.wait(lambda: len(gateway.events()) == 1)
    await alice.send(dm, "two")
    await gateway.wait(lambda: len(gateway.events()) == 2)
    first, second = gateway.events()
    assert first["room_name"] == "Mission Control"
    # Two members: the default rules add a sound, which makes it high priority. The room
    # has no name and one other member, whose name is the sender's: no room name.
    assert second["prio"] == "high" and "room_name" not in second
    assert second["devices"][0]["tweaks"] == {"sound": "default"}
    # The badge counts rooms with unread notifications.
    assert [first["counts"], second["counts"]] == [{"unread": 1}, {"unread": 2}]


async def test_mentions_and_invites_are_high_priority(client: Client, gateway: Gateway) -> None:
    (alice, bob, _), room_id = await users_in_public_room(client, "alice", "bob", "carol")
    await add_pusher(bob, gateway)
    await alice.send(room_id, "look here", **{"m.mentions": {"user_ids": [bob.user_id]}})
    await gateway.wait(lambda: len(gateway.events()) == 1)
    [mention] = gateway.events()
    assert mention["prio"] == "high"
    assert mention["devices"][0]["tweaks"] == {"highlight": True, "sound": "default"}
    private = await alice.create_room(preset="private_chat", name="Secret")
    invite = await alice.call("POST", f"/rooms/{private}/invite", {"user_id": bob.user_id})
    assert invite.status == 200, invite.body
    await gateway.wait(lambda: len(gateway.events()) == 2)
    invited = gateway.events()[1]
    assert invited["type"] == "m.room.member" and invited["room_id"] == private
    assert invited["membership"] == "invite" and invited["user_is_target"] is True
    assert invited["prio"] == "high"
    # The pending invite counts towards the badge, as in Synapse.
    assert invited["counts"] == {"unread": 2}


async def test_tweaks_come_from_the_actions(
    client: Client, gateway: Gateway, server: Homeserver
) -> None:
    (alice, bob), room_id = await users_in_public_room(client, "alice", "bob")
    await add_pusher(bob, gateway)
    # No default rule notifies for a custom event type: the actions are ours alone.
    sent = await event_id(
        await alice.call("PUT", f"/rooms/{room_id}/send/org.example.ping/t1", {"n": 1})
    )
    stores = server.services.push_delivery.stores
    loaded = await server.services.events.load(sent)
    actions = [
        "notify",
        {"set_tweak": "sound", "value": "ping"},
        {"set_tweak": "highlight", "value": False},
        {"set_tweak": "org.example.light", "value": "blue"},
    ]
    await stores.push_actions.add(
        [
            EventNotifications(
                room_id,
                sent,
                loaded.stream_ordering,
                MAIN_TIMELINE,
                0,
                [(bob.user_id, False, actions)],
            )
        ],
        await stores.push_actions.evaluated_upto(),
    )
    server.services.push_delivery.on_new_actions([bob.user_id])
    await gateway.wait(lambda: len(gateway.events()) == 1)
    [notification] = gateway.events()
    assert notification["type"] == "org.example.ping" and notification["content"] == {"n": 1}
    assert notification["devices"][0]["tweaks"] == {"sound": "ping", "org.example.light": "blue"}
    assert notification["prio"] == "high"


async def test_a_new_pusher_only_gets_what_comes_after_it(client: Client, gateway: Gateway) -> None:
    (alice, bob, _), room_id = await users_in_public_room(client, "alice", "bob", "carol")
    await alice.send(room_id, "before")
    await add_pusher(bob, gateway)
    after = await event_id(await alice.send(room_id, "after"))
    await gateway.wait(lambda: len(gateway.events()) == 1)
    assert [n["event_id"] for n in gateway.events()] == [after]


async def test_a_rejected_pushkey_removes_its_pusher(client: Client, gateway: Gateway) -> None:
    (alice, bob, _), room_id = await users_in_public_room(client, "alice", "bob", "carol")
    await add_pusher(bob, gateway, "dead-key")
    await add_pusher(bob, gateway, "live-key")

    def reject_dead(body: dict[str, Any]) -> Answer:
        key = body["notification"]["devices"][0]["pushkey"]
        return 200, {"rejected": [key] if key == "dead-key" else []}

    gateway.respond = reject_dead
    await alice.send(room_id, "one")
    await gateway.wait(lambda: len(gateway.events()) == 2)

    async def pushkeys() -> list[str]:
        listed = await bob.call("GET", "/pushers")
        return [p["pushkey"] for p in listed.body["pushers"]]

    deadline = asyncio.get_running_loop().time() + WAIT_S
    while await pushkeys() != ["live-key"]:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.02)


async def test_a_failing_gateway_gets_everything_in_order_once_it_recovers(
    client: Client, gateway: Gateway
) -> None:
    (alice, bob, _), room_id = await users_in_public_room(client, "alice", "bob", "carol")
    await add_pusher(bob, gateway)
    gateway.answers = [(500, {}), (502, {}), (503, {}), (404, {})]
    sent = [await event_id(await alice.send(room_id, f"message {n}")) for n in range(4)]
    await gateway.wait(lambda: len(gateway.events()) == 4)
    assert [n["event_id"] for n in gateway.events()] == sent
    assert len(gateway.requests) == 8


async def test_a_notification_failing_for_too_long_is_given_up(
    client: Client, gateway: Gateway, server: Homeserver
) -> None:
    delivery = server.services.push_delivery
    (alice, bob, _), room_id = await users_in_public_room(client, "alice", "bob", "carol")
    await add_pusher(bob, gateway)
    delivery.settings = dataclasses.replace(delivery.settings, give_up_after_ms=0)
    gateway.answers = [(500, {}), (500, {})]
    await alice.send(room_id, "lost 1")
    await alice.send(room_id, "lost 2")
    await gateway.wait(lambda: len(gateway.requests) == 2)
    kept = await event_id(await alice.send(room_id, "kept"))
    await gateway.wait(lambda: len(gateway.events()) == 1)
    assert [n["event_id"] for n in gateway.events()] == [kept]
    assert len(gateway.requests) == 3


async def test_a_restart_with_the_gateway_down_loses_nothing(
    database_url: str, tmp_path: Path, gateway: Gateway
) -> None:
    config = push_config(database_url, tmp_path)
    server = await start_server(config)
    try:
        async with aiohttp.ClientSession() as session:
            client = Client(session, f"http://127.0.0.1:{server.port}")
            (alice, bob, _), room_id = await users_in_public_room(client, "alice", "bob", "c")
            await add_pusher(bob, gateway)
            first = await event_id(await alice.send(room_id, "first"))
            await gateway.wait(lambda: len(gateway.events()) == 1)
            await gateway.down()
            sent = [await event_id(await alice.send(room_id, f"m{n}")) for n in range(3)]
            # Let delivery try and fail against the dead gateway before the stop.
            await asyncio.sleep(0.3)
    finally:
        await server.stop()
    server = await start_server(config)
    try:
        await asyncio.sleep(0.3)  # failing again after the start
        await gateway.up()
        await gateway.wait(lambda: len(gateway.events()) == 4)
        assert [n["event_id"] for n in gateway.events()] == [first, *sent]
    finally:
        await server.stop()


async def test_notifications_read_before_delivery_are_skipped(
    client: Client, gateway: Gateway, server: Homeserver
) -> None:
    (alice, bob, _), room_id = await users_in_public_room(client, "alice", "bob", "carol")
    await add_pusher(bob, gateway)
    await gateway.down()
    await alice.send(room_id, "one")
    read = await event_id(await alice.send(room_id, "two"))
    receipt = await bob.call("POST", f"/rooms/{room_id}/receipt/m.read/{read}", {})
    assert receipt.status == 200
    # A retry after the receipt finds both read and moves the pusher past them. (One that
    # read its page before the receipt could still send them, as in Synapse: wait for the
    # pusher's position rather than for time.)
    stores = server.services.push_delivery.stores
    position = (await server.services.events.load(read)).stream_ordering
    key = PusherKey(bob.user_id, APP_ID, "key-1")
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while (state := await stores.pushers.delivery(key)) is None or (
        state.last_stream_ordering < position
    ):
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.02)
    await gateway.up()
    later = await event_id(await alice.send(room_id, "three"))
    await gateway.wait(lambda: len(gateway.events()) >= 1)
    await asyncio.sleep(0.2)
    assert [n["event_id"] for n in gateway.events()] == [later]


async def test_a_read_receipt_sends_a_badge_update(client: Client, gateway: Gateway) -> None:
    (alice, bob, _), room_id = await users_in_public_room(client, "alice", "bob", "carol")
    other = await alice.create_room(preset="public_chat")
    assert (await bob.join(other)).status == 200
    await add_pusher(bob, gateway)
    await alice.send(other, "elsewhere")
    last = await event_id(await alice.send(room_id, "here"))
    await gateway.wait(lambda: len(gateway.events()) == 2)
    assert gateway.events()[-1]["counts"] == {"unread": 2}
    receipt = await bob.call("POST", f"/rooms/{room_id}/receipt/m.read/{last}", {})
    assert receipt.status == 200
    await gateway.wait(lambda: len(gateway.badges()) == 1)
    [badge] = gateway.badges()
    [device] = badge.pop("devices")
    assert device["pushkey"] == "key-1" and "tweaks" not in device
    assert badge == {"id": "", "type": None, "sender": "", "counts": {"unread": 1}}
    # The same badge again is not sent twice.
    again = await bob.call("POST", f"/rooms/{room_id}/receipt/m.read/{last}", {})
    assert again.status == 200
    await asyncio.sleep(0.2)
    assert len(gateway.badges()) == 1


async def test_a_pusher_on_a_private_address_is_refused(database_url: str, tmp_path: Path) -> None:
    server = await start_server(make_config(database_url, tmp_path))
    try:
        async with aiohttp.ClientSession() as session:
            client = Client(session, f"http://127.0.0.1:{server.port}")
            bob = await User.register(client, "bob")
            for host in (
                "127.0.0.1:8080",
                "10.0.0.1",
                "169.254.169.254",
                "[::1]",
                "[fd00::1]",
                "[::ffff:192.168.0.1]",
                "localhost:8080",
            ):
                refused = await set_pusher(bob, f"https://{host}{NOTIFY_PATH}")
                assert refused.status == 400, (host, refused.body)
                assert refused.errcode == "M_INVALID_PARAM"
                assert "private" in refused.body["error"]
            accepted = await set_pusher(bob, f"https://push.example.org{NOTIFY_PATH}")
            assert accepted.status == 200, accepted.body
    finally:
        await server.stop()


async def test_an_allow_listed_private_address_is_accepted(
    client: Client, gateway: Gateway
) -> None:
    bob = await User.register(client, "bob")
    assert (await set_pusher(bob, gateway.url)).status == 200
    refused = await set_pusher(bob, f"http://10.0.0.1{NOTIFY_PATH}", "other")
    assert refused.status == 400
    for invalid in (f"https://[::1{NOTIFY_PATH}", f"https://push.example.org:99999{NOTIFY_PATH}"):
        assert (await set_pusher(bob, invalid, "other")).errcode == "M_INVALID_PARAM"
