"""Which users and rooms a stream changed for, and at what position, held in memory.

Fed by the same notifications that wake listeners, so it is exact for every position it has
seen: sync asks it whether anything can have changed for a user since a token, and answers
"nothing" without touching the database. A position from before the index started (a
restart) or from past the stream's head (typing, whose positions restart with the process)
is unknown, and unknown means "maybe changed".
"""

from __future__ import annotations

from collections.abc import Iterable

_DEFAULT_MAX_ENTITIES = 200_000


class ChangeIndex:
    """Last changed position per entity (user ID or room ID) of one stream."""

    def __init__(self, start: int, max_entities: int = _DEFAULT_MAX_ENTITIES) -> None:
        self._earliest = start
        self._head = start
        self._last: dict[str, int] = {}
        self._max = max_entities

    @property
    def head(self) -> int:
        return self._head

    def record(self, position: int, entities: Iterable[str]) -> None:
        self._head = max(self._head, position)
        for entity in entities:
            # Re-inserting keeps the dict in order of last change, oldest first.
            self._last.pop(entity, None)
            self._last[entity] = position
        if len(self._last) > self._max:
            self._forget_oldest()

    def _forget_oldest(self) -> None:
        drop = len(self._last) - self._max // 2
        for entity in list(self._last)[:drop]:
            self._earliest = max(self._earliest, self._last.pop(entity))

    def knows(self, since: int) -> bool:
        return self._earliest <= since <= self._head

    def changed(self, entity: str, since: int) -> bool:
        return not self.knows(since) or self._last.get(entity, 0) > since

    def changed_since(self, since: int) -> list[str] | None:
        """Every entity changed after `since` (newest first), or None when the index cannot
        tell: costs the number of changes, not the number of entities watched."""
        if not self.knows(since):
            return None
        changed = []
        for entity, position in reversed(self._last.items()):
            if position <= since:
                break
            changed.append(entity)
        return changed

    def changed_among(self, entities: Iterable[str], since: int) -> set[str] | None:
        """The entities changed after `since`, or None when the index cannot tell."""
        if not self.knows(since):
            return None
        last = self._last
        return {e for e in entities if last.get(e, 0) > since}
