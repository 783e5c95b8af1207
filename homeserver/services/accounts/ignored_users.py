"""Each user's ignore list (spec: Ignoring Users), read once and kept until the
account-data stream names the user again.

Sync, /messages, /context and /events ask for it whenever they have events to send. A
change takes effect once the account-data stream publishes it, which is before the write is
acknowledged unless an earlier write on that stream is still in flight (the spec asks for
"immediately").
"""

from __future__ import annotations

from homeserver.rules.ignored_users import IGNORED_USER_LIST, ignored_user_ids
from homeserver.services.common.per_user_cache import PerUserCache
from homeserver.streams.notifier import StreamNotifier
from homeserver.types.stream_token import Stream
from storage.stores import Stores
from storage.stores.account_data import GLOBAL

_MAX_USERS = 50_000


class IgnoredUsers:
    def __init__(self, stores: Stores, notifier: StreamNotifier) -> None:
        self.stores = stores
        self._cache = PerUserCache(
            notifier, Stream.ACCOUNT_DATA, self._read, _MAX_USERS, self._read_many
        )

    async def of(self, user_id: str) -> frozenset[str]:
        """The users `user_id` ignores."""
        return await self._cache.get(user_id)

    async def of_many(self, user_ids: list[str]) -> dict[str, frozenset[str]]:
        """`of` for many users (the members an event may notify), in at most one read."""
        return await self._cache.get_many(user_ids)

    async def _read_many(self, user_ids: list[str]) -> dict[str, frozenset[str]]:
        contents = await self.stores.account_data.get_for_users(user_ids, GLOBAL, IGNORED_USER_LIST)
        return {user_id: ignored_user_ids(contents.get(user_id)) for user_id in user_ids}

    async def _read(self, user_id: str) -> frozenset[str]:
        content = await self.stores.account_data.get(user_id, GLOBAL, IGNORED_USER_LIST)
        return ignored_user_ids(content)
