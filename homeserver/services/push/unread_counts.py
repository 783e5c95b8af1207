"""Unread counts per (user, room) kept in memory, so that a sync woken by a message does not
count the user's notifications again in Postgres.

An entry is read from the database once and then kept exact: push evaluation adds the
notifications it stores to the entries it finds, and whatever can lower counts or make them
unknowable (a read receipt, a membership change, pruning) drops the entries concerned.
Each such change runs inside `changing()`, and a database read is kept only when no change
was under way at any moment between its start and its end: a read that overlapped a commit
may or may not have seen it, and an entry made from it could count a notification twice
or miss it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

from homeserver.services.common.lru_cache import LruCache
from storage.stores.push_actions import EventNotifications, ThreadCounts

_NONE: Mapping[str, ThreadCounts] = {}

ReadToken = tuple[int, int]


class UnreadCountCache:
    def __init__(self, max_entries: int) -> None:
        self._entries: LruCache[tuple[str, str], Mapping[str, ThreadCounts]] = LruCache(max_entries)
        self._changing = 0
        self._version = 0

    def get(self, user_id: str, room_id: str) -> Mapping[str, ThreadCounts] | None:
        return self._entries.get((user_id, room_id))

    def before_read(self) -> ReadToken:
        return self._version, self._changing

    def after_read(
        self,
        token: ReadToken,
        user_id: str,
        room_ids: Sequence[str],
        counts: Mapping[str, Mapping[str, ThreadCounts]],
    ) -> None:
        """Keep what a database read found for these rooms (none: no unread), unless a
        change overlapped the read."""
        if token != (self._version, 0) or self._changing:
            return
        for room_id in room_ids:
            self._entries.put((user_id, room_id), counts.get(room_id) or _NONE)

    @contextmanager
    def changing(self) -> Iterator[None]:
        """Around a write that changes counts, from before it starts until after its
        commit and the entries it concerns are updated or dropped."""
        self._changing += 1
        try:
            yield
        finally:
            self._changing -= 1
            self._version += 1

    def add(self, notified: Sequence[EventNotifications]) -> None:
        """New notifications, committed: counted into the entries that exist."""
        for event in notified:
            for user_id, highlight, _ in event.recipients:
                key = (user_id, event.room_id)
                entry = self._entries.get(key)
                if entry is None:
                    continue
                before = entry.get(event.thread_id)
                after = ThreadCounts(
                    (before.notifications if before else 0) + 1,
                    (before.highlights if before else 0) + (1 if highlight else 0),
                )
                self._entries.put(key, {**entry, event.thread_id: after})

    def forget(self, user_id: str, room_id: str) -> None:
        self._entries.pop((user_id, room_id))

    def clear(self) -> None:
        self._entries.clear()
