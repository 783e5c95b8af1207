"""Helpers for room tests: users with tokens and short calls for common actions."""

from __future__ import annotations

import itertools
from typing import Any

from tests.api.harness import Client, Response

V3 = "/_matrix/client/v3"
_txn = itertools.count()


class User:
    def __init__(self, client: Client, body: dict[str, Any]) -> None:
        self.client = client
        self.user_id: str = body["user_id"]
        self.token: str = body["access_token"]

    @classmethod
    async def register(cls, client: Client, name: str) -> User:
        return cls(client, await client.register(name))

    async def call(self, method: str, path: str, body: Any = None, **kw: Any) -> Response:
        return await self.client.request(method, V3 + path, body, token=self.token, **kw)

    async def create_room(self, **body: Any) -> str:
        response = await self.call("POST", "/createRoom", body)
        assert response.status == 200, response.body
        return str(response.body["room_id"])

    async def send(self, room_id: str, body: str = "hello", **content: Any) -> Response:
        return await self.call(
            "PUT",
            f"/rooms/{room_id}/send/m.room.message/t{next(_txn)}",
            {"msgtype": "m.text", "body": body, **content},
        )

    async def join(self, room: str) -> Response:
        return await self.call("POST", f"/join/{room}", {})

    async def messages(self, room_id: str, **params: str) -> Response:
        return await self.call("GET", f"/rooms/{room_id}/messages", params=params)


async def users_in_public_room(client: Client, *names: str) -> tuple[list[User], str]:
    """Registered users, the first of whom created a public room that the others joined."""
    users = [await User.register(client, name) for name in names]
    room_id = await users[0].create_room(preset="public_chat")
    for user in users[1:]:
        joined = await user.join(room_id)
        assert joined.status == 200, joined.body
    return users, room_id
