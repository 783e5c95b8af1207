"""The recent presence changes, by room and by user, in memory.

A sync that presence woke (or that presence changes reached while it waited) asks which
users sharing a room with it changed between two positions. With the changes indexed by the
rooms their users were in, that is a lookup per joined room, with no database read; the
database answers only for positions older than what is kept (after a restart, or a long
absence). Kept in the process that writes presence, as Synapse keeps it in its presence
writer: each change is recorded as it is written.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections import deque
from collections.abc import Iterable
from typing import NamedTuple

from storage.stores.presence import PresenceRow

_DEFAULT_MAX_CHANGES = 100_000


class _Change(NamedTuple):
    position: int
    row: PresenceRow
    entities: tuple[str, ...]


def _position(change: _Change) -> int:
    return change.position


class PresenceChanges:
    def __init__(self, start: int, max_changes: int = _DEFAULT_MAX_CHANGES) -> None:
        # Positions after `_earliest` are all here (or were never written).
        self._earliest = start
        self._max = max_changes
        self._changes: deque[_Change] = deque()
        self._by_entity: dict[str, list[_Change]] = {}

    def record(self, position: int, row: PresenceRow, rooms: Iterable[str]) -> None:
        """`row` was written at `position`, while its user was joined to `rooms`."""
        change = _Change(position, row, (row.user_id, *rooms))
        self._changes.append(change)
        for entity in change.entities:
            # Writes can finish out of order: keep each list in position order.
            insort(self._by_entity.setdefault(entity, []), change, key=_position)
        if len(self._changes) > self._max:
            self._forget_oldest(len(self._changes) - self._max // 2)

    def _forget_oldest(self, count: int) -> None:
        dropped = [self._changes.popleft() for _ in range(count)]
        self._earliest = max(self._earliest, *(change.position for change in dropped))
        for entity in {entity for change in dropped for entity in change.entities}:
            changes = self._by_entity[entity]
            keep = bisect_right(changes, self._earliest, key=_position)
            if keep == len(changes):
                del self._by_entity[entity]
            else:
                del changes[:keep]

    def changed(self, entities: Iterable[str], since: int, upto: int) -> list[PresenceRow] | None:
        """The latest row of each user whose change in (since, upto] was recorded for any of
        `entities` (the user's rooms, or the user), or None when changes after `since` may
        have been forgotten."""
        if since < self._earliest:
            return None
        latest: dict[str, _Change] = {}
        for entity in entities:
            changes = self._by_entity.get(entity)
            if not changes:
                continue
            first = bisect_right(changes, since, key=_position)
            last = bisect_right(changes, upto, key=_position)
            for change in changes[first:last]:
                seen = latest.get(change.row.user_id)
                if seen is None or seen.position < change.position:
                    latest[change.row.user_id] = change
        return [change.row for change in latest.values()]
