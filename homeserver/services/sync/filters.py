"""Storing and fetching client filters; turning a stored or inline filter into a `Filter`."""

from __future__ import annotations

from typing import Any

from homeserver.rules.event_filter import Filter
from homeserver.services.common.lru_cache import LruCache
from homeserver.types.errors import Forbidden, NotFound
from homeserver.types.requester import Requester
from storage.stores import Stores


class FilterService:
    def __init__(self, stores: Stores) -> None:
        self.stores = stores
        # Stored filters never change, and clients send the same filter ID on every sync.
        self._parsed: LruCache[tuple[str, str], Filter] = LruCache(10_000)

    async def upload(self, requester: Requester, user_id: str, definition: dict[str, Any]) -> str:
        if requester.user_id != user_id:
            raise Forbidden("Cannot create filters for other users")
        return str(await self.stores.filters.add(user_id, definition))

    async def get(self, requester: Requester, user_id: str, filter_id: str) -> dict[str, Any]:
        if requester.user_id != user_id:
            raise Forbidden("Cannot read the filters of other users")
        definition = None
        # ASCII only: str.isdigit and int() also take other scripts' digits.
        if filter_id.isascii() and filter_id.isdigit() and len(filter_id) < 18:
            definition = await self.stores.filters.get(user_id, int(filter_id))
        if definition is None:
            raise NotFound("No such filter")
        return definition

    async def load(self, requester: Requester, filter_id: str) -> Filter:
        key = (requester.user_id, filter_id)
        parsed = self._parsed.get(key)
        if parsed is None:
            parsed = Filter.from_json(await self.get(requester, requester.user_id, filter_id))
            self._parsed.put(key, parsed)
        return parsed
