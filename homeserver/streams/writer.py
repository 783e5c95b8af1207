"""The writer side of one stream: allocate positions, publish them in order, then notify.

A change committed at a position that cannot be published yet (an earlier one is still in
flight) is held back with its rooms and users, and announced once the position is.
"""

from __future__ import annotations

import heapq
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from homeserver.streams.notifier import StreamNotifier
from homeserver.streams.positions import StreamPositionTracker
from homeserver.types.stream_token import Stream


@dataclass(order=True)
class _Pending:
    position: int
    rooms: frozenset[str] = field(compare=False)
    users: frozenset[str] = field(compare=False)


class StreamWriter:
    def __init__(self, stream: Stream, current: int, notifier: StreamNotifier) -> None:
        self.stream = stream
        self.notifier = notifier
        self._tracker = StreamPositionTracker(current)
        self._pending: list[_Pending] = []

    @property
    def current(self) -> int:
        return self._tracker.current

    def begin(self, position: int) -> None:
        self._tracker.begin(position)

    def committed(
        self, position: int, *, rooms: Iterable[str] = (), users: Iterable[str] = ()
    ) -> None:
        heapq.heappush(self._pending, _Pending(position, frozenset(rooms), frozenset(users)))
        self._publish(position)

    async def write(
        self,
        position: int,
        action: Callable[[], Awaitable[object]],
        *,
        rooms: Iterable[str] = (),
        users: Iterable[str] = (),
    ) -> None:
        """Run `action` (which stores the change at `position`) and publish or abandon it."""
        self.begin(position)
        try:
            await action()
        except BaseException:
            self.abandoned(position)
            raise
        self.committed(position, rooms=rooms, users=users)

    def abandoned(self, position: int) -> None:
        self._publish(position)

    def _publish(self, position: int) -> None:
        if not self._tracker.finish(position):
            return
        rooms: set[str] = set()
        users: set[str] = set()
        while self._pending and self._pending[0].position <= self._tracker.current:
            change = heapq.heappop(self._pending)
            rooms |= change.rooms
            users |= change.users
        self.notifier.notify(self.stream, self._tracker.current, rooms=rooms, users=users)
