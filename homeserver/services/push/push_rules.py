"""Push rules (spec: Push Rules, the /pushrules API and the m.push_rules account data).

A user's rule set is the shared server defaults with the user's own rules and changes to
default rules around them (`homeserver/rules/push`). Sets are cached per user until the
push-rules stream names the user again; users who customised nothing share one object, and
the evaluator loads the sets of a room's members in one query for those not cached.

Every change is written at a new position of the push-rules stream and announced to its
user, so /sync sends the new m.push_rules. Writes of one user are serialised (a lock per
user in this process, the push-rules writer), so each is a read, checks and one write.
Where the spec is silent the behaviour is Synapse's: a PUT of an existing rule without
`before`/`after` makes it the most important of its kind again, and keeps whether it is
enabled; `before` wins over `after`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import structlog

from homeserver.rules.push.defaults import DEFAULT_RULES, DefaultRules
from homeserver.rules.push.model import Action, PushRule, RuleKind
from homeserver.rules.push.parse import load_rule, parse_actions, parse_kind, parse_rule, rule_body
from homeserver.rules.push.ruleset import PushRuleSet
from homeserver.services.common.keyed_lock import KeyedLock
from homeserver.services.common.per_user_cache import PerUserCache
from homeserver.streams.writer import StreamWriter
from homeserver.types.errors import BadRequest, Codes, MatrixError, NotFound
from homeserver.types.frozen import thaw
from homeserver.types.stream_token import Stream
from storage.stores import Stores
from storage.stores.push_rules import StoredRule, UserPushRules

log = structlog.get_logger(__name__)

PUSH_RULES = "m.push_rules"
SCOPE = "global"
# A user's own rules, all kinds together: each is evaluated for every event that may
# notify the user, and all of them are sent in every m.push_rules.
MAX_OWN_RULES = 1_000
_MAX_CACHED_USERS = 20_000
# Room upgrades read the rules of the old room's local members this many at a time.
_COPY_BATCH = 1_000


class PushRuleService:
    def __init__(
        self, stores: Stores, writer: StreamWriter, defaults: DefaultRules = DEFAULT_RULES
    ) -> None:
        self.stores = stores
        self.writer = writer
        self.defaults = defaults
        self._locks = KeyedLock()
        self._cache: PerUserCache[PushRuleSet] = PerUserCache(
            writer.notifier, Stream.PUSH_RULES, self._read, _MAX_CACHED_USERS, self._read_many
        )

    # -- rule sets (the evaluator, sync, GET) ----------------------------------------------

    async def ruleset(self, user_id: str) -> PushRuleSet:
        return await self._cache.get(user_id)

    async def rulesets(self, user_ids: Iterable[str]) -> dict[str, PushRuleSet]:
        """The rule sets of many users, those not cached read in one query."""
        return await self._cache.get_many(user_ids)

    async def _read(self, user_id: str) -> PushRuleSet:
        return (await self._read_many([user_id]))[user_id]

    async def _read_many(self, user_ids: list[str]) -> dict[str, PushRuleSet]:
        stored = await self.stores.push_rules.for_users(list(dict.fromkeys(user_ids)))
        return {user_id: self._build(user_id, rules) for user_id, rules in stored.items()}

    def _build(self, user_id: str, stored: UserPushRules) -> PushRuleSet:
        own: dict[RuleKind, list[PushRule]] = {}
        for kind, rules in stored.own.items():
            loaded = own.setdefault(RuleKind(kind), [])
            for rule in rules:
                try:
                    loaded.append(
                        load_rule(kind, rule.rule_id, _body_of(rule), enabled=rule.enabled)
                    )
                except MatrixError:
                    # Stored by an older, laxer version: skipped rather than failing every
                    # evaluation that needs this user's rules.
                    log.warning("stored push rule invalid", user_id=user_id, rule=rule.rule_id)
        changes: dict[str, tuple[bool | None, tuple[Action, ...] | None]] = {}
        for rule_id, change in stored.default_changes.items():
            actions = None
            if change.actions is not None:
                try:
                    actions = parse_actions(change.actions)
                except MatrixError:
                    log.warning("stored push rule actions invalid", user_id=user_id, rule=rule_id)
            if change.enabled is not None or actions is not None:
                changes[rule_id] = (change.enabled, actions)
        return PushRuleSet.build(own, changes, self.defaults)

    # -- reading ---------------------------------------------------------------------------

    async def get_all(self, user_id: str) -> dict[str, Any]:
        """GET /pushrules/ and the m.push_rules content: `{"global": {kind: [rule]}}`."""
        return (await self.ruleset(user_id)).to_json(user_id)

    async def account_data_event(self, user_id: str) -> dict[str, Any]:
        return {"type": PUSH_RULES, "content": await self.get_all(user_id)}

    async def changed_since(self, user_id: str, since: int) -> bool:
        """Whether the user's rules changed after stream position `since`."""
        index = self.writer.notifier.changes(Stream.PUSH_RULES)
        if index.knows(since):
            return index.changed(user_id, since)
        return await self.stores.push_rules.position(user_id) > since

    async def get_scope(self, user_id: str, scope: str) -> dict[str, Any]:
        _check_scope(scope)
        return dict((await self.get_all(user_id))[SCOPE])

    async def get_kind(self, user_id: str, scope: str, kind: str) -> list[Any]:
        rule_kind = _kind(scope, kind)
        ruleset = await self.ruleset(user_id)
        return [rule.to_json(user_id) for rule in ruleset.of_kind(rule_kind)]

    async def get_rule(self, user_id: str, scope: str, kind: str, rule_id: str) -> dict[str, Any]:
        return (await self._find(user_id, scope, kind, rule_id)).to_json(user_id)

    async def get_enabled(self, user_id: str, scope: str, kind: str, rule_id: str) -> bool:
        return (await self._find(user_id, scope, kind, rule_id)).enabled

    async def get_actions(self, user_id: str, scope: str, kind: str, rule_id: str) -> list[Any]:
        rule = await self._find(user_id, scope, kind, rule_id)
        return list(rule.to_json(user_id)["actions"])

    async def _find(self, user_id: str, scope: str, kind: str, rule_id: str) -> PushRule:
        rule = (await self.ruleset(user_id)).find(_kind(scope, kind), rule_id)
        if rule is None:
            raise NotFound("The push rule was not found")
        return rule

    # -- changing --------------------------------------------------------------------------

    async def put_rule(
        self,
        user_id: str,
        scope: str,
        kind: str,
        rule_id: str,
        body: dict[str, Any],
        *,
        before: str | None = None,
        after: str | None = None,
    ) -> None:
        """Create or replace one of the user's own rules, placed before or after another of
        the same kind, or else first of its kind."""
        rule_kind = _kind(scope, kind)
        # As Synapse (and SyTest): override and underride rules say their conditions,
        # even when there are none.
        if (
            rule_kind in (RuleKind.OVERRIDE, RuleKind.UNDERRIDE)
            and isinstance(body, dict)
            and "conditions" not in body
        ):
            raise BadRequest("An override or underride rule needs conditions", Codes.MISSING_PARAM)
        rule = parse_rule(rule_kind, rule_id, body)
        _refuse_nul(rule_id, body)
        anchor = before or after
        async with self._locks.hold(user_id):
            stored = await self.stores.push_rules.for_user(user_id)
            ids = [r.rule_id for r in stored.own.get(rule_kind.value, [])]
            if rule_id not in ids and stored.count() >= MAX_OWN_RULES:
                raise MatrixError(
                    400, Codes.LIMIT_EXCEEDED, f"A user has at most {MAX_OWN_RULES} push rules"
                )
            if anchor is not None and anchor != "" and anchor not in ids:
                if self.defaults.find(rule_kind, anchor) is not None or anchor.startswith("."):
                    raise BadRequest("Rules cannot be placed relative to server-default rules")
                # The spec's example: 400, "before/after rule not found" (as Synapse).
                raise MatrixError(400, Codes.UNKNOWN, f"before/after rule not found: {anchor}")
            order = _placed(ids, rule_id, before or None, after or None)
            saved = rule_body(rule)
            row = StoredRule(
                kind=rule_kind.value,
                rule_id=rule_id,
                conditions=saved.get("conditions"),
                pattern=saved.get("pattern"),
                actions=saved["actions"],
                enabled=True,
            )
            await self._write(
                user_id,
                lambda position: self.stores.push_rules.put_rule(user_id, row, order, position),
            )

    async def delete_rule(self, user_id: str, scope: str, kind: str, rule_id: str) -> None:
        rule_kind = _kind(scope, kind)
        if self.defaults.find(rule_kind, rule_id) is not None:
            raise BadRequest("Server-default push rules cannot be deleted")
        async with self._locks.hold(user_id):
            await self._own(user_id, rule_kind, rule_id)
            await self._write(
                user_id,
                lambda position: self.stores.push_rules.delete_rule(
                    user_id, rule_kind.value, rule_id, position
                ),
            )

    async def set_enabled(
        self, user_id: str, scope: str, kind: str, rule_id: str, enabled: bool
    ) -> None:
        rule_kind = _kind(scope, kind)
        store = self.stores.push_rules
        async with self._locks.hold(user_id):
            if self.defaults.find(rule_kind, rule_id) is not None:
                await self._write(
                    user_id,
                    lambda position: store.set_default_enabled(user_id, rule_id, enabled, position),
                )
                return
            await self._own(user_id, rule_kind, rule_id)
            await self._write(
                user_id,
                lambda position: store.set_enabled(
                    user_id, rule_kind.value, rule_id, enabled, position
                ),
            )

    async def set_actions(
        self, user_id: str, scope: str, kind: str, rule_id: str, raw_actions: Any
    ) -> None:
        rule_kind = _kind(scope, kind)
        actions = [thaw(a) if isinstance(a, dict) else a for a in parse_actions(raw_actions)]
        _refuse_nul(actions)
        store = self.stores.push_rules
        async with self._locks.hold(user_id):
            if self.defaults.find(rule_kind, rule_id) is not None:
                await self._write(
                    user_id,
                    lambda position: store.set_default_actions(user_id, rule_id, actions, position),
                )
                return
            await self._own(user_id, rule_kind, rule_id)
            await self._write(
                user_id,
                lambda position: store.set_actions(
                    user_id, rule_kind.value, rule_id, actions, position
                ),
            )

    async def _own(self, user_id: str, kind: RuleKind, rule_id: str) -> StoredRule:
        """One of the user's own rules, read afresh (the caller holds the user's lock)."""
        stored = await self.stores.push_rules.for_user(user_id)
        for rule in stored.own.get(kind.value, []):
            if rule.rule_id == rule_id:
                return rule
        raise NotFound("The push rule was not found")

    async def _write(self, user_id: str, change: Callable[[int], Awaitable[None]]) -> None:
        async def action(position: int) -> None:
            await change(position)
            # Committed: nobody may read the old set from the cache from now on (the
            # stream names the user only once the position is published).
            self._cache.invalidate(user_id)

        await self.writer.write(self.stores.push_rules.next_positions, action, users=[user_id])

    # -- room upgrades ---------------------------------------------------------------------

    async def copy_room_rules_for_users(
        self, old_room_id: str, new_room_id: str, user_ids: list[str]
    ) -> None:
        """`copy_room_rules` for each of `user_ids` (the old room's local members), reading
        their rules a batch at a time and writing only for those with rules to copy."""
        for start in range(0, len(user_ids), _COPY_BATCH):
            batch = user_ids[start : start + _COPY_BATCH]
            stored = await self.stores.push_rules.for_users(batch)
            for user_id, rules in stored.items():
                if not _room_rule_copies(rules, old_room_id, new_room_id):
                    continue
                try:
                    await self.copy_room_rules(user_id, old_room_id, new_room_id)
                except MatrixError as error:
                    log.warning("push rules not copied", user_id=user_id, error=error.message)

    async def copy_room_rules(self, user_id: str, old_room_id: str, new_room_id: str) -> None:
        """As Synapse on a room upgrade: each enabled rule of the user's that names the old
        room (a room rule for it, or a condition on its room ID) is copied for the new room,
        first of its kind. Rules the user already has for the new room are kept."""
        async with self._locks.hold(user_id):
            stored = await self.stores.push_rules.for_user(user_id)
            count = stored.count()
            for copy in _room_rule_copies(stored, old_room_id, new_room_id):
                ids = [r.rule_id for r in stored.own.get(copy.kind, [])]
                if copy.rule_id in ids or count >= MAX_OWN_RULES:
                    continue
                order = [copy.rule_id, *ids]
                await self._write(
                    user_id,
                    lambda position, c=copy, o=order: self.stores.push_rules.put_rule(
                        user_id, c, o, position
                    ),
                )
                stored.own.setdefault(copy.kind, []).insert(0, copy)
                count += 1


def _check_scope(scope: str) -> None:
    # Spec v1.19 names only /pushrules/global/...; Synapse answers 400 M_UNRECOGNIZED for
    # any other scope (SyTest checks the 400).
    if scope != SCOPE:
        raise MatrixError(400, Codes.UNRECOGNIZED, f"Unknown push rule scope {scope!r}")


def _kind(scope: str, kind: str) -> RuleKind:
    _check_scope(scope)
    return parse_kind(kind)


def _placed(ids: list[str], rule_id: str, before: str | None, after: str | None) -> list[str]:
    """The rule IDs of a kind once `rule_id` is placed: just before `before`, else just
    after `after`, else first. Placing a rule relative to itself leaves it where it is."""
    anchor = before or after
    if anchor == rule_id and rule_id in ids:
        return list(ids)
    others = [i for i in ids if i != rule_id]
    if before:
        index = others.index(before)
    elif after:
        index = others.index(after) + 1
    else:
        index = 0
    return [*others[:index], rule_id, *others[index:]]


def _body_of(rule: StoredRule) -> dict[str, Any]:
    body: dict[str, Any] = {"actions": rule.actions}
    if rule.conditions is not None:
        body["conditions"] = rule.conditions
    if rule.pattern is not None:
        body["pattern"] = rule.pattern
    return body


def _refuse_nul(*values: Any) -> None:
    """Postgres stores no NUL character: refuse it before a stream position is taken."""
    stack = list(values)
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise BadRequest("Push rules may not contain NUL characters", Codes.BAD_JSON)
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)


def _names_room(condition: Any, room_id: str) -> bool:
    return (
        isinstance(condition, dict)
        and condition.get("key") == "room_id"
        and (condition.get("pattern") == room_id or condition.get("value") == room_id)
    )


def _room_rule_copies(
    stored: UserPushRules, old_room_id: str, new_room_id: str
) -> list[StoredRule]:
    """The copies for the new room of the user's enabled rules that name the old one."""
    copies: dict[tuple[str, str], StoredRule] = {}
    # Rules whose ID holds the room's ID first: the copies' IDs are theirs by right.
    rules = sorted(
        (rule for of_kind in stored.own.values() for rule in of_kind),
        key=lambda rule: old_room_id not in rule.rule_id,
    )
    for rule in rules:
        if not rule.enabled:
            continue
        if rule.kind == RuleKind.ROOM.value and rule.rule_id == old_room_id:
            conditions = None
        elif any(_names_room(c, old_room_id) for c in rule.conditions or ()):
            conditions = [
                {**c, **{k: new_room_id for k in ("pattern", "value") if k in c}}
                if _names_room(c, old_room_id)
                else c
                for c in rule.conditions or ()
            ]
        else:
            continue
        # A rule ID that holds the old room's ID (a room rule, or a per-room override as
        # clients make them) gets the new room's in its place; Synapse names any other
        # copy after the new room too, unless a copy took that ID already.
        new_id = (
            rule.rule_id.replace(old_room_id, new_room_id)
            if old_room_id in rule.rule_id
            else new_room_id
        )
        copies.setdefault(
            (rule.kind, new_id),
            StoredRule(rule.kind, new_id, conditions, rule.pattern, rule.actions, True),
        )
    return list(copies.values())
