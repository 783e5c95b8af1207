"""matrix-nio as a real client: accounts, then a conversation between two users."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import nio
import pytest

from homeserver.app import Homeserver

PASSWORD = "nio-password-1"


@pytest.fixture
async def base_url(server: Homeserver) -> AsyncIterator[str]:
    yield f"http://127.0.0.1:{server.port}"


async def _registered(base_url: str, name: str) -> nio.AsyncClient:
    client = nio.AsyncClient(base_url, name)
    response = await client.register(name, PASSWORD, device_name="nio test")
    assert isinstance(response, nio.RegisterResponse), response
    return client


async def test_register_login_whoami_logout(base_url: str) -> None:
    registering = await _registered(base_url, "alice")
    await registering.close()
    client = nio.AsyncClient(base_url, "@alice:test.local")
    try:
        login = await client.login(PASSWORD, device_name="laptop")
        assert isinstance(login, nio.LoginResponse), login
        assert login.user_id == "@alice:test.local"
        whoami = await client.whoami()
        assert isinstance(whoami, nio.WhoamiResponse), whoami
        assert whoami.user_id == "@alice:test.local"
        assert whoami.device_id == login.device_id
        logout = await client.logout()
        assert isinstance(logout, nio.LogoutResponse), logout
        after = await client.whoami()
        assert isinstance(after, nio.WhoamiError)
    finally:
        await client.close()


async def test_wrong_password_is_refused(base_url: str) -> None:
    await (await _registered(base_url, "bob")).close()
    client = nio.AsyncClient(base_url, "@bob:test.local")
    try:
        response = await client.login("wrong")
        assert isinstance(response, nio.LoginError)
        assert response.status_code == "M_FORBIDDEN"
    finally:
        await client.close()


async def test_two_users_talk_in_a_room(base_url: str) -> None:
    alice = await _registered(base_url, "alice")
    bob = await _registered(base_url, "bob")
    try:
        created = await alice.room_create(name="Chat", invite=["@bob:test.local"])
        assert isinstance(created, nio.RoomCreateResponse), created
        room_id = created.room_id
        joined = await bob.join(room_id)
        assert isinstance(joined, nio.JoinResponse), joined
        for client, text in ((alice, "hello bob"), (bob, "hi alice"), (alice, "how are you?")):
            sent = await client.room_send(
                room_id, "m.room.message", {"msgtype": "m.text", "body": text}
            )
            assert isinstance(sent, nio.RoomSendResponse), sent
        history = await bob.room_messages(room_id, limit=20)
        assert isinstance(history, nio.RoomMessagesResponse), history
        texts = [e.body for e in history.chunk if isinstance(e, nio.RoomMessageText)]
        assert texts == ["how are you?", "hi alice", "hello bob"]
    finally:
        await alice.close()
        await bob.close()


async def _next_sync(client: nio.AsyncClient, since: str) -> nio.SyncResponse:
    response = await client.sync(timeout=10_000, since=since)
    assert isinstance(response, nio.SyncResponse), response
    return response


async def test_long_poll_sync_delivers_messages_typing_and_receipts(base_url: str) -> None:
    """Two nio clients long-poll; a WebSocket for the same user sees the same message."""
    alice = await _registered(base_url, "alice")
    bob = await _registered(base_url, "bob")
    try:
        created = await alice.room_create(name="Live", invite=["@bob:test.local"])
        assert isinstance(created, nio.RoomCreateResponse), created
        room_id = created.room_id
        assert isinstance(await bob.join(room_id), nio.JoinResponse)
        since = (await bob.sync(timeout=0)).next_batch
        url = f"{base_url}/_matrix/client/unstable/org.homeserver.sync_ws/sync"
        async with aiohttp.ClientSession() as session:
            params = {"access_token": bob.access_token, "since": since}
            async with session.ws_connect(url, params=params) as socket:
                poll = asyncio.create_task(_next_sync(bob, since))
                await asyncio.sleep(0.2)
                sent = await alice.room_send(
                    room_id, "m.room.message", {"msgtype": "m.text", "body": "live"}
                )
                assert isinstance(sent, nio.RoomSendResponse), sent
                woken = await asyncio.wait_for(poll, 5)
                events = woken.rooms.join[room_id].timeline.events
                assert [e.body for e in events if isinstance(e, nio.RoomMessageText)] == ["live"]
                # The socket first answers for `since` itself, then pushes what is new.
                pushed: dict[str, Any] = {}
                while room_id not in pushed.get("rooms", {}).get("join", {}):
                    pushed = json.loads((await socket.receive(timeout=5)).data)
                pushed_events = pushed["rooms"]["join"][room_id]["timeline"]["events"]
                assert [e["event_id"] for e in pushed_events] == [sent.event_id]

        poll = asyncio.create_task(_next_sync(bob, woken.next_batch))
        await asyncio.sleep(0.2)
        assert isinstance(await alice.room_typing(room_id, True), nio.RoomTypingResponse)
        woken = await asyncio.wait_for(poll, 5)
        typing = [
            e for e in woken.rooms.join[room_id].ephemeral if isinstance(e, nio.TypingNoticeEvent)
        ]
        assert typing and typing[0].users == ["@alice:test.local"]

        poll = asyncio.create_task(_next_sync(alice, (await alice.sync(timeout=0)).next_batch))
        await asyncio.sleep(0.2)
        read = await bob.update_receipt_marker(room_id, sent.event_id)
        assert isinstance(read, nio.UpdateReceiptMarkerResponse), read
        woken = await asyncio.wait_for(poll, 5)
        receipts = [
            r
            for e in woken.rooms.join[room_id].ephemeral
            if isinstance(e, nio.ReceiptEvent)
            for r in e.receipts
        ]
        assert [(r.event_id, r.user_id) for r in receipts] == [(sent.event_id, "@bob:test.local")]
    finally:
        await alice.close()
        await bob.close()
