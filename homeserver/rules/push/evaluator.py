"""Evaluating push rules (spec: Conditions, Push Rules): for each recipient of an event, the
first enabled rule of their rule set whose conditions all hold.

One event goes to every member of its room, so the work is split by what it depends on:

- an event-level condition (see `checks`) is computed once per event, in
  `EventFacts.memo`, whoever's rule it is in;
- each run of server-default rules (shared by every rule set) is reduced once per event to
  the rules whose event-level conditions hold, up to the first that needs nothing from the
  member;
- a user's consecutive rules that each compare one property with one literal (room and
  sender rules, Element's per-room mute override) become one dict lookup, however many
  rooms the user has muted;
- what is left per member is a set lookup (m.mentions) or a `str.find` (display name).

A rule set is compiled to its program on first use and keeps it (`PushRuleSet.compiled`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from homeserver.rules.push.checks import BODY, MemberCheck, Test, interned, test_for
from homeserver.rules.push.defaults import LEGACY_MENTION_RULE_IDS
from homeserver.rules.push.facts import EventFacts, MemberFacts, flatten
from homeserver.rules.push.glob import MAX_PATTERN_LENGTH, fold
from homeserver.rules.push.model import (
    Action,
    ActionSummary,
    EventMatch,
    EventPropertyIs,
    PushRule,
    effective_actions,
)
from homeserver.rules.push.ruleset import PushRuleSet, Segment

__all__ = [
    "EventFacts",
    "Match",
    "MemberFacts",
    "evaluate",
    "evaluate_for_members",
    "flatten",
]


@dataclass(frozen=True, slots=True)
class Match:
    """The outcome for one member: the rule that matched, its actions without the
    historical ones (a tuple of JSON values, ready to store), and what they mean."""

    rule: PushRule
    actions: tuple[Action, ...]
    summary: ActionSummary

    @classmethod
    def of(cls, rule: PushRule) -> Match:
        actions = effective_actions(rule.actions)
        return cls(rule, actions, ActionSummary.of(actions))


class _Rule:
    """One rule, tested on its own."""

    __slots__ = ("legacy", "match", "test")

    def __init__(self, rule: PushRule) -> None:
        self.test: Test = test_for(rule.implied_conditions())
        self.match = Match.of(rule)
        self.legacy = rule.default and rule.rule_id in LEGACY_MENTION_RULE_IDS


class _Lookup:
    """Reads one property as a string (None if it is not one), folded for event_match.
    Shared by every index on the same key, so the memo reads it once per event."""

    __slots__ = ("folded", "key")

    def __init__(self, key: str, folded: bool) -> None:
        self.key = key
        self.folded = folded

    def read(self, facts: EventFacts) -> str | None:
        value = facts.folded(self.key) if self.folded else facts.value(self.key)
        return value if type(value) is str else None


class _Index:
    """Consecutive user rules that each test one property against one literal: for each
    run on the same property, the first rule for each value, found by a dict lookup."""

    __slots__ = ("entries",)

    def __init__(self) -> None:
        self.entries: list[tuple[_Lookup, dict[str | None, Match]]] = []

    def add(self, key: str, folded: bool, value: str, rule: PushRule) -> None:
        if self.entries:
            lookup, table = self.entries[-1]
            if lookup.key == key and lookup.folded == folded:
                # The first rule for a value wins, as it would in order.
                table.setdefault(value, Match.of(rule))
                return
        lookup = interned(("lookup", key, folded), lambda: _Lookup(key, folded))
        self.entries.append((lookup, {value: Match.of(rule)}))


def _index_key(rule: PushRule) -> tuple[str, bool, Any] | None:
    """(key, folded, value) when `rule` is one literal comparison, else None."""
    conditions = rule.implied_conditions()
    if len(conditions) != 1:
        return None
    [condition] = conditions
    if isinstance(condition, EventPropertyIs) and isinstance(condition.value, str):
        return condition.key, False, condition.value
    if (
        isinstance(condition, EventMatch)
        and condition.placeholder is None
        and condition.key != BODY
        and "*" not in condition.pattern
        and "?" not in condition.pattern
        and len(condition.pattern) <= MAX_PATTERN_LENGTH
    ):
        return condition.key, True, fold(condition.pattern)
    return None


def _add_user_steps(steps: list[Step], segment: Segment) -> None:
    for rule in segment:
        if not rule.enabled:
            continue
        key = _index_key(rule)
        if key is None:
            steps.append(_Rule(rule))
            continue
        # Successive indexes (e.g. room rules, then sender rules) share one step.
        if not steps or not isinstance(steps[-1], _Index):
            steps.append(_Index())
        index = steps[-1]
        assert isinstance(index, _Index)
        index.add(*key, rule)


# A run reduced for one event: (member checks, match) candidates, and whether the last
# one needs no member check (so nothing after it can be reached).
Reduced = tuple[tuple[tuple[tuple[MemberCheck, ...], Match], ...], bool]


class _Block:
    """A run of server-default rules (disabled ones left out), shared by rule sets."""

    __slots__ = ("rules", "segment")

    def __init__(self, segment: Segment) -> None:
        self.segment = segment  # keeps the id() this block is cached under in use
        self.rules = tuple(_Rule(rule) for rule in segment if rule.enabled)

    def reduce(self, facts: EventFacts) -> Reduced:
        memo = facts.memo
        kept: list[tuple[tuple[MemberCheck, ...], Match]] = []
        for rule in self.rules:
            if rule.legacy and facts.has_mentions:
                # As Synapse: a sender that says whom it mentions is believed.
                continue
            test = rule.test
            holds = memo.get(test.key)
            if holds is None:
                holds = memo[test.key] = test.compute(facts)
            if not holds:
                continue
            kept.append((test.member_checks, rule.match))
            if not test.member_checks:
                return tuple(kept), True
        return tuple(kept), False


_shared_blocks: dict[int, _Block] = {}
_SHARED_BLOCKS_MAX = 10_000


def _block(segment: Segment) -> _Block:
    # Rule sets with the same default runs (all but those with unusual changes to the
    # defaults) get the same block, so its reduction per event is shared too.
    block = _shared_blocks.get(id(segment))
    if block is None or block.segment is not segment:
        if len(_shared_blocks) >= _SHARED_BLOCKS_MAX:
            del _shared_blocks[next(iter(_shared_blocks))]
        block = _shared_blocks[id(segment)] = _Block(segment)
    return block


Step = _Rule | _Index | _Block
Candidates = tuple[tuple[tuple[MemberCheck, ...], Match], ...]


class _Program:
    """A compiled rule set: its steps in evaluation order."""

    __slots__ = ("steps",)

    def __init__(self, ruleset: PushRuleSet) -> None:
        steps: list[Step] = []
        for segment in ruleset.segments:
            if segment[0].default:
                block = _block(segment)
                if block.rules:
                    steps.append(block)
            else:
                _add_user_steps(steps, segment)
        self.steps = tuple(steps)


def _program(ruleset: PushRuleSet) -> _Program:
    program = ruleset.compiled
    if program is None:
        program = ruleset.compiled = _Program(ruleset)
    return program


def _holds(test: Test, facts: EventFacts, memo: dict[Any, Any]) -> bool:
    holds = memo.get(test.key)
    if holds is None:
        holds = memo[test.key] = test.compute(facts)
    return bool(holds)


_UNREAD = object()


def _index_match(step: _Index, facts: EventFacts, memo: dict[Any, Any]) -> Match | None:
    for lookup, table in step.entries:
        value = memo.get(lookup, _UNREAD)
        if value is _UNREAD:
            value = memo[lookup] = lookup.read(facts)
        match = table.get(value)
        if match is not None:
            return match
    return None


def _first_match(
    program: _Program, member: MemberFacts, facts: EventFacts, memo: dict[Any, Any]
) -> Match | None:
    """One member's outcome, step by step (a rule set only this member has). The steps
    are inlined: this loop is most of the cost of a large room's message."""
    for step in program.steps:
        if isinstance(step, _Index):
            for lookup, table in step.entries:
                value = memo.get(lookup, _UNREAD)
                if value is _UNREAD:
                    value = memo[lookup] = lookup.read(facts)
                match = table.get(value)
                if match is not None:
                    return match
        elif isinstance(step, _Block):
            reduced = memo.get(step)
            if reduced is None:
                reduced = memo[step] = step.reduce(facts)
            for checks, match in reduced[0]:
                for check in checks:
                    if not check(member, facts):
                        break
                else:
                    return match
            if reduced[1]:
                return None
        else:
            test = step.test
            holds = memo.get(test.key)
            if holds is None:
                holds = memo[test.key] = test.compute(facts)
            if holds:
                for check in test.member_checks:
                    if not check(member, facts):
                        break
                else:
                    return step.match
    return None


def _reduce(program: _Program, facts: EventFacts, memo: dict[Any, Any]) -> Match | Candidates:
    """A rule set for this event: the Match when it is the same for every member, else
    the candidates left to check per member (a rule set shared by several members)."""
    kept: list[tuple[tuple[MemberCheck, ...], Match]] = []
    for step in program.steps:
        if isinstance(step, _Block):
            reduced = memo.get(step)
            if reduced is None:
                reduced = memo[step] = step.reduce(facts)
            kept.extend(reduced[0])
            if reduced[1]:
                break
        elif isinstance(step, _Rule):
            if _holds(step.test, facts, memo):
                kept.append((step.test.member_checks, step.match))
                if not step.test.member_checks:
                    break
        else:
            match = _index_match(step, facts, memo)
            if match is not None:
                kept.append(((), match))
                break
    if kept and not kept[0][0]:
        return kept[0][1]
    return tuple(kept)


_SEEN_ONCE = object()


def evaluate_for_members(
    facts: EventFacts, recipients: Iterable[tuple[PushRuleSet, MemberFacts]]
) -> list[Match | None]:
    """For each (rule set, member): the first enabled rule that matches, or None. The
    sender gets None (spec: never notify users of their own events)."""
    memo = facts.memo
    sender = facts.sender
    results: list[Match | None] = []
    append = results.append
    for ruleset, member in recipients:
        if member.user_id == sender:
            append(None)
            continue
        program = ruleset.compiled or _program(ruleset)
        reduced = memo.get(program)
        if reduced is None:
            # Most rule sets with custom rules belong to one member: walk them directly,
            # and reduce a rule set for the event only once a second member shares it.
            memo[program] = _SEEN_ONCE
            append(_first_match(program, member, facts, memo))
            continue
        if reduced is _SEEN_ONCE:
            reduced = memo[program] = _reduce(program, facts, memo)
        if isinstance(reduced, Match):
            append(reduced)
            continue
        for checks, match in reduced:
            for check in checks:
                if not check(member, facts):
                    break
            else:
                append(match)
                break
        else:
            append(None)
    return results


def evaluate(facts: EventFacts, ruleset: PushRuleSet, member: MemberFacts) -> Match | None:
    """One member's outcome (see `evaluate_for_members`)."""
    return evaluate_for_members(facts, [(ruleset, member)])[0]
