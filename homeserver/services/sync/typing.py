"""Typing notifications: held in memory, on their own stream, expiring on their own."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from homeserver.services.common.clock import Clock
from homeserver.streams.writer import StreamWriter
from homeserver.types.errors import BadRequest, Codes, Forbidden
from homeserver.types.requester import Requester
from storage.stores import Stores

MAX_TIMEOUT_MS = 120_000
DEFAULT_TIMEOUT_MS = 30_000


class TypingService:
    """Positions restart from 0 with the process; a client token from before a restart is
    ahead of the stream and simply gets the current typing state again."""

    def __init__(self, stores: Stores, clock: Clock, writer: StreamWriter) -> None:
        self.stores = stores
        self.clock = clock
        self.writer = writer
        self._typing: dict[str, dict[str, float]] = {}
        self._changed_at: dict[str, int] = {}
        self._position = writer.current
        self._timers: dict[tuple[str, str], asyncio.TimerHandle] = {}

    @property
    def position(self) -> int:
        return self._position

    def _bump(self, room_id: str) -> None:
        self._position += 1
        self._changed_at[room_id] = self._position
        self.writer.begin(self._position)
        self.writer.committed(self._position, rooms=[room_id])

    async def set_typing(
        self,
        requester: Requester,
        room_id: str,
        user_id: str,
        typing: bool,
        timeout_ms: int | None,
    ) -> None:
        if requester.user_id != user_id:
            raise Forbidden("You may only set your own typing state")
        membership = await self.stores.rooms.membership(room_id, user_id)
        if membership is None or membership.membership != "join":
            raise Forbidden("You are not in this room")
        key = (room_id, user_id)
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        users = self._typing.setdefault(room_id, {})
        if typing:
            if timeout_ms is None:
                timeout_ms = DEFAULT_TIMEOUT_MS
            if timeout_ms < 0:
                raise BadRequest("timeout must not be negative", Codes.INVALID_PARAM)
            timeout_s = min(timeout_ms, MAX_TIMEOUT_MS) / 1000
            was_typing = user_id in users
            users[user_id] = self.clock.monotonic() + timeout_s
            self._timers[key] = asyncio.get_running_loop().call_later(
                timeout_s, self._expire, room_id, user_id
            )
            if not was_typing:
                self._bump(room_id)
        elif users.pop(user_id, None) is not None:
            self._bump(room_id)

    def _expire(self, room_id: str, user_id: str) -> None:
        self._timers.pop((room_id, user_id), None)
        users = self._typing.get(room_id, {})
        if users.pop(user_id, None) is not None:
            self._bump(room_id)

    def for_sync(self, room_ids: Iterable[str], since: int | None) -> dict[str, dict[str, Any]]:
        stale = since is not None and since > self._position
        result = {}
        for room_id in room_ids:
            changed = self._changed_at.get(room_id)
            if changed is None:
                continue
            if since is None or stale or changed > since:
                users = sorted(self._typing.get(room_id, {}))
                result[room_id] = {"type": "m.typing", "content": {"user_ids": users}}
        return result
