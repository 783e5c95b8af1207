"""Push-rule conditions compiled for evaluation.

An event-level check (`EventCheck`) depends only on the event and its room; a member check
(`MemberCheck`) on the recipient too (contains_display_name, and the defaults' user-ID and
localpart placeholders, which are compared literally: they are names, not patterns).
Equal conditions compile to one shared object, so the per-event memo (keyed by that object)
computes each distinct event-level condition once per event, whoever's rule it is in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from homeserver.rules.push.facts import EventFacts, MemberFacts
from homeserver.rules.push.glob import compile_glob, find_words
from homeserver.rules.push.model import (
    Condition,
    ContainsDisplayName,
    EventMatch,
    EventPropertyContains,
    EventPropertyIs,
    Placeholder,
    RoomMemberCount,
    SenderNotificationPermission,
)
from homeserver.rules.push.shared import SharedObjects

EventCheck = Callable[[EventFacts], bool]
MemberCheck = Callable[[MemberFacts, EventFacts], bool]

BODY = "content.body"
_MENTIONED_USERS = r"content.m\.mentions.user_ids"
_INTERNED_MAX = 50_000


def _same(value: Any, expected: Any, expected_type: type) -> bool:
    # The spec's exact match: 1 is not true, "1" is not 1.
    return type(value) is expected_type and value == expected


def event_check(condition: Condition) -> EventCheck | None:
    """A check of an event-level condition; None for a condition that never matches."""
    if isinstance(condition, EventMatch):
        matcher = compile_glob(condition.pattern)
        if condition.key == BODY:
            literal = matcher.literal
            if literal is not None:
                return lambda f: (
                    f.body is not None and literal in f.body and find_words(f.body, literal)
                )
            return lambda f: f.body is not None and matcher.match_words(f.body)
        key = condition.key

        def event_match(facts: EventFacts) -> bool:
            value = facts.folded(key)
            return value is not None and matcher.match_whole(value)

        return event_match
    if isinstance(condition, EventPropertyIs):
        key = condition.key
        expected, expected_type = condition.value, condition.value_type
        return lambda f: _same(f.value(key), expected, expected_type)
    if isinstance(condition, EventPropertyContains):
        key = condition.key
        expected, expected_type = condition.value, condition.value_type

        def contains(facts: EventFacts) -> bool:
            array = facts.value(key)
            return isinstance(array, list) and any(
                _same(item, expected, expected_type) for item in array
            )

        return contains
    if isinstance(condition, RoomMemberCount):
        if condition.parsed is None:
            return None
        operator, number = condition.parsed
        return {
            "==": lambda f: f.room_member_count == number,
            "<": lambda f: f.room_member_count < number,
            ">": lambda f: f.room_member_count > number,
            "<=": lambda f: f.room_member_count <= number,
            ">=": lambda f: f.room_member_count >= number,
        }[operator]
    if isinstance(condition, SenderNotificationPermission):
        key = condition.key
        return lambda f: f.sender_may_notify(key)
    return None


def member_check(condition: Condition) -> MemberCheck:
    """A check of a condition that depends on the member. The defaults' user IDs and
    localparts are compared literally (they are names, not patterns)."""
    if isinstance(condition, ContainsDisplayName):

        def contains_display_name(member: MemberFacts, facts: EventFacts) -> bool:
            name = member.display_name_folded
            if name is None:
                return False
            body = facts.body
            # `in` first: most names are nowhere in the body, and it is C speed.
            return body is not None and name in body and find_words(body, name)

        return contains_display_name
    if isinstance(condition, EventPropertyContains):
        if condition.key == _MENTIONED_USERS:
            return lambda m, f: m.user_id in f.mention_user_ids
        key = condition.key

        def contains_user(member: MemberFacts, facts: EventFacts) -> bool:
            array = facts.value(key)
            return isinstance(array, list) and member.user_id in array

        return contains_user
    assert isinstance(condition, EventMatch)
    by_localpart = condition.placeholder is Placeholder.USER_LOCALPART
    if condition.key == BODY:
        if by_localpart:
            return lambda m, f: (
                f.body is not None
                and m.localpart_folded in f.body
                and find_words(f.body, m.localpart_folded)
            )
        return lambda m, f: (
            f.body is not None
            and m.user_id_folded in f.body
            and find_words(f.body, m.user_id_folded)
        )
    key = condition.key
    if by_localpart:
        return lambda m, f: f.folded(key) == m.localpart_folded
    return lambda m, f: f.folded(key) == m.user_id_folded


def _has_body(facts: EventFacts) -> bool:
    return facts.body is not None


def _has_mentioned_users(facts: EventFacts) -> bool:
    return bool(facts.mention_user_ids)


def member_precondition(condition: Condition) -> EventCheck:
    """An event-level check that holds whenever the member check of `condition` can hold
    for some member (no body: no display name in it; no mentioned users: nobody is), so
    a rule that can match nobody is passed over once per event, not once per member."""
    if isinstance(condition, ContainsDisplayName) or (
        isinstance(condition, EventMatch) and condition.key == BODY
    ):
        return interned(("precondition", "body"), lambda: _has_body)
    if isinstance(condition, EventPropertyContains):
        if condition.key == _MENTIONED_USERS:
            return interned(("precondition", "mentions"), lambda: _has_mentioned_users)
        key = condition.key

        def has_array(facts: EventFacts) -> bool:
            array = facts.value(key)
            return isinstance(array, list) and bool(array)

        return interned(("precondition", "array", key), lambda: has_array)
    assert isinstance(condition, EventMatch)
    key = condition.key

    def has_string(facts: EventFacts) -> bool:
        return facts.folded(key) is not None

    return interned(("precondition", "string", key), lambda: has_string)


def depends_on_member(condition: Condition) -> bool:
    if isinstance(condition, ContainsDisplayName):
        return True
    return isinstance(condition, EventMatch | EventPropertyContains) and (
        condition.placeholder is not None
    )


class Test:
    """The conditions of a rule, compiled; shared by every rule with equal conditions
    (make them with `test_for`)."""

    __slots__ = ("compute", "event_checks", "key", "member_checks", "never")

    def __init__(self, conditions: tuple[Condition, ...]) -> None:
        event_checks: list[EventCheck] = []
        member_checks: list[MemberCheck] = []
        never = False
        for condition in conditions:
            if depends_on_member(condition):
                member_checks.append(
                    interned(("member", condition), lambda c=condition: member_check(c))
                )
                # What the member check needs from the event is checked with the event.
                precondition = member_precondition(condition)
                if precondition not in event_checks:
                    event_checks.append(precondition)
                continue
            check = interned(("event", condition), lambda c=condition: event_check(c))
            if check is None:
                never = True
            else:
                event_checks.append(check)
        self.event_checks = tuple(event_checks)
        self.member_checks = tuple(member_checks)
        self.never = never
        # What the per-event memo keeps the event-level outcome under, and how to compute
        # it: a lone check is its own key, so rules with one equal condition share it.
        self.key: Any = self
        self.compute: EventCheck = self.holds_for_event
        if len(event_checks) == 1 and not never:
            self.key = self.compute = event_checks[0]

    def holds_for_event(self, facts: EventFacts) -> bool:
        if self.never:
            return False
        memo = facts.memo
        for check in self.event_checks:
            result = memo.get(check)
            if result is None:
                result = memo[check] = check(facts)
            if not result:
                return False
        return True


_interned_objects: SharedObjects[Any, Any] = SharedObjects(_INTERNED_MAX)


def interned(key: Any, make: Callable[[], Any]) -> Any:
    # Equal conditions share one compiled object, so one memo entry serves them all.
    return _interned_objects.get(key, make)


def test_for(conditions: tuple[Condition, ...]) -> Test:
    return interned(("test", conditions), lambda: Test(conditions))


def condition_matches(condition: Condition, facts: EventFacts, member: MemberFacts) -> bool:
    """Whether one condition holds (for tests and tools: the evaluator batches instead)."""
    if depends_on_member(condition):
        return member_check(condition)(member, facts)
    check = event_check(condition)
    return check is not None and check(facts)
