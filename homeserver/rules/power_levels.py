"""Reading and validating power levels (spec: m.room.power_levels; room versions' "stringy"
and "floaty" power levels; auth rules 10.1-10.4 in v12 numbering).

Before v10 values may be strings holding integers, and before v6 floats (truncated).
Without a power levels event the creator has 100 and everyone else 0. From v12 the
creators (the create event's sender and `additional_creators`) have infinite power.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

from homeserver.rules.types import AuthError
from homeserver.types.event import CREATE, POWER_LEVELS, Event, StateKey
from homeserver.types.ids import is_user_id
from homeserver.types.room_versions import RoomVersion

INFINITE = math.inf
Power = int | float

NAMED_LEVELS = ("users_default", "events_default", "state_default", "ban", "redact", "kick")
# `invite` is named separately: the v1-v10 redaction algorithm does not keep it.
ALL_NAMED_LEVELS = (*NAMED_LEVELS, "invite")

# Defaults hold with or without a power levels event (spec: m.room.power_levels).
_DEFAULTS = {
    "ban": 50,
    "kick": 50,
    "redact": 50,
    "invite": 0,
    "state_default": 50,
    "events_default": 0,
    "users_default": 0,
}

# Spec (stringy power levels): optional ASCII whitespace, one optional sign, decimal digits.
_INTEGER_STRING = re.compile(r"[ \t\n\r\f\v]*[+-]?[0-9]+[ \t\n\r\f\v]*")


def as_int(value: Any, room_version: RoomVersion) -> int | None:
    """An integer power level value, or None if the version does not accept this value."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and room_version.float_power_levels:
        # Floaty power levels: truncated at the decimal point; infinities and NaN invalid.
        return math.trunc(value) if math.isfinite(value) else None
    if (
        isinstance(value, str)
        and not room_version.integer_power_levels
        and _INTEGER_STRING.fullmatch(value)
    ):
        return int(value.strip(" \t\n\r\f\v"))
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

    def named(self, key: str) -> int:
        """ban, kick, redact, invite, state_default, events_default, users_default."""
        value = as_int(self.content.get(key), self.room_version)
        return _DEFAULTS[key] if value is None else value

    def user_level(self, user_id: str) -> Power:
        if self.room_version.privileged_creators and user_id in self.creators:
            return INFINITE
        if not self.has_event:
            return 100 if user_id == self._implicit_creator() else 0
        users = self.content.get("users")
        if isinstance(users, Mapping) and user_id in users:
            value = as_int(users[user_id], self.room_version)
            if value is not None:
                return value
        return self.named("users_default")

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
        return self.named("state_default" if is_state else "events_default")


def power_levels_from_state(
    room_version: RoomVersion, state: Mapping[StateKey, Event]
) -> PowerLevels:
    """The power levels of a state map holding events."""
    return PowerLevels(room_version, state.get((POWER_LEVELS, "")), state.get((CREATE, "")))


def validate_power_levels_content(
    room_version: RoomVersion, content: Mapping[str, Any], room_creators: frozenset[str]
) -> None:
    """Rules 10.1-10.4 (v12 numbering; 9.1-9.3 in v10-v11, 10.1 in v1-v9).

    v10 made the shape rules explicit. Before v10 only `users` is checked by the spec; a
    value that is not even a stringy (or floaty) integer is rejected too, as Synapse does,
    since such a level could not be compared.
    """
    for key in ALL_NAMED_LEVELS:  # rule 10.1
        if key in content and as_int(content[key], room_version) is None:
            raise AuthError(f"power level {key} is not an integer (rule 10.1)")
    # `notifications` takes part in the auth rules from v6 only.
    maps = (
        ("events", "notifications")
        if room_version.limit_notifications_power_levels
        else ("events",)
    )
    for key in maps:  # rule 10.2
        if key not in content:
            continue
        value = content[key]
        if not isinstance(value, Mapping) or any(
            as_int(v, room_version) is None for v in value.values()
        ):
            raise AuthError(f"power levels {key} is not an object of integers (rule 10.2)")
    users = content.get("users", {})
    if not isinstance(users, Mapping):
        raise AuthError("power levels users is not an object (rule 10.3)")
    for user_id, level in users.items():
        if not is_user_id(user_id) or as_int(level, room_version) is None:
            raise AuthError("power levels users must map user IDs to integers (rule 10.3)")
    if room_version.privileged_creators and not room_creators.isdisjoint(users):
        raise AuthError("room creators cannot be listed in power levels users (rule 10.4)")
