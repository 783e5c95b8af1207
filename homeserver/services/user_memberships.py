"""Each user's room memberships, read once and kept until the events stream says they changed.

Sync needs them on every request; they change only with a member event for the user (which
the events stream announces for that user) or when the user forgets a room.
"""

from __future__ import annotations

from homeserver.services.lru_cache import LruCache
from homeserver.streams.notifier import StreamNotifier
from homeserver.types.stream_token import Stream
from storage.stores import Stores
from storage.stores.rooms import MembershipRecord

_MAX_USERS = 50_000


class UserMemberships:
    def __init__(self, stores: Stores, notifier: StreamNotifier) -> None:
        self.stores = stores
        self.notifier = notifier
        self._cache: LruCache[str, tuple[int, list[MembershipRecord]]] = LruCache(_MAX_USERS)

    async def get(self, user_id: str) -> list[MembershipRecord]:
        index = self.notifier.changes(Stream.EVENTS)
        cached = self._cache.get(user_id)
        if cached is not None and not index.changed(user_id, cached[0]):
            return cached[1]
        # The position is taken before reading: a change published after it shows up in the
        # index as newer and causes a re-read next time.
        position = index.head
        records = await self.stores.rooms.memberships_for_user(user_id)
        self._cache.put(user_id, (position, records))
        return records

    def invalidate(self, user_id: str) -> None:
        self._cache.pop(user_id)
