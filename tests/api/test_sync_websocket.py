"""Sync over a WebSocket: live delivery, and resuming after a disconnect."""

from __future__ import annotations

import asyncio
import json

import aiohttp

from homeserver.app import Homeserver
from tests.api.harness import Client
from tests.api.rooms_helpers import User

PATH = "/_matrix/client/unstable/org.homeserver.sync_ws/sync"


def messages(payload: dict, room_id: str) -> list[str]:  # type: ignore[type-arg]
    room = payload["rooms"]["join"].get(room_id, {})
    return [
        e["content"]["body"]
        for e in room.get("timeline", {}).get("events", [])
        if e["type"] == "m.room.message"
    ]


async def test_websocket_streams_and_resumes(client: Client, server: Homeserver) -> None:
    alice = await User.register(client, "alice")
    bob = await User.register(client, "bob")
    room_id = await alice.create_room(preset="public_chat")
    await bob.join(room_id)
    url = f"http://127.0.0.1:{server.port}{PATH}"
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url, params={"access_token": bob.token}) as socket:
            initial = json.loads((await socket.receive(timeout=5)).data)
            assert room_id in initial["rooms"]["join"]
            await alice.send(room_id, "live")
            update = json.loads((await socket.receive(timeout=5)).data)
            assert messages(update, room_id) == ["live"]
            last = update["next_batch"]
        await alice.send(room_id, "while away")
        params = {"access_token": bob.token, "since": last}
        async with session.ws_connect(url, params=params) as socket:
            resumed = json.loads((await socket.receive(timeout=5)).data)
            assert messages(resumed, room_id) == ["while away"]
        try:
            await session.ws_connect(url, params={"access_token": "bad"})
        except aiohttp.WSServerHandshakeError as refused:
            assert refused.status == 401
        else:
            raise AssertionError("an unknown token opened a socket")


async def test_websocket_needs_a_valid_token(client: Client, server: Homeserver) -> None:
    response = await client.request("GET", PATH)
    assert (response.status, response.errcode) == (401, "M_MISSING_TOKEN")
    await asyncio.sleep(0)
