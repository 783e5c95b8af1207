"""Event filters (spec: Filtering): the data structure and which events it lets through.

Parsed once from the client's JSON (the API layer validates its shape) and applied to many
events, so type patterns are compiled up front.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from homeserver.rules.wildcard import matches_pieces, star_pieces

DEFAULT_TIMELINE_LIMIT = 10


def _compile(patterns: list[str] | None) -> tuple[tuple[str, ...], ...] | None:
    # `*` matches any sequence of characters; everything else is literal (spec: Filtering).
    if patterns is None:
        return None
    return tuple(star_pieces(p) for p in patterns)


def _matches_any(patterns: tuple[tuple[str, ...], ...], value: str) -> bool:
    return any(matches_pieces(p, value) for p in patterns)


@dataclass(frozen=True)
class EventFilter:
    """EventFilter and RoomEventFilter in one: room-only fields are ignored where they do
    not apply."""

    limit: int | None = None
    types: list[str] | None = None
    not_types: list[str] = field(default_factory=list)
    senders: list[str] | None = None
    not_senders: list[str] = field(default_factory=list)
    rooms: list[str] | None = None
    not_rooms: list[str] = field(default_factory=list)
    contains_url: bool | None = None
    lazy_load_members: bool = False
    include_redundant_members: bool = False
    unread_thread_notifications: bool = False
    _types: tuple[tuple[str, ...], ...] | None = field(init=False, repr=False, compare=False)
    _not_types: tuple[tuple[str, ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Frozen, so the compiled patterns are set the way dataclasses set fields.
        object.__setattr__(self, "_types", _compile(self.types))
        object.__setattr__(self, "_not_types", _compile(self.not_types) or ())

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> EventFilter:
        if not data:
            return cls()
        names = {name for name, f in cls.__dataclass_fields__.items() if f.init}
        return cls(**{k: v for k, v in data.items() if k in names})

    def allows_room(self, room_id: str) -> bool:
        if room_id in self.not_rooms:
            return False
        return self.rooms is None or room_id in self.rooms

    def allows(
        self,
        event_type: str,
        sender: str,
        room_id: str | None = None,
        content: Mapping[str, Any] | None = None,
    ) -> bool:
        if room_id is not None and not self.allows_room(room_id):
            return False
        if sender in self.not_senders:
            return False
        if self.senders is not None and sender not in self.senders:
            return False
        if _matches_any(self._not_types, event_type):
            return False
        if self._types is not None and not _matches_any(self._types, event_type):
            return False
        if self.contains_url is not None:
            has_url = isinstance((content or {}).get("url"), str)
            if has_url != self.contains_url:
                return False
        return True

    def allows_event(self, event: Mapping[str, Any]) -> bool:
        """Apply to an event in its JSON form."""
        content = event.get("content")
        return self.allows(
            str(event.get("type", "")),
            str(event.get("sender", "")),
            event.get("room_id"),
            content if isinstance(content, Mapping) else None,
        )


@dataclass(frozen=True)
class RoomFilter:
    rooms: list[str] | None = None
    not_rooms: list[str] = field(default_factory=list)
    include_leave: bool = False
    timeline: EventFilter = field(default_factory=EventFilter)
    state: EventFilter = field(default_factory=EventFilter)
    ephemeral: EventFilter = field(default_factory=EventFilter)
    account_data: EventFilter = field(default_factory=EventFilter)

    @property
    def lazy_load_members(self) -> bool:
        """Sync loads members lazily when either the state or the timeline filter asks."""
        return self.state.lazy_load_members or self.timeline.lazy_load_members

    def allows_room(self, room_id: str) -> bool:
        if room_id in self.not_rooms:
            return False
        return self.rooms is None or room_id in self.rooms


@dataclass(frozen=True)
class Filter:
    """A whole sync filter (spec: the Filter object)."""

    event_fields: list[str] | None = None
    event_format: str = "client"
    presence: EventFilter = field(default_factory=EventFilter)
    account_data: EventFilter = field(default_factory=EventFilter)
    room: RoomFilter = field(default_factory=RoomFilter)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Filter:
        data = data or {}
        room = data.get("room") or {}
        return cls(
            event_fields=data.get("event_fields"),
            event_format=data.get("event_format", "client"),
            presence=EventFilter.from_json(data.get("presence")),
            account_data=EventFilter.from_json(data.get("account_data")),
            room=RoomFilter(
                rooms=room.get("rooms"),
                not_rooms=room.get("not_rooms") or [],
                include_leave=bool(room.get("include_leave", False)),
                timeline=EventFilter.from_json(room.get("timeline")),
                state=EventFilter.from_json(room.get("state")),
                ephemeral=EventFilter.from_json(room.get("ephemeral")),
                account_data=EventFilter.from_json(room.get("account_data")),
            ),
        )


def only_fields(event: Mapping[str, Any], event_fields: list[str]) -> dict[str, Any]:
    """Keep only the dotted paths in `event_fields` (spec: `event_fields`; `\\.` escapes a dot)."""
    result: dict[str, Any] = {}
    for path in event_fields:
        parts = [p.replace("\\.", ".") for p in re.split(r"(?<!\\)\.", path)]
        source: Any = event
        for part in parts:
            if not isinstance(source, Mapping) or part not in source:
                break
            source = source[part]
        else:
            target = result
            for part in parts[:-1]:
                target = target.setdefault(part, {})
            target[parts[-1]] = source
    return result
