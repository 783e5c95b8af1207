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
    """Registered before the caller reads the stores, so no wake-up can fall in between.

    One is held for every open long-poll, so it keeps a bare future only while waiting
    (an asyncio.Event would keep a queue of its own for each).
    """

    __slots__ = ("_future", "_woken", "rooms", "user_id")

    def __init__(self, user_id: str, rooms: frozenset[str]) -> None:
        self.user_id = user_id
        self.rooms = rooms
        self._woken = False
        self._future: asyncio.Future[bool] | None = None

    def wake(self) -> None:
        self._woken = True
        if self._future is not None:
            _resolve(self._future, True)

    async def wait(self, timeout_s: float) -> bool:
        """Whether something relevant happened (since registration or the last wait)."""
        if not self._woken:
            loop = asyncio.get_running_loop()
            future = self._future = loop.create_future()
            timer = loop.call_later(timeout_s, _resolve, future, False)
            try:
                if not await future:
                    return False
            finally:
                timer.cancel()
                self._future = None
        self._woken = False
        return True


def _resolve(future: asyncio.Future[bool], woken: bool) -> None:
    if not future.done():
        future.set_result(woken)


class LocalNotifier:
    """The single-process notifier: an index of waiters by user and by room.

    Presence is the one stream whose changes reach every member of every room a user is in
    (it is announced for those rooms): in large rooms one user coming online would wake
    hundreds of long-polls, and a wave of such changes would keep them all syncing back to
    back. So two bounds apply to presence only:
    - in a room where more than `presence_wake_room_limit` requests wait, a change is
      recorded (each one's next sync carries it, at the latest when its long-poll times
      out) but wakes nobody;
    - a user's requests are woken for presence at most once per `presence_wake_interval_s`:
      the first change wakes them at once, later ones within the interval wake them when it
      ends. Nothing is lost: the token already includes every change, so any earlier
      wake-up carries them too.
    """

    def __init__(
        self,
        current: StreamToken,
        presence_wake_interval_s: float = 0.0,
        presence_wake_room_limit: int | None = None,
    ) -> None:
        self._current = current
        self._presence_interval = presence_wake_interval_s
        self._presence_room_limit = presence_wake_room_limit
        self._presence_woken: dict[str, float] = {}
        self._presence_pending: set[str] = set()
        self._presence_flush: asyncio.TimerHandle | None = None
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
        if stream is Stream.PRESENCE:
            users, rooms = self._presence_wakes(users, rooms), ()
        for user_id in users:
            self._wake_user(user_id)
        for room_id in rooms:
            for waiter in self._by_room.get(room_id, ()):
                waiter.wake()

    def changes(self, stream: Stream) -> ChangeIndex:
        return self._changes[stream]

    def _wake_user(self, user_id: str) -> None:
        for waiter in self._by_user.get(user_id, ()):
            waiter.wake()

    def _presence_wakes(self, users: tuple[str, ...], rooms: tuple[str, ...]) -> list[str]:
        """Whom a presence change wakes: its users, and those waiting in its rooms unless
        too many wait there; each within their interval."""
        limit = self._presence_room_limit
        wake = set(users)
        for room_id in rooms:
            waiters = self._by_room.get(room_id, ())
            if limit is None or len(waiters) <= limit:
                wake.update(waiter.user_id for waiter in waiters)
        if self._presence_interval > 0:
            return self._presence_due(wake)
        return list(wake)

    def _presence_due(self, users: Iterable[str]) -> list[str]:
        """The users to wake now; the others wait for the end of their interval."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        due = []
        for user_id in users:
            if now - self._presence_woken.get(user_id, -self._presence_interval) >= (
                self._presence_interval
            ):
                self._presence_woken[user_id] = now
                due.append(user_id)
            else:
                self._presence_pending.add(user_id)
        if self._presence_pending and self._presence_flush is None:
            self._presence_flush = loop.call_later(self._presence_interval, self._flush_presence)
        return due

    def _flush_presence(self) -> None:
        self._presence_flush = None
        now = asyncio.get_running_loop().time()
        pending, self._presence_pending = self._presence_pending, set()
        for user_id in pending:
            self._presence_woken[user_id] = now
            self._wake_user(user_id)
        # Who was woken long enough ago may be woken at once again: forget them.
        horizon = now - self._presence_interval
        self._presence_woken = {u: t for u, t in self._presence_woken.items() if t > horizon}
        if self._presence_pending:
            self._presence_flush = asyncio.get_running_loop().call_later(
                self._presence_interval, self._flush_presence
            )

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
