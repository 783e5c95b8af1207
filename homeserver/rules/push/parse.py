"""Validating the push rules clients PUT (spec: PUT /pushrules/global/{kind}/{ruleId}).

Everything client-supplied is bounded: a rule's JSON, its number of conditions and actions,
and the length of its ID, keys and patterns. Patterns longer than `MAX_STRING_LENGTH` are
refused here, so the glob matcher never sees one.

`parse_rule` is strict, for requests. `load_rule` is for rules read back from storage:
it never raises for a condition, turning one that no longer validates into an unknown
condition (which never matches), so a stricter server cannot lose a user's rule set.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from homeserver.rules.push.model import (
    Action,
    Condition,
    ContainsDisplayName,
    EventMatch,
    EventPropertyContains,
    EventPropertyIs,
    PushRule,
    RoomMemberCount,
    RuleKind,
    SenderNotificationPermission,
    UnknownCondition,
    parse_member_count,
)
from homeserver.types.errors import BadRequest, Codes
from homeserver.types.frozen import freeze

MAX_CONDITIONS = 20
MAX_ACTIONS = 20
MAX_STRING_LENGTH = 1_000
MAX_RULE_JSON_BYTES = 10_000
# The canonical JSON integer range (spec: event_property_is).
_MAX_SAFE_INT = 2**53 - 1

_BARE_ACTIONS = frozenset(("notify", "dont_notify", "coalesce"))


def _invalid(message: str) -> BadRequest:
    return BadRequest(message, Codes.INVALID_PARAM)


def parse_kind(kind: str) -> RuleKind:
    try:
        return RuleKind(kind)
    except ValueError:
        raise _invalid(f"Unknown push rule kind {kind!r}") from None


def check_rule_id(rule_id: str) -> None:
    """A rule ID a client may create: not a server-default ID (leading `.`), no `/` or
    `\\`. A room or sender rule's ID is not checked to be a room or user ID, as in
    Synapse (clients and SyTest use aliases): one that is not simply never matches."""
    if not isinstance(rule_id, str) or not rule_id:
        raise _invalid("The rule ID may not be empty")
    if len(rule_id) > MAX_STRING_LENGTH:
        raise _invalid("The rule ID is too long")
    if rule_id.startswith("."):
        raise _invalid("Rule IDs starting with '.' are reserved for server-default rules")
    if "/" in rule_id or "\\" in rule_id:
        raise _invalid("Rule IDs may not contain '/' or '\\'")


def _bounded_string(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise _invalid(f"{what} must be a string")
    if len(value) > MAX_STRING_LENGTH:
        raise _invalid(f"{what} is longer than {MAX_STRING_LENGTH} characters")
    return value


def parse_actions(raw: Any) -> tuple[Action, ...]:
    """The actions of a rule, as sent (the historical ones kept: they mean nothing)."""
    if not isinstance(raw, list):
        raise _invalid("actions must be a list")
    if len(raw) > MAX_ACTIONS:
        raise _invalid(f"A rule has at most {MAX_ACTIONS} actions")
    actions: list[Action] = []
    for action in raw:
        if isinstance(action, str):
            if action not in _BARE_ACTIONS:
                raise _invalid(f"Unknown action {action!r}")
            actions.append(action)
        elif isinstance(action, dict) and isinstance(action.get("set_tweak"), str):
            _bounded_string(action["set_tweak"], "set_tweak")
            actions.append(freeze(action))
        else:
            raise _invalid(f"Invalid action {action!r}")
    return tuple(actions)


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INT:
            raise _invalid("value is outside the canonical JSON integer range")
        return value
    if isinstance(value, str):
        return _bounded_string(value, "value")
    raise _invalid("value must be a string, an integer, a boolean or null")


def parse_condition(raw: Any) -> Condition:
    """One condition; an unknown kind is kept (it never matches), a known one is checked."""
    if not isinstance(raw, dict) or not isinstance(raw.get("kind"), str):
        raise _invalid("A condition must be an object with a string kind")
    kind = raw["kind"]
    if kind == "event_match":
        return EventMatch(
            _bounded_string(raw.get("key"), "key"), _bounded_string(raw.get("pattern"), "pattern")
        )
    if kind in ("event_property_is", "event_property_contains"):
        key = _bounded_string(raw.get("key"), "key")
        if "value" not in raw:
            raise _invalid(f"{kind} needs a value")
        value = _scalar(raw["value"])
        if kind == "event_property_is":
            return EventPropertyIs(key, value)
        return EventPropertyContains(key, value)
    if kind == "contains_display_name":
        return ContainsDisplayName()
    if kind == "room_member_count":
        is_ = _bounded_string(raw.get("is"), "is")
        if parse_member_count(is_) is None:
            raise _invalid("is must be a number optionally prefixed by ==, <, >, <= or >=")
        return RoomMemberCount(is_)
    if kind == "sender_notification_permission":
        return SenderNotificationPermission(_bounded_string(raw.get("key"), "key"))
    return UnknownCondition(freeze(raw))


def _conditions(raw: Any, strict: bool) -> tuple[Condition, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise _invalid("conditions must be a list")
    if len(raw) > MAX_CONDITIONS:
        raise _invalid(f"A rule has at most {MAX_CONDITIONS} conditions")
    parsed: list[Condition] = []
    for condition in raw:
        try:
            parsed.append(parse_condition(condition))
        except BadRequest:
            if strict:
                raise
            parsed.append(UnknownCondition(freeze(condition)))
    return tuple(parsed)


def _build(kind: RuleKind, rule_id: str, body: Any, *, enabled: bool, strict: bool) -> PushRule:
    if not isinstance(body, Mapping):
        raise BadRequest("The push rule must be a JSON object", Codes.BAD_JSON)
    if strict and len(json.dumps(body, ensure_ascii=False).encode()) > MAX_RULE_JSON_BYTES:
        raise BadRequest(
            f"A push rule is at most {MAX_RULE_JSON_BYTES} bytes of JSON", Codes.TOO_LARGE
        )
    if "actions" not in body:
        raise BadRequest("A push rule needs actions", Codes.MISSING_PARAM)
    actions = parse_actions(body["actions"])
    if kind is RuleKind.CONTENT:
        if "pattern" not in body:
            raise BadRequest("A content rule needs a pattern", Codes.MISSING_PARAM)
        pattern = _bounded_string(body["pattern"], "pattern")
        return PushRule(kind, rule_id, False, enabled, actions, pattern=pattern)
    if kind in (RuleKind.OVERRIDE, RuleKind.UNDERRIDE):
        conditions = _conditions(body.get("conditions"), strict)
        return PushRule(kind, rule_id, False, enabled, actions, conditions)
    # Room and sender rules: the condition is implied by the rule ID.
    return PushRule(kind, rule_id, False, enabled, actions)


def parse_rule(kind: RuleKind | str, rule_id: str, body: Any) -> PushRule:
    """The rule a client PUTs, enabled (spec: rules are created enabled); raises
    BadRequest (M_INVALID_PARAM, M_MISSING_PARAM, M_BAD_JSON or M_TOO_LARGE)."""
    rule_kind = kind if isinstance(kind, RuleKind) else parse_kind(kind)
    check_rule_id(rule_id)
    return _build(rule_kind, rule_id, body, enabled=True, strict=True)


def load_rule(kind: RuleKind | str, rule_id: str, body: Any, *, enabled: bool = True) -> PushRule:
    """A user rule read back from storage (the body as `parse_rule` accepted it)."""
    rule_kind = kind if isinstance(kind, RuleKind) else RuleKind(kind)
    return _build(rule_kind, rule_id, body, enabled=enabled, strict=False)


def rule_body(rule: PushRule) -> dict[str, Any]:
    """What to store for a user rule: `parse_rule`'s input, minus what the ID implies."""
    rendered = rule.to_json("")
    body: dict[str, Any] = {"actions": rendered["actions"]}
    for key in ("conditions", "pattern"):
        if key in rendered:
            body[key] = rendered[key]
    return body
