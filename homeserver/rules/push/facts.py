"""What push rules are evaluated against: facts about one event (built once and shared by
all its recipients) and about one recipient.

Properties are named by the spec's dot-separated paths (appendix: a literal `.` or `\\` in
a property name is escaped with a backslash; any other backslash is literal). Instead of
flattening the whole event, a key is parsed once into its path and looked up on demand:
`value(key)` is what `flatten(event).get(key)` would give, without paying for the keys no
rule asks about.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from homeserver.rules.push.glob import fold
from homeserver.rules.push.model import localpart_of

MISSING: Any = object()
_DEFAULT_NOTIFICATION_LEVEL = 50
_PATH_CACHE_SIZE = 10_000
_path_cache: dict[str, tuple[str, ...]] = {}
_serials = count()


def split_key(key: str) -> tuple[str, ...]:
    """`content.m\\.mentions.room` -> ("content", "m.mentions", "room")."""
    path = _path_cache.get(key)
    if path is not None:
        return path
    parts: list[str] = []
    current: list[str] = []
    index, size = 0, len(key)
    while index < size:
        ch = key[index]
        if ch == "\\" and index + 1 < size and key[index + 1] in ".\\":
            current.append(key[index + 1])
            index += 2
            continue
        if ch == ".":
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        index += 1
    parts.append("".join(current))
    path = tuple(parts)
    if len(_path_cache) >= _PATH_CACHE_SIZE:
        _path_cache.clear()
    _path_cache[key] = path
    return path


def escape_key_part(part: str) -> str:
    return part.replace("\\", "\\\\").replace(".", "\\.")


def flatten(event: Mapping[str, Any]) -> dict[str, Any]:
    """The spec's flattened form: dotted keys to every non-object value (arrays whole)."""
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Mapping[str, Any]) -> None:
        for name, item in value.items():
            key = prefix + escape_key_part(name)
            if isinstance(item, Mapping):
                walk(key + ".", item)
            else:
                flat[key] = item

    walk("", event)
    return flat


def _lookup(event: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = event
    for part in path:
        if not isinstance(value, dict) and not isinstance(value, Mapping):
            return MISSING
        value = value.get(part, MISSING)
        if value is MISSING:
            return MISSING
    return value


class EventFacts:
    """One event in its room. Everything every recipient asks about is computed here once:
    the folded body, the mentioned user IDs, whether the room is mentioned. `memo` holds the
    evaluator's per-event results (event-level conditions and reduced rule lists)."""

    __slots__ = (
        "_folded",
        "_values",
        "body",
        "event",
        "has_mentions",
        "memo",
        "mention_user_ids",
        "notification_levels",
        "room_member_count",
        "sender",
        "sender_power_level",
        "serial",
    )

    def __init__(
        self,
        event: Mapping[str, Any],
        *,
        room_member_count: int,
        sender_power_level: int | None,
        notification_levels: Mapping[str, int] | None = None,
    ) -> None:
        self.event = event
        self.room_member_count = room_member_count
        self.sender_power_level = sender_power_level
        self.notification_levels = notification_levels or {}
        sender = event.get("sender")
        self.sender = sender if isinstance(sender, str) else None
        content = event.get("content")
        if not isinstance(content, Mapping):
            content = {}
        body = content.get("body")
        self.body: str | None = fold(body) if isinstance(body, str) else None
        mentions = content.get("m.mentions", MISSING)
        # Any m.mentions, even malformed, says the sender declared whom it mentions.
        self.has_mentions = mentions is not MISSING
        user_ids = mentions.get("user_ids") if isinstance(mentions, Mapping) else None
        self.mention_user_ids: frozenset[str] = (
            frozenset(u for u in user_ids if isinstance(u, str))
            if isinstance(user_ids, list)
            else frozenset()
        )
        self._values: dict[str, Any] = {}
        self._folded: dict[str, str | None] = {}
        self.memo: dict[Any, Any] = {}
        # Tells this event from every other (the evaluator marks what it saw with it).
        self.serial = next(_serials)

    @classmethod
    def build(
        cls,
        event: Mapping[str, Any],
        *,
        room_member_count: int,
        sender_power_level: int | None,
        notification_levels: Mapping[str, int] | None = None,
    ) -> EventFacts:
        """`event` is the event's JSON (e.g. `Event.data`); `room_member_count` the joined
        members; `notification_levels` the power levels' `notifications` (room: 50)."""
        return cls(
            event,
            room_member_count=room_member_count,
            sender_power_level=sender_power_level,
            notification_levels=notification_levels,
        )

    def value(self, key: str) -> Any:
        """The value at a dotted key, or MISSING."""
        try:
            return self._values[key]
        except KeyError:
            value = self._values[key] = _lookup(self.event, split_key(key))
            return value

    def folded(self, key: str) -> str | None:
        """The folded string at a dotted key; None when absent or not a string."""
        try:
            return self._folded[key]
        except KeyError:
            value = self.value(key)
            folded = self._folded[key] = fold(value) if isinstance(value, str) else None
            return folded

    def sender_may_notify(self, key: str) -> bool:
        if self.sender_power_level is None:
            return False
        required = self.notification_levels.get(key, _DEFAULT_NOTIFICATION_LEVEL)
        return self.sender_power_level >= required


@dataclass(frozen=True, slots=True)
class MemberFacts:
    """A recipient: their user ID and their display name in this room (None if unset).
    Build one per member and keep it with the room: the folded forms are made here."""

    user_id: str
    display_name: str | None
    user_id_folded: str = field(init=False, repr=False, compare=False)
    localpart_folded: str = field(init=False, repr=False, compare=False)
    # None when there is no name to look for: an empty name would match every body.
    display_name_folded: str | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "user_id_folded", fold(self.user_id))
        setattr_(self, "localpart_folded", fold(localpart_of(self.user_id)))
        name = self.display_name
        folded_name = fold(name) if isinstance(name, str) and name else None
        setattr_(self, "display_name_folded", folded_name)
