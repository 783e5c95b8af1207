"""Evaluating push rules (spec: Conditions, Push Rules): for each recipient of an event, the
first enabled rule of their rule set whose conditions all hold.

One event goes to every member of its room, so the work is split by what it depends on:

- an event-level condition (see `checks`) is computed once per event, in
  `EventFacts.memo`, whoever's rule it is in;
- each run of server-default rules (shared by every rule set) is reduced once per event to
  the rules whose event-level conditions hold, up to the first that needs nothing from the
  member;
- a member check that cannot hold for this event (no body, no mentioned users) is
  dropped with the event-level conditions, as part of them;
- a user's rules that each compare one property with one literal (room and sender rules,
  Element's per-room mute override, underrides on the type) share one dict per rule set,
  probed with the few keys the event's values make, however many rooms the user muted;
- what is left per member is a set lookup (m.mentions) or a `str.find` (display name).

A rule set is compiled to its program on first use and keeps it (`PushRuleSet.compiled`).
As a user's own rules nearly never depend on the member, a program is usually split: the
user's rules, all tested on the event, give the first of them that matches, and only the
default rules before it (reduced once per event for every rule set that has its defaults in
the same places: the `_Skeleton`) are checked against the member.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import count
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
from homeserver.rules.push.shared import SharedObjects

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


_lookup_numbers = count()


class _Lookup:
    """Reads one property as a string (None if it is not one), folded for event_match.
    Shared by every index on the same key, so the memo reads it once per event."""

    __slots__ = ("folded", "key", "tag")

    def __init__(self, key: str, folded: bool) -> None:
        self.key = key
        self.folded = folded
        # Prefixes a value in a program's merged table (see `_Probes`): digits, then NUL.
        self.tag = f"{next(_lookup_numbers)}\x00"

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


_shared_blocks: SharedObjects[int, _Block] = SharedObjects(10_000)


def _block(segment: Segment) -> _Block:
    # Rule sets with the same default runs (all but those with unusual changes to the
    # defaults) get the same block, so its reduction per event is shared too.
    block = _shared_blocks.peek(id(segment))
    if block is None or block.segment is not segment:
        block = _shared_blocks.put(id(segment), _Block(segment))
    return block


Step = _Rule | _Index | _Block
Candidates = tuple[tuple[tuple[MemberCheck, ...], Match], ...]

# Past every step of any program: the position of "no unconditional default rule".
_END = 1 << 30


class _Skeleton:
    """A program's default blocks with their positions among its steps. Rule sets whose
    defaults sit in the same places (every rule set with the same default changes and
    the same kinds of own rules) share one, so it is reduced once per event."""

    __slots__ = ("blocks",)

    def __init__(self, blocks: tuple[tuple[int, _Block], ...]) -> None:
        self.blocks = blocks

    def reduce(
        self, facts: EventFacts, memo: dict[Any, Any]
    ) -> tuple[tuple[tuple[int, tuple[MemberCheck, ...], Match], ...], int]:
        """The (position, member checks, match) candidates for this event, and the
        position of the last one when it needs nothing from the member (else _END)."""
        kept: list[tuple[int, tuple[MemberCheck, ...], Match]] = []
        for position, block in self.blocks:
            reduced = memo.get(block)
            if reduced is None:
                reduced = memo[block] = block.reduce(facts)
            kept.extend((position, checks, match) for checks, match in reduced[0])
            if reduced[1]:
                return tuple(kept), position
        return tuple(kept), _END


_skeletons: SharedObjects[tuple[tuple[int, _Block], ...], _Skeleton] = SharedObjects(10_000)


def _skeleton(blocks: tuple[tuple[int, _Block], ...]) -> _Skeleton:
    return _skeletons.get(blocks, lambda: _Skeleton(blocks))


class _Probes:
    """The properties a program's own literal comparisons read: per event, the keys of
    its merged table that the event's values make (tag + value), shared by every program
    reading the same properties."""

    __slots__ = ("lookups",)

    def __init__(self, lookups: tuple[_Lookup, ...]) -> None:
        self.lookups = lookups

    def keys(self, facts: EventFacts, memo: dict[Any, Any]) -> tuple[str, ...]:
        keys: list[str] = []
        for lookup in self.lookups:
            value = memo.get(lookup, _UNREAD)
            if value is _UNREAD:
                value = memo[lookup] = lookup.read(facts)
            if value is not None:
                keys.append(lookup.tag + value)
        return tuple(keys)


_probes: SharedObjects[tuple[_Lookup, ...], _Probes] = SharedObjects(10_000)


def _probes_for(lookups: tuple[_Lookup, ...]) -> _Probes:
    return _probes.get(lookups, lambda: _Probes(lookups))


# A user's rule tested on the event alone: (position, memo key, how to compute, match).
Op = tuple[int, Any, Any, Match]


class _Program:
    """A compiled rule set: its steps in evaluation order; or, when none of the user's own
    rules depends on the member (nearly always), the same split for the per-member walk:
    the shared defaults as a `skeleton`, and the user's own rules as one `table` of their
    literal comparisons ({tag + value: (position, match)}, read through `probes`) and the
    `rules` left, each tested on the event."""

    __slots__ = ("probes", "rules", "seen_in", "skeleton", "steps", "table")

    def __init__(self, ruleset: PushRuleSet) -> None:
        steps: list[Step] = []
        for segment in ruleset.segments:
            if segment[0].default:
                block = _block(segment)
                if block.rules:
                    steps.append(block)
            else:
                _add_user_steps(steps, segment)
        blocks: list[tuple[int, _Block]] = []
        lookups: list[_Lookup] = []
        table: dict[str, tuple[int, Match]] = {}
        rules: list[Op] = []
        split = True
        for position, step in enumerate(steps):
            if isinstance(step, _Block):
                blocks.append((position, step))
            elif isinstance(step, _Index):
                for lookup, matches in step.entries:
                    if lookup not in lookups:
                        lookups.append(lookup)
                    tag = lookup.tag
                    for value, match in matches.items():
                        # The first rule for a value wins, as it would in order.
                        table.setdefault(tag + value, (position, match))
            elif step.test.member_checks:
                split = False
            else:
                rules.append((position, step.test.key, step.test.compute, step.match))
        self.skeleton = _skeleton(tuple(blocks))
        # Only one form is kept: a large room holds many programs.
        self.steps: tuple[Step, ...] | None = None if split else tuple(steps)
        self.rules: tuple[Op, ...] = tuple(rules)
        self.probes = _probes_for(tuple(lookups)) if split and lookups else None
        self.table = table if split else {}
        # The serial of the last event evaluated with this program (see
        # `evaluate_for_members`); only ever a hint of which path is faster.
        self.seen_in = -1

    def own_match(
        self, facts: EventFacts, memo: dict[Any, Any], last: int
    ) -> tuple[int, Match | None]:
        """(position, match) of the user's first own rule that holds (a split program),
        looking no further than `last`; (_END, None) if none does."""
        found: Match | None = None
        found_at = _END
        if self.probes is not None:
            keys = memo.get(self.probes)
            if keys is None:
                keys = memo[self.probes] = self.probes.keys(facts, memo)
            table = self.table
            for key in keys:
                hit = table.get(key)
                if hit is not None and hit[0] < found_at:
                    found_at, found = hit
        limit = min(found_at, last)
        for position, key, compute, match in self.rules:
            if position > limit:
                break
            holds = memo.get(key)
            if holds is None:
                holds = memo[key] = compute(facts)
            if holds:
                return position, match
        return found_at, found


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
    """One member's outcome, step by step (a rule set only this member has). Only for a
    program with an own rule that depends on the member."""
    steps = program.steps
    assert steps is not None
    for step in steps:
        if isinstance(step, _Index):
            match = _index_match(step, facts, memo)
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
    if program.steps is None:
        skeleton = program.skeleton
        shape = memo.get(skeleton)
        if shape is None:
            shape = memo[skeleton] = skeleton.reduce(facts, memo)
        candidates, last = shape
        found_at, found = program.own_match(facts, memo, last)
        kept.extend((checks, match) for at, checks, match in candidates if at < found_at)
        if found is not None and found_at < last:
            kept.append(((), found))
        if kept and not kept[0][0]:
            return kept[0][1]
        return tuple(kept)
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


def evaluate_for_members(
    facts: EventFacts, recipients: Iterable[tuple[PushRuleSet, MemberFacts]]
) -> list[Match | None]:
    """For each (rule set, member): the first enabled rule that matches, or None. The
    sender gets None (spec: never notify users of their own events)."""
    memo = facts.memo
    sender = facts.sender
    results: list[Match | None] = []
    append = results.append
    memo_get = memo.get
    serial = facts.serial
    for ruleset, member in recipients:
        if member.user_id == sender:
            append(None)
            continue
        program = ruleset.compiled or _program(ruleset)
        if program.seen_in != serial:
            # Most rule sets with custom rules belong to one member: walk them directly,
            # and reduce a rule set for the event only once a second member shares it.
            # (Marking the program rather than the memo keeps the memo small; were two
            # events evaluated interleaved, a program would only be walked once more.)
            program.seen_in = serial
            if program.steps is not None:
                append(_first_match(program, member, facts, memo))
                continue
            # The user's own rules are event-level: find the first that matches (no
            # further than an unconditional default), then the defaults before it.
            skeleton = program.skeleton
            shape = memo_get(skeleton)
            if shape is None:
                shape = memo[skeleton] = skeleton.reduce(facts, memo)
            candidates, last = shape
            found = None
            found_at = _END
            probes = program.probes
            if probes is not None:
                keys = memo_get(probes)
                if keys is None:
                    keys = memo[probes] = probes.keys(facts, memo)
                table = program.table
                for key in keys:
                    hit = table.get(key)
                    if hit is not None and hit[0] < found_at:
                        found_at, found = hit
            rules = program.rules
            if rules:
                limit = found_at if found_at < last else last
                for position, key, compute, match in rules:
                    if position > limit:
                        break
                    holds = memo_get(key)
                    if holds is None:
                        holds = memo[key] = compute(facts)
                    if holds:
                        found_at = position
                        found = match
                        break
            for position, checks, match in candidates:
                if position > found_at:
                    break
                for check in checks:
                    if not check(member, facts):
                        break
                else:
                    found = match
                    break
            append(found)
            continue
        reduced = memo_get(program)
        if reduced is None:
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
