"""Push rules as values: kinds, conditions, actions and their JSON form (spec: Push Rules).

Everything here is frozen and hashable, so equal conditions (and rules) can be shared by
many users and memoised per event by the evaluator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from homeserver.types.frozen import thaw

# A JSON scalar as `event_property_is` / `event_property_contains` compare them.
Scalar = str | int | bool | None
# An action as the client sent it: a bare string, or an object kept as a FrozenDict
# (immutable, hashable, and JSON-serialisable as it is).
Action = Any


class RuleKind(StrEnum):
    """The kinds of rule, declared in evaluation order."""

    OVERRIDE = "override"
    CONTENT = "content"
    ROOM = "room"
    SENDER = "sender"
    UNDERRIDE = "underride"


KIND_ORDER: tuple[RuleKind, ...] = tuple(RuleKind)


class Placeholder(StrEnum):
    """A user-dependent value in a server-default rule, resolved when it is evaluated or
    rendered, so that one default rule list serves every user."""

    USER_ID = "user_id"
    USER_LOCALPART = "user_localpart"


def localpart_of(user_id: str) -> str:
    return user_id[1:].split(":", 1)[0]


def resolve(placeholder: Placeholder, user_id: str) -> str:
    return user_id if placeholder is Placeholder.USER_ID else localpart_of(user_id)


# -- conditions ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventMatch:
    """Glob `pattern` against the string at `key` (word-boundary mode for content.body).
    With a placeholder the pattern is the user's ID or localpart, matched literally."""

    key: str
    pattern: str
    placeholder: Placeholder | None = None

    def to_json(self, user_id: str) -> dict[str, Any]:
        pattern = self.pattern if self.placeholder is None else resolve(self.placeholder, user_id)
        return {"kind": "event_match", "key": self.key, "pattern": pattern}


@dataclass(frozen=True, slots=True)
class EventPropertyIs:
    key: str
    value: Scalar
    # Part of equality and hash: 1 and true are different values (the spec: do not cast).
    value_type: type = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "value_type", type(self.value))

    def to_json(self, user_id: str) -> dict[str, Any]:
        return {"kind": "event_property_is", "key": self.key, "value": self.value}


@dataclass(frozen=True, slots=True)
class EventPropertyContains:
    key: str
    value: Scalar
    placeholder: Placeholder | None = None
    value_type: type = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "value_type", type(self.value))

    def to_json(self, user_id: str) -> dict[str, Any]:
        value = self.value if self.placeholder is None else resolve(self.placeholder, user_id)
        return {"kind": "event_property_contains", "key": self.key, "value": value}


@dataclass(frozen=True, slots=True)
class ContainsDisplayName:
    def to_json(self, user_id: str) -> dict[str, Any]:
        return {"kind": "contains_display_name"}


MEMBER_COUNT_OPERATORS = ("==", "<=", ">=", "<", ">")


def parse_member_count(is_: str) -> tuple[str, int] | None:
    """`[==|<|>|<=|>=]N` as (operator, N); None when malformed."""
    operator = "=="
    for candidate in MEMBER_COUNT_OPERATORS:
        if is_.startswith(candidate):
            operator, is_ = candidate, is_[len(candidate) :]
            break
    if not is_.isascii() or not is_.isdigit() or len(is_) > 18:
        return None
    return operator, int(is_)


@dataclass(frozen=True, slots=True)
class RoomMemberCount:
    is_: str
    # Parsed once; None (a malformed `is`) never matches.
    parsed: tuple[str, int] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "parsed", parse_member_count(self.is_))

    def to_json(self, user_id: str) -> dict[str, Any]:
        return {"kind": "room_member_count", "is": self.is_}


@dataclass(frozen=True, slots=True)
class SenderNotificationPermission:
    key: str

    def to_json(self, user_id: str) -> dict[str, Any]:
        return {"kind": "sender_notification_permission", "key": self.key}


@dataclass(frozen=True, slots=True)
class UnknownCondition:
    """A condition of a kind this server does not know: kept and rendered as sent, never
    matches (spec: unrecognised conditions MUST NOT match)."""

    raw: Any  # a FrozenDict

    def to_json(self, user_id: str) -> dict[str, Any]:
        return dict(thaw(self.raw))


Condition = (
    EventMatch
    | EventPropertyIs
    | EventPropertyContains
    | ContainsDisplayName
    | RoomMemberCount
    | SenderNotificationPermission
    | UnknownCondition
)


# -- actions ------------------------------------------------------------------------------

# Historical actions: accepted, kept as sent, and meaningless (spec: Historical Actions).
IGNORED_ACTIONS = frozenset(("dont_notify", "coalesce"))


@dataclass(frozen=True, slots=True)
class ActionSummary:
    notify: bool
    highlight: bool
    sound: str | None

    @classmethod
    def of(cls, actions: tuple[Action, ...]) -> ActionSummary:
        notify, highlight, sound = False, False, None
        for action in actions:
            if action == "notify":
                notify = True
            elif isinstance(action, dict):
                tweak = action.get("set_tweak")
                if tweak == "highlight":
                    # No value means true; anything but a boolean true is not a highlight.
                    highlight = action.get("value", True) is True
                elif tweak == "sound":
                    value = action.get("value")
                    sound = value if isinstance(value, str) else None
        return cls(notify, highlight, sound)


def effective_actions(actions: tuple[Action, ...]) -> tuple[Action, ...]:
    """The actions without the historical ones, as stored with a notification."""
    if not any(a in IGNORED_ACTIONS for a in actions if isinstance(a, str)):
        return actions
    return tuple(a for a in actions if not (isinstance(a, str) and a in IGNORED_ACTIONS))


# -- rules --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PushRule:
    """One rule. `conditions` is a tuple for override/underride rules and None for the
    others, whose condition is implied (`implied_conditions`)."""

    kind: RuleKind
    rule_id: str
    default: bool
    enabled: bool
    actions: tuple[Action, ...]
    conditions: tuple[Condition, ...] | None = None
    pattern: str | None = None
    # Only for a default content rule whose pattern is the user's localpart.
    pattern_placeholder: Placeholder | None = None

    def implied_conditions(self) -> tuple[Condition, ...]:
        """What the rule tests, whatever its kind. Room and sender rules compare IDs
        exactly: IDs are case-sensitive and may contain glob characters."""
        if self.kind == RuleKind.CONTENT:
            if self.pattern_placeholder is not None:
                return (EventMatch("content.body", "", self.pattern_placeholder),)
            return (EventMatch("content.body", self.pattern or ""),)
        if self.kind == RuleKind.ROOM:
            return (EventPropertyIs("room_id", self.rule_id),)
        if self.kind == RuleKind.SENDER:
            return (EventPropertyIs("sender", self.rule_id),)
        return self.conditions or ()

    def with_changes(self, enabled: bool | None, actions: tuple[Action, ...] | None) -> PushRule:
        return PushRule(
            self.kind,
            self.rule_id,
            self.default,
            self.enabled if enabled is None else enabled,
            self.actions if actions is None else actions,
            self.conditions,
            self.pattern,
            self.pattern_placeholder,
        )

    def to_json(self, user_id: str) -> dict[str, Any]:
        """The spec's PushRule object; defaults carry the user's ID or localpart."""
        rendered: dict[str, Any] = {
            "rule_id": self.rule_id,
            "default": self.default,
            "enabled": self.enabled,
            "actions": [thaw(a) if isinstance(a, dict) else a for a in self.actions],
        }
        if self.kind == RuleKind.CONTENT:
            if self.pattern_placeholder is not None:
                rendered["pattern"] = resolve(self.pattern_placeholder, user_id)
            else:
                rendered["pattern"] = self.pattern or ""
        elif self.kind in (RuleKind.OVERRIDE, RuleKind.UNDERRIDE):
            rendered["conditions"] = [c.to_json(user_id) for c in self.conditions or ()]
        return rendered
