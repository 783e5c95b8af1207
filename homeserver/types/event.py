"""An immutable room event (PDU) with typed accessors.

The JSON is kept as received or built and frozen; derived facts (rejection, outlier
status, state before and after) travel elsewhere. The event ID is passed in: computing it
for hash-based versions is an algorithm (homeserver.rules.signing).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from canonicaljson import encode_canonical_json

from homeserver.types.frozen import FrozenDict, freeze, thaw
from homeserver.types.ids import room_id_for_create_event
from homeserver.types.room_versions import RoomVersion
from homeserver.types.state import StateKey

__all__ = ["Event", "StateKey"]

CREATE = "m.room.create"
MEMBER = "m.room.member"
POWER_LEVELS = "m.room.power_levels"
JOIN_RULES = "m.room.join_rules"
THIRD_PARTY_INVITE = "m.room.third_party_invite"
REDACTION = "m.room.redaction"
HISTORY_VISIBILITY = "m.room.history_visibility"
ALIASES = "m.room.aliases"
CANONICAL_ALIAS = "m.room.canonical_alias"
GUEST_ACCESS = "m.room.guest_access"

_EMPTY: Mapping[str, Any] = FrozenDict()


def _ids(refs: Any) -> tuple[str, ...]:
    """prev_events/auth_events: plain IDs (v3+) or [id, hashes] pairs (v1, v2)."""
    if not isinstance(refs, list):
        return ()
    return tuple(ref[0] if isinstance(ref, list) and ref else ref for ref in refs)


class Event:
    __slots__ = ("_data", "_event_id", "_room_version")

    def __init__(self, data: Mapping[str, Any], event_id: str, room_version: RoomVersion) -> None:
        self._data: FrozenDict = freeze(data)
        self._event_id = event_id
        self._room_version = room_version

    @property
    def event_id(self) -> str:
        return self._event_id

    @property
    def room_version(self) -> RoomVersion:
        return self._room_version

    def __repr__(self) -> str:
        return f"<Event {self.event_id} {self.type} {self.state_key!r} by {self.sender}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Event) and other.event_id == self.event_id

    def __hash__(self) -> int:
        return hash(self.event_id)

    @property
    def data(self) -> Mapping[str, Any]:
        """The PDU as immutable JSON (for v3+ without `event_id`, which is not sent)."""
        return self._data

    def to_json(self) -> dict[str, Any]:
        """A mutable copy of the PDU."""
        return thaw(self._data)

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    @property
    def type(self) -> str:
        return str(self._data["type"])

    @property
    def sender(self) -> str:
        return str(self._data["sender"])

    @property
    def room_id(self) -> str:
        room_id = self._data.get("room_id")
        if room_id is None and self.room_version.room_id_from_create_event:
            # v12: a create event has no room_id; the room is named after the event.
            return room_id_for_create_event(self.event_id)
        return str(room_id)

    @property
    def state_key(self) -> str | None:
        value = self._data.get("state_key")
        return value if isinstance(value, str) else None

    @property
    def is_state(self) -> bool:
        return self.state_key is not None

    @property
    def state_pair(self) -> StateKey:
        """(type, state_key) of a state event."""
        if self.state_key is None:
            raise ValueError(f"{self.event_id} is not a state event")
        return (self.type, self.state_key)

    @property
    def content(self) -> Mapping[str, Any]:
        content = self._data.get("content")
        return content if isinstance(content, Mapping) else _EMPTY

    @property
    def signatures(self) -> Mapping[str, Any]:
        signatures = self._data.get("signatures")
        return signatures if isinstance(signatures, Mapping) else _EMPTY

    @property
    def depth(self) -> int:
        return int(self._data.get("depth", 0))

    @property
    def origin_server_ts(self) -> int:
        return int(self._data.get("origin_server_ts", 0))

    @property
    def prev_event_ids(self) -> tuple[str, ...]:
        return _ids(self._data.get("prev_events"))

    @property
    def auth_event_ids(self) -> tuple[str, ...]:
        return _ids(self._data.get("auth_events"))

    @property
    def redacts(self) -> str | None:
        """The redacted event: in `content` from v11, at the top level before."""
        if self.type != REDACTION:
            return None
        source = self.content if self.room_version.redacts_in_content else self._data
        value = source.get("redacts")
        return value if isinstance(value, str) else None

    @property
    def membership(self) -> str | None:
        value = self.content.get("membership")
        return value if isinstance(value, str) else None

    def canonical_json(self) -> str:
        return encode_canonical_json(self._data).decode()
