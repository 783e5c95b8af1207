"""Account data and room tags (tags are the `m.tag` room account data)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from homeserver.services.common.keyed_lock import KeyedLock
from homeserver.streams.writer import StreamWriter
from homeserver.types.errors import BadRequest, Codes, Forbidden, MatrixError, NotFound
from homeserver.types.requester import Requester
from storage.stores import Stores
from storage.stores.account_data import GLOBAL

TAG = "m.tag"
# Written by the server itself (read markers, push rules API), never through these endpoints.
_SERVER_MANAGED = {"m.fully_read", "m.push_rules"}


class AccountDataService:
    def __init__(self, stores: Stores, writer: StreamWriter) -> None:
        self.stores = stores
        self.writer = writer
        # Per-user lock so tag read-modify-write cycles do not lose concurrent updates.
        self._locks = KeyedLock()
        # Global types another service keeps and computes (m.push_rules: the push rules).
        self._computed: dict[str, Callable[[str], Awaitable[dict[str, Any]]]] = {}

    def serve(self, data_type: str, read: Callable[[str], Awaitable[dict[str, Any]]]) -> None:
        """GET of the global `data_type` answers `read(user_id)`."""
        self._computed[data_type] = read

    def _check_owner(self, requester: Requester, user_id: str) -> None:
        if requester.user_id != user_id:
            raise Forbidden("Cannot access the account data of other users")

    @staticmethod
    def _check_room_id(room_id: str) -> None:
        if not room_id.startswith("!"):
            raise BadRequest(f"{room_id!r} is not a room ID", Codes.INVALID_PARAM)

    async def put(
        self,
        requester: Requester,
        user_id: str,
        room_id: str | None,
        data_type: str,
        content: dict[str, Any],
    ) -> None:
        """Client writes; `room_id` None for global account data."""
        self._check_owner(requester, user_id)
        if room_id is not None:
            self._check_room_id(room_id)
        if data_type in _SERVER_MANAGED:
            raise MatrixError(405, Codes.BAD_JSON, f"{data_type} is managed by the server")
        await self.write(user_id, room_id or GLOBAL, data_type, content)

    async def write(
        self,
        user_id: str,
        room_id: str,
        data_type: str,
        content: dict[str, Any],
    ) -> int:
        """Store and announce; also used by other services for server-managed types."""
        return await self.writer.write(
            self.stores.account_data.next_positions,
            lambda position: self.stores.account_data.put(
                user_id, room_id, data_type, content, position
            ),
            users=[user_id],
        )

    async def get(
        self, requester: Requester, user_id: str, room_id: str | None, data_type: str
    ) -> dict[str, Any]:
        self._check_owner(requester, user_id)
        if room_id is not None:
            self._check_room_id(room_id)
        elif data_type in self._computed:
            return await self._computed[data_type](user_id)
        content = await self.stores.account_data.get(user_id, room_id or GLOBAL, data_type)
        if content is None:
            raise NotFound("No account data of that type")
        return content

    async def tags(self, requester: Requester, user_id: str, room_id: str) -> dict[str, Any]:
        self._check_owner(requester, user_id)
        self._check_room_id(room_id)
        content = await self.stores.account_data.get(user_id, room_id, TAG) or {}
        tags = content.get("tags")
        return {"tags": tags if isinstance(tags, dict) else {}}

    async def _update_tags(
        self, user_id: str, room_id: str, change: Callable[[dict[str, Any]], None]
    ) -> None:
        async with self._locks.hold(user_id):
            content = await self.stores.account_data.get(user_id, room_id, TAG) or {}
            tags = content.get("tags")
            tags = dict(tags) if isinstance(tags, dict) else {}
            change(tags)
            await self.write(user_id, room_id, TAG, {**content, "tags": tags})

    async def add_tag(
        self, requester: Requester, user_id: str, room_id: str, tag: str, body: dict[str, Any]
    ) -> None:
        self._check_owner(requester, user_id)
        self._check_room_id(room_id)
        order = body.get("order")
        if order is not None and (isinstance(order, bool) or not isinstance(order, int | float)):
            raise BadRequest("order must be a number", Codes.BAD_JSON)
        if len(tag.encode()) > 255:
            raise BadRequest("Tag too long", Codes.INVALID_PARAM)
        await self._update_tags(user_id, room_id, lambda tags: tags.__setitem__(tag, body))

    async def remove_tag(self, requester: Requester, user_id: str, room_id: str, tag: str) -> None:
        self._check_owner(requester, user_id)
        self._check_room_id(room_id)
        await self._update_tags(user_id, room_id, lambda tags: tags.pop(tag, None))
