"""matrix-nio as a real client: accounts, then a conversation between two users."""

from __future__ import annotations

from collections.abc import AsyncIterator

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
