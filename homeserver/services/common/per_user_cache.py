"""A value per user, read from the database once and kept until a stream names the user
again (rule 11: keyed by stream positions, invalidated by the rows the notifier sees)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from homeserver.services.common.lru_cache import LruCache
from homeserver.streams.notifier import StreamNotifier
from homeserver.types.stream_token import Stream

V = TypeVar("V")


class PerUserCache(Generic[V]):
    def __init__(
        self,
        notifier: StreamNotifier,
        stream: Stream,
        read: Callable[[str], Awaitable[V]],
        max_users: int,
    ) -> None:
        self.notifier = notifier
        self.stream = stream
        self.read = read
        self._cache: LruCache[str, tuple[int, V]] = LruCache(max_users)

    async def get(self, user_id: str) -> V:
        index = self.notifier.changes(self.stream)
        cached = self._cache.get(user_id)
        if cached is not None and not index.changed(user_id, cached[0]):
            return cached[1]
        # The position is taken before reading: a change published after it shows up in the
        # index as newer and causes a re-read next time.
        position = index.head
        value = await self.read(user_id)
        self._cache.put(user_id, (position, value))
        return value

    def invalidate(self, user_id: str) -> None:
        self._cache.pop(user_id)
