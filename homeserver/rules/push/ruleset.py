"""A user's effective push rules: their own rules around the shared server defaults.

Order (spec: Predefined Rules; as Synapse): .m.rule.master, the user's override rules, the
other default override rules, then for each of content, room, sender and underride the
user's rules of that kind before the defaults of that kind.

Most users customise nothing, or the same few things; they share one `PushRuleSet` (and
the default segments inside one are shared by all), which is what lets the evaluator reduce
each distinct segment once per event rather than once per recipient.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from homeserver.rules.push.defaults import DEFAULT_RULES, DefaultRules
from homeserver.rules.push.model import KIND_ORDER, Action, PushRule, RuleKind
from homeserver.rules.push.shared import SharedObjects
from homeserver.types.frozen import freeze

# {default rule_id: (enabled or None to keep, actions or None to keep)}
DefaultChanges = Mapping[str, tuple[bool | None, Sequence[Action] | None]]
Segment = tuple[PushRule, ...]

# Changed default segments, shared by users who made the same changes.
_CHANGED_SEGMENTS: SharedObjects[tuple[Any, ...], Segment] = SharedObjects(10_000)


def _frozen_change(
    change: tuple[bool | None, Sequence[Action] | None],
) -> tuple[bool | None, tuple[Action, ...] | None]:
    enabled, actions = change
    # Actions may come straight from storage as JSON lists and dicts.
    return enabled, None if actions is None else tuple(freeze(a) for a in actions)


def _changed(defaults: DefaultRules, segment: Segment, changes: DefaultChanges) -> Segment:
    relevant = tuple(
        (rule.rule_id, _frozen_change(changes[rule.rule_id]))
        for rule in segment
        if rule.rule_id in changes
    )
    if not relevant:
        return segment
    changed = dict(relevant)
    return _CHANGED_SEGMENTS.get(
        (id(defaults), id(segment), relevant),
        lambda: tuple(
            rule.with_changes(*changed[rule.rule_id]) if rule.rule_id in changed else rule
            for rule in segment
        ),
    )


class PushRuleSet:
    """Immutable once built. `segments` is the evaluation order as runs of rules; runs of
    default rules are shared objects between rule sets."""

    __slots__ = ("_by_kind", "_index", "compiled", "defaults", "segments")

    def __init__(
        self,
        user_rules: Mapping[RuleKind, Sequence[PushRule]] | None = None,
        default_changes: DefaultChanges | None = None,
        defaults: DefaultRules = DEFAULT_RULES,
    ) -> None:
        user_rules = user_rules or {}
        changes = default_changes or {}
        self.defaults = defaults
        master = _changed(defaults, (defaults.master,), changes)
        default_of = {
            RuleKind.OVERRIDE: _changed(defaults, defaults.override, changes),
            RuleKind.CONTENT: _changed(defaults, defaults.content, changes),
            RuleKind.UNDERRIDE: _changed(defaults, defaults.underride, changes),
        }
        by_kind: dict[RuleKind, Segment] = {}
        segments: list[Segment] = [master]
        for kind in KIND_ORDER:
            own = tuple(user_rules.get(kind, ()))
            defaults_of_kind = default_of.get(kind, ())
            by_kind[kind] = (
                (*master, *own, *defaults_of_kind)
                if kind is RuleKind.OVERRIDE
                else (*own, *defaults_of_kind)
            )
            segments.extend(s for s in (own, defaults_of_kind) if s)
        self._by_kind = by_kind
        self.segments: tuple[Segment, ...] = tuple(segments)
        self._index: dict[tuple[RuleKind, str], PushRule] | None = None
        # The evaluator's compiled form, made on first use.
        self.compiled: Any = None

    @classmethod
    def build(
        cls,
        user_rules: Mapping[RuleKind, Sequence[PushRule]] | None = None,
        default_changes: DefaultChanges | None = None,
        defaults: DefaultRules = DEFAULT_RULES,
    ) -> PushRuleSet:
        """A rule set; the shared one when the user customised nothing."""
        if not default_changes and not any(user_rules.values() if user_rules else ()):
            return uncustomised(defaults)
        return cls(user_rules, default_changes, defaults)

    def in_order(self) -> tuple[PushRule, ...]:
        """Every rule, enabled or not, in evaluation order."""
        return tuple(rule for segment in self.segments for rule in segment)

    def of_kind(self, kind: RuleKind) -> tuple[PushRule, ...]:
        return self._by_kind[kind]

    def find(self, kind: RuleKind, rule_id: str) -> PushRule | None:
        if self._index is None:
            index: dict[tuple[RuleKind, str], PushRule] = {}
            for rules in self._by_kind.values():
                for rule in rules:
                    index.setdefault((rule.kind, rule.rule_id), rule)
            self._index = index
        return self._index.get((kind, rule_id))

    def to_json(self, user_id: str) -> dict[str, Any]:
        """GET /pushrules/ and the m.push_rules account data: `{"global": {kind: [...]}}`."""
        return {
            "global": {
                kind.value: [rule.to_json(user_id) for rule in self._by_kind[kind]]
                for kind in KIND_ORDER
            }
        }


_UNCUSTOMISED: dict[int, PushRuleSet] = {}


def uncustomised(defaults: DefaultRules = DEFAULT_RULES) -> PushRuleSet:
    """The one rule set shared by every user who changed nothing."""
    ruleset = _UNCUSTOMISED.get(id(defaults))
    if ruleset is None or ruleset.defaults is not defaults:
        ruleset = _UNCUSTOMISED[id(defaults)] = PushRuleSet(defaults=defaults)
    return ruleset


DEFAULT_RULESET = uncustomised(DEFAULT_RULES)
