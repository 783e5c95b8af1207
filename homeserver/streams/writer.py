"""The writer side of one stream: allocate positions, publish them in order, then notify.

A change committed at a position that cannot be published yet (an earlier one is still in
flight) is held back with its rooms and users, and announced once the position is.
"""

from __future__ import annotations

import asyncio
import heapq
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from homeserver.streams.notifier import StreamNotifier
from homeserver.streams.positions import StreamPositionTracker
from homeserver.types.stream_token import Stream

_MAX_BLOCK = 64


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
        self._allocating = asyncio.Lock()
        self._reserved: deque[int] = deque()
        self._block = 1
        self._subscribers: list[Callable[[int], None]] = []

    @property
    def current(self) -> int:
        return self._tracker.current

    def subscribe(self, callback: Callable[[int], None]) -> None:
        """Call `callback` with the new position each time the stream publishes (after the
        notifier): for consumers that follow the stream in order, such as push evaluation."""
        self._subscribers.append(callback)

    def begin(self, position: int) -> None:
        """Start a position the caller numbers itself (an in-memory stream); positions from
        a database sequence go through `allocate`."""
        self._tracker.begin(position)

    async def allocate(self, next_positions: Callable[[int], Awaitable[list[int]]]) -> int:
        """A new position from the stream's sequence, begun as it is handed out.

        Positions are reserved from the sequence a block at a time and handed out in order
        without awaiting anything, so each is begun before any later one: were two writers
        to await the sequence at once, they could begin out of order, and the later position
        could be published while the earlier one is still unknown to the tracker (readers
        would skip it). One round trip per block instead of per position also keeps the
        reservation from becoming the queue every write of the stream waits in. Reserved
        positions left unused at shutdown are gaps, which readers never wait for.
        """
        while not self._reserved:
            async with self._allocating:
                if not self._reserved:
                    self._reserved.extend(await next_positions(self._block))
                    # Busy streams reserve more at once, up to a limit.
                    self._block = min(self._block * 2, _MAX_BLOCK)
        position = self._reserved.popleft()
        self._tracker.begin(position)
        return position

    def committed(
        self, position: int, *, rooms: Iterable[str] = (), users: Iterable[str] = ()
    ) -> None:
        heapq.heappush(self._pending, _Pending(position, frozenset(rooms), frozenset(users)))
        self._publish(position)

    async def write(
        self,
        next_positions: Callable[[int], Awaitable[list[int]]],
        action: Callable[[int], Awaitable[object]],
        *,
        rooms: Iterable[str] = (),
        users: Iterable[str] = (),
    ) -> int:
        """Allocate a position, run `action` (which stores the change at it) and publish or
        abandon it."""
        position = await self.allocate(next_positions)
        try:
            await action(position)
        except BaseException:
            self.abandoned(position)
            raise
        self.committed(position, rooms=rooms, users=users)
        return position

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
        for callback in self._subscribers:
            callback(self._tracker.current)
