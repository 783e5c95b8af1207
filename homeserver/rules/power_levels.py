"""Reading power levels from room state (spec: m.room.power_levels, room versions' rules).

Before v10 values may be strings holding integers; v10 requires integers. Without a power
levels event, the room creator has 100 and everyone else 0. From v12 the creators
(create event sender and `additional_creators`) have infinite power.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from homeserver.types.event import CREATE, POWER_LEVELS, Event, StateKey
from homeserver.types.room_versions import RoomVersion

INFINITE = math.inf
Power = int | float

_DEFAULTS = {
    "ban": 50,
    "kick": 50,
    "redact": 50,
    "invite": 0,
    "state_default": 50,
    "events_default": 0,
    "users_default": 0,
}


def as_int(value: Any, room_version: RoomVersion) -> int | None:
    """An integer power level value, or None if the version does not accept this value."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if not room_version.integer_power_levels and isinstance(value, str):
        stripped = value.strip()
        # Stringy levels are parsed like Python's int() on a decimal string.
        try:
            return int(stripped, 10)
        except ValueError:
            return None
    return None


def creators(create: Event | None) -> frozenset[str]:
    """The room creators: the create event's sender, plus `additional_creators` (v12)."""
    if create is None:
        return frozenset()
    result = {create.sender}
    if create.room_version.additional_creators:
        extra = create.content.get("additional_creators")
        if isinstance(extra, list):
            result.update(u for u in extra if isinstance(u, str))
    return frozenset(result)


class PowerLevels:
    """The power levels in force for one authorisation check."""

    def __init__(
        self, room_version: RoomVersion, power_levels: Event | None, create: Event | None
    ) -> None:
        self.room_version = room_version
        self.content: Mapping[str, Any] = power_levels.content if power_levels else {}
        self.has_event = power_levels is not None
        self.create = create
        self.creators = creators(create)

    def _level(self, key: str) -> int:
        value = as_int(self.content.get(key), self.room_version) if key in self.content else None
        return _DEFAULTS[key] if value is None else value

    def named(self, key: str) -> int:
        """ban, kick, redact, invite, state_default, events_default, users_default."""
        return self._level(key)

    def user_level(self, user_id: str) -> Power:
        if self.room_version.additional_creators and user_id in self.creators:
            return INFINITE
        if not self.has_event:
            creator = self._implicit_creator()
            return 100 if user_id == creator else 0
        users = self.content.get("users")
        if isinstance(users, Mapping) and user_id in users:
            value = as_int(users[user_id], self.room_version)
            if value is not None:
                return value
        return self._level("users_default")

    def _implicit_creator(self) -> str | None:
        if self.create is None:
            return None
        if self.room_version.implicit_room_creator:
            return self.create.sender
        creator = self.create.content.get("creator")
        return creator if isinstance(creator, str) else None

    def event_level(self, event_type: str, is_state: bool) -> int:
        """The *required power level* to send an event of this type."""
        events = self.content.get("events")
        if isinstance(events, Mapping) and event_type in events:
            value = as_int(events[event_type], self.room_version)
            if value is not None:
                return value
        if is_state:
            return self._level("state_default") if self.has_event else 0
        return self._level("events_default")


def power_levels_from_state(
    room_version: RoomVersion, state: Mapping[StateKey, Event]
) -> PowerLevels:
    return PowerLevels(room_version, state.get((POWER_LEVELS, "")), state.get((CREATE, "")))
