"""The newest events of recently active rooms, as stored rows, so that the members woken by
a new event do not each read it from Postgres.

For each room the cache holds every event with a stream position in an interval (lo, hi],
newest first. A request inside the interval is answered from memory; anything else reads
the database and widens the interval. It is filled only from what was read, so it works
the same whichever process wrote the events. A redaction changes an older row (its
`redacted_by`), so seeing one drops the room's interval.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from homeserver.services.common.lru_cache import LruCache
from storage.stores import Stores
from storage.stores.events import StoredEvent

_REDACTION = "m.room.redaction"


@dataclass(frozen=True, slots=True)
class _Tail:
    lo: int
    hi: int
    rows: tuple[StoredEvent, ...]


class RecentRoomEvents:
    def __init__(self, stores: Stores, max_rooms: int = 20_000, per_room: int = 50) -> None:
        self.stores = stores
        self.per_room = per_room
        self._tails: LruCache[str, _Tail] = LruCache(max_rooms)
        self._reading: dict[str, asyncio.Future[None]] = {}

    async def pages(
        self, room_ids: list[str], since: int, upto: int, limit: int
    ) -> dict[str, list[StoredEvent]]:
        """Per room, the newest `limit` events with position in (since, upto], newest first."""
        result: dict[str, list[StoredEvent]] = {}
        misses = self._answer(room_ids, since, upto, limit, result)
        # The members woken by one event all ask at once: wait for a read already under way
        # for the room rather than repeat it.
        pending = {self._reading[r] for r in misses if r in self._reading}
        if pending:
            await asyncio.wait(pending)
            misses = self._answer(misses, since, upto, limit, result)
        if not misses:
            return result
        reading = asyncio.get_running_loop().create_future()
        for room_id in misses:
            self._reading[room_id] = reading
        try:
            fetched = await self.stores.events.room_stream_pages(misses, since, upto, limit)
        finally:
            for room_id in misses:
                if self._reading.get(room_id) is reading:
                    del self._reading[room_id]
            reading.set_result(None)
        for room_id, rows in fetched.items():
            result[room_id] = rows
            # A short page is everything in (since, upto]; a full one, everything from its
            # oldest row on.
            lo = since if len(rows) < limit else rows[-1].stream_ordering - 1
            self._remember(room_id, _Tail(lo, upto, tuple(rows)))
        return result

    def _answer(
        self,
        room_ids: list[str],
        since: int,
        upto: int,
        limit: int,
        result: dict[str, list[StoredEvent]],
    ) -> list[str]:
        """Fill `result` from memory where it can; return the rooms it could not."""
        misses = []
        for room_id in room_ids:
            tail = self._tails.get(room_id)
            if tail is not None and tail.lo <= since and upto <= tail.hi:
                rows = [r for r in tail.rows if since < r.stream_ordering <= upto]
                result[room_id] = rows[:limit]
            else:
                misses.append(room_id)
        return misses

    def _remember(self, room_id: str, new: _Tail) -> None:
        if any(row.type == _REDACTION for row in new.rows):
            self._tails.pop(room_id)
            return
        old = self._tails.get(room_id)
        if old is not None and new.lo <= old.hi and old.lo <= new.hi:
            by_id = {row.event_id: row for row in (*old.rows, *new.rows)}
            rows = sorted(by_id.values(), key=lambda r: r.stream_ordering, reverse=True)
            new = _Tail(min(old.lo, new.lo), max(old.hi, new.hi), tuple(rows))
        elif old is not None and old.hi > new.hi:
            return
        if len(new.rows) > self.per_room:
            kept = new.rows[: self.per_room]
            new = _Tail(kept[-1].stream_ordering - 1, new.hi, kept)
        self._tails.put(room_id, new)
