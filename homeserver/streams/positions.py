"""Stream positions that readers may safely advance to.

Positions are handed out in order but transactions commit in any order. A reader that saw
position 11 committed while 10 was still in flight, and moved its token to 11, would never
see 10. So the writer tracks in-flight positions and publishes only the highest position
below which everything has committed.
"""

from __future__ import annotations

import heapq


class StreamPositionTracker:
    def __init__(self, current: int) -> None:
        self._current = current
        self._in_flight: set[int] = set()
        self._finished: list[int] = []

    @property
    def current(self) -> int:
        """Every position up to and including this one has committed (or was abandoned)."""
        return self._current

    def begin(self, position: int) -> None:
        if position <= self._current:
            raise ValueError(f"position {position} is not after the current {self._current}")
        self._in_flight.add(position)

    def finish(self, position: int) -> bool:
        """Mark `position` committed or abandoned; returns whether `current` moved."""
        self._in_flight.discard(position)
        heapq.heappush(self._finished, position)
        before = self._current
        lowest_in_flight = min(self._in_flight, default=None)
        while self._finished and (lowest_in_flight is None or self._finished[0] < lowest_in_flight):
            self._current = max(self._current, heapq.heappop(self._finished))
        return self._current != before
