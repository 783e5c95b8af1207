"""Wakes exactly the waiting requests that care about a change, by user and by room.

The notifier carries positions, never data: a woken request reads what it needs from the
stores between its token and the new one. In worker mode the same calls arrive over Redis
(see `StreamNotifier`), so callers depend on the Protocol only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

from prometheus_client import Gauge

from homeserver.streams.change_index import ChangeIndex
from homeserver.types.stream_token import Stream, StreamToken

WAITING = Gauge("homeserver_sync_waiting", "Requests (syncs, WebSockets) waiting for a change")


class Listener(Protocol):
    async def wait(self, timeout_s: float) -> bool: ...


class StreamNotifier(Protocol):
    def notify(
        self,
        stream: Stream,
        position: int,
        *,
        users: Iterable[str] = (),
        rooms: Iterable[str] = (),
    ) -> None: ...

    @property
    def current_token(self) -> StreamToken: ...

    def listen(self, user_id: str, rooms: Iterable[str]) -> AbstractContextManager[Listener]: ...

    def changes(self, stream: Stream) -> ChangeIndex: ...


class _Waiter:
    """Registered before the caller reads the stores, so no wake-up can fall in between."""

    __slots__ = ("event", "rooms", "user_id")

    def __init__(self, user_id: str, rooms: frozenset[str]) -> None:
        self.user_id = user_id
        self.rooms = rooms
        self.event = asyncio.Event()

    async def wait(self, timeout_s: float) -> bool:
        """Whether something relevant happened (since registration or the last wait)."""
        if not self.event.is_set():
            try:
                async with asyncio.timeout(timeout_s):
                    await self.event.wait()
            except TimeoutError:
                return False
        self.event.clear()
        return True


class LocalNotifier:
    """The single-process notifier: an index of waiters by user and by room."""

    def __init__(self, current: StreamToken) -> None:
        self._current = current
        self._changes = {stream: ChangeIndex(current.get(stream)) for stream in Stream}
        self._by_user: dict[str, set[_Waiter]] = {}
        self._by_room: dict[str, set[_Waiter]] = {}
        self._waiting = 0
        WAITING.set_function(lambda: self._waiting)

    @property
    def current_token(self) -> StreamToken:
        return self._current

    @property
    def waiting(self) -> int:
        return self._waiting

    def notify(
        self,
        stream: Stream,
        position: int,
        *,
        users: Iterable[str] = (),
        rooms: Iterable[str] = (),
    ) -> None:
        self._current = self._current.advance(stream, position)
        users = tuple(users)
        rooms = tuple(rooms)
        index = self._changes[stream]
        index.record(position, users)
        index.record(position, rooms)
        for user_id in users:
            for waiter in self._by_user.get(user_id, ()):
                waiter.event.set()
        for room_id in rooms:
            for waiter in self._by_room.get(room_id, ()):
                waiter.event.set()

    def changes(self, stream: Stream) -> ChangeIndex:
        return self._changes[stream]

    @contextmanager
    def listen(self, user_id: str, rooms: Iterable[str]) -> Iterator[_Waiter]:
        waiter = _Waiter(user_id, frozenset(rooms))
        self._by_user.setdefault(user_id, set()).add(waiter)
        for room_id in waiter.rooms:
            self._by_room.setdefault(room_id, set()).add(waiter)
        self._waiting += 1
        try:
            yield waiter
        finally:
            self._waiting -= 1
            _discard(self._by_user, user_id, waiter)
            for room_id in waiter.rooms:
                _discard(self._by_room, room_id, waiter)


def _discard(index: dict[str, set[_Waiter]], key: str, waiter: _Waiter) -> None:
    waiters = index.get(key)
    if waiters is not None:
        waiters.discard(waiter)
        if not waiters:
            del index[key]
