"""A value per user, read from the database once and kept until a stream names the user
again (rule 11: keyed by stream positions, invalidated by the rows the notifier sees)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
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
        read_many: Callable[[list[str]], Awaitable[dict[str, V]]] | None = None,
    ) -> None:
        self.notifier = notifier
        self.stream = stream
        self.read = read
        self.read_many = read_many
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

    async def get_many(self, user_ids: Iterable[str]) -> dict[str, V]:
        """`get` for many users, reading those not cached in one `read_many` call."""
        assert self.read_many is not None
        index = self.notifier.changes(self.stream)
        found: dict[str, V] = {}
        missing: list[str] = []
        for user_id in user_ids:
            cached = self._cache.get(user_id)
            if cached is not None and not index.changed(user_id, cached[0]):
                found[user_id] = cached[1]
            else:
                missing.append(user_id)
        if missing:
            position = index.head
            read = await self.read_many(missing)
            for user_id in missing:
                self._cache.put(user_id, (position, read[user_id]))
                found[user_id] = read[user_id]
        return found

    def invalidate(self, user_id: str) -> None:
        self._cache.pop(user_id)
