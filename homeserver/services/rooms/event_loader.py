"""Loading stored events as engine `Event`s, with an LRU of the immutable parts."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

from homeserver.rules.events import stored_event
from homeserver.services.common.lru_cache import LruCache
from homeserver.types.errors import NotFound
from homeserver.types.event import Event
from homeserver.types.room_versions import ROOM_VERSIONS, RoomVersion
from storage.stores import Stores
from storage.stores.events import StoredEvent


@dataclass(frozen=True, slots=True)
class LoadedEvent:
    event: Event
    stream_ordering: int
    depth: int
    redacted_by: str | None
    rejected: bool
    state_group: int | None


class EventLoader:
    def __init__(self, stores: Stores, cache_entries: int) -> None:
        self.stores = stores
        self._events: LruCache[str, Event] = LruCache(cache_entries)
        self._room_versions: dict[str, RoomVersion] = {}

    async def room_version(self, room_id: str) -> RoomVersion | None:
        version = self._room_versions.get(room_id)
        if version is None:
            room = await self.stores.rooms.get(room_id)
            if room is None:
                return None
            version = ROOM_VERSIONS[room.room_version]
            self._room_versions[room_id] = version
        return version

    def _event(self, stored: StoredEvent, version: RoomVersion) -> Event:
        event = self._events.get(stored.event_id)
        if event is None:
            event = stored_event(version, json.loads(stored.json), stored.event_id)
            self._events.put(stored.event_id, event)
        return event

    async def load_many(self, event_ids: Iterable[str]) -> dict[str, LoadedEvent]:
        wanted = list(event_ids)
        if not wanted:
            return {}
        # Cached events are held here and read back without their JSON: only what can
        # change about them (redaction, rejection) is read again.
        held = {i: event for i in wanted if (event := self._events.get(i)) is not None}
        stored = await self.stores.events.get_events(wanted, without_json=held)
        result = {}
        for event_id, row in stored.items():
            version = await self.room_version(row.room_id)
            if version is not None:
                event = held.get(event_id) or self._event(row, version)
                result[event_id] = _loaded(row, event)
        return result

    async def load(self, event_id: str) -> LoadedEvent:
        loaded = (await self.load_many([event_id])).get(event_id)
        if loaded is None:
            raise NotFound("Event not found")
        return loaded

    async def events(self, event_ids: Iterable[str]) -> dict[str, Event]:
        """The events themselves, without what can change about them (redacted, rejected):
        stored events never change, so those in the cache cost no read."""
        found: dict[str, Event] = {}
        missing = []
        for event_id in event_ids:
            event = self._events.get(event_id)
            if event is None:
                missing.append(event_id)
            else:
                found[event_id] = event
        if missing:
            found.update((k, v.event) for k, v in (await self.load_many(missing)).items())
        return found

    def wrap(self, rows: Iterable[StoredEvent], version: RoomVersion) -> list[LoadedEvent]:
        return [_loaded(row, self._event(row, version)) for row in rows]


def _loaded(row: StoredEvent, event: Event) -> LoadedEvent:
    return LoadedEvent(
        event,
        row.stream_ordering,
        row.depth,
        row.redacted_by,
        row.rejected_reason is not None,
        row.state_group,
    )
