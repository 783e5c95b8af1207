"""Each user's room memberships, read once and kept until the events stream says they changed.

Sync needs them on every request; they change only with a member event for the user (which
the events stream announces for that user) or when the user forgets a room.
"""

from __future__ import annotations

from homeserver.services.common.per_user_cache import PerUserCache
from homeserver.streams.notifier import StreamNotifier
from homeserver.types.stream_token import Stream
from storage.stores import Stores
from storage.stores.rooms import MembershipRecord

_MAX_USERS = 50_000


class UserMemberships:
    def __init__(self, stores: Stores, notifier: StreamNotifier) -> None:
        self._cache = PerUserCache(
            notifier, Stream.EVENTS, stores.rooms.memberships_for_user, _MAX_USERS
        )

    async def get(self, user_id: str) -> list[MembershipRecord]:
        return await self._cache.get(user_id)

    def invalidate(self, user_id: str) -> None:
        self._cache.invalidate(user_id)
