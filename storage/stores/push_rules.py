"""Push rules: each user's own rules and their changes to the server-default ones.

The server-default rules are not stored (they live in code), so a default added later
reaches every user. Every change takes the next position of the push-rules stream and
records it as the user's position there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from storage.database import Connection, Database


@dataclass(frozen=True, slots=True)
class StoredRule:
    """One of a user's own rules. `conditions` is set for override and underride rules,
    `pattern` for content rules."""

    kind: str
    rule_id: str
    conditions: list[Any] | None
    pattern: str | None
    actions: list[Any]
    enabled: bool


@dataclass(frozen=True, slots=True)
class DefaultRuleChange:
    """A user's change to a server-default rule; None keeps the default."""

    enabled: bool | None
    actions: list[Any] | None


@dataclass(slots=True)
class UserPushRules:
    """A user's own rules (each kind in priority order) and changes to default rules."""

    own: dict[str, list[StoredRule]] = field(default_factory=dict)
    default_changes: dict[str, DefaultRuleChange] = field(default_factory=dict)

    @property
    def customised(self) -> bool:
        return bool(self.own or self.default_changes)

    def count(self) -> int:
        return sum(len(rules) for rules in self.own.values())


class PushRuleStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def next_positions(self, count: int) -> list[int]:
        return await self.db.sequence_values("push_rules_stream_seq", count)

    async def max_position(self) -> int:
        value = await self.db.fetchval(
            "max_push_rules_position",
            "SELECT COALESCE(MAX(stream_id), 0) FROM push_rules_positions",
        )
        return int(value)

    async def position(self, user_id: str) -> int:
        """The position of the user's latest change (0: never changed anything)."""
        value = await self.db.fetchval(
            "push_rules_position_of_user",
            "SELECT stream_id FROM push_rules_positions WHERE user_id = $1",
            user_id,
        )
        return int(value) if value is not None else 0

    async def for_user(self, user_id: str) -> UserPushRules:
        return (await self.for_users([user_id]))[user_id]

    async def for_users(self, user_ids: list[str]) -> dict[str, UserPushRules]:
        """The rules of many users in one query; users with none get an empty entry."""
        rows = await self.db.fetch(
            "push_rules_for_users",
            """SELECT user_id, kind, rule_id, priority, conditions::text AS conditions,
                      pattern, actions::text AS actions, enabled
               FROM push_rules WHERE user_id = ANY($1::text[])
               UNION ALL
               SELECT user_id, NULL, rule_id, NULL, NULL, NULL, actions::text, enabled
               FROM push_rule_default_changes WHERE user_id = ANY($1::text[])
               ORDER BY priority NULLS LAST""",
            user_ids,
        )
        result = {user_id: UserPushRules() for user_id in user_ids}
        for row in rows:
            rules = result[row["user_id"]]
            actions = json.loads(row["actions"]) if row["actions"] is not None else None
            if row["kind"] is None:
                rules.default_changes[row["rule_id"]] = DefaultRuleChange(row["enabled"], actions)
                continue
            conditions = row["conditions"]
            rules.own.setdefault(row["kind"], []).append(
                StoredRule(
                    kind=row["kind"],
                    rule_id=row["rule_id"],
                    conditions=json.loads(conditions) if conditions is not None else None,
                    pattern=row["pattern"],
                    actions=actions or [],
                    enabled=row["enabled"],
                )
            )
        return result

    async def put_rule(
        self, user_id: str, rule: StoredRule, order: list[str], position: int
    ) -> None:
        """Create or replace one of the user's own rules (an existing rule keeps whether it
        is enabled) and number the rules of its kind as in `order` (rule IDs, most important
        first, including this rule)."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "upsert_push_rule",
                """INSERT INTO push_rules (user_id, kind, rule_id, priority, conditions,
                                           pattern, actions, enabled)
                   VALUES ($1, $2, $3, 0, $4::jsonb, $5, $6::jsonb, $7)
                   ON CONFLICT (user_id, kind, rule_id) DO UPDATE SET
                       conditions = EXCLUDED.conditions, pattern = EXCLUDED.pattern,
                       actions = EXCLUDED.actions""",
                user_id,
                rule.kind,
                rule.rule_id,
                json.dumps(rule.conditions) if rule.conditions is not None else None,
                rule.pattern,
                json.dumps(rule.actions),
                rule.enabled,
            )
            await conn.execute(
                "renumber_push_rules",
                """UPDATE push_rules p SET priority = o.priority
                   FROM unnest($3::text[]) WITH ORDINALITY AS o(rule_id, priority)
                   WHERE p.user_id = $1 AND p.kind = $2 AND p.rule_id = o.rule_id
                     AND p.priority <> o.priority""",
                user_id,
                rule.kind,
                order,
            )
            await self._moved(conn, user_id, position)

    async def delete_rule(self, user_id: str, kind: str, rule_id: str, position: int) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "delete_push_rule",
                "DELETE FROM push_rules WHERE user_id = $1 AND kind = $2 AND rule_id = $3",
                user_id,
                kind,
                rule_id,
            )
            await self._moved(conn, user_id, position)

    async def set_enabled(
        self, user_id: str, kind: str, rule_id: str, enabled: bool, position: int
    ) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "set_push_rule_enabled",
                """UPDATE push_rules SET enabled = $4
                   WHERE user_id = $1 AND kind = $2 AND rule_id = $3""",
                user_id,
                kind,
                rule_id,
                enabled,
            )
            await self._moved(conn, user_id, position)

    async def set_actions(
        self, user_id: str, kind: str, rule_id: str, actions: list[Any], position: int
    ) -> None:
        async with self.db.transaction() as conn:
            await conn.execute(
                "set_push_rule_actions",
                """UPDATE push_rules SET actions = $4::jsonb
                   WHERE user_id = $1 AND kind = $2 AND rule_id = $3""",
                user_id,
                kind,
                rule_id,
                json.dumps(actions),
            )
            await self._moved(conn, user_id, position)

    async def set_default_enabled(
        self, user_id: str, rule_id: str, enabled: bool, position: int
    ) -> None:
        """Enable or disable a server-default rule for the user (its actions unchanged)."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "set_default_push_rule_enabled",
                """INSERT INTO push_rule_default_changes (user_id, rule_id, enabled)
                   VALUES ($1, $2, $3)
                   ON CONFLICT (user_id, rule_id) DO UPDATE SET enabled = EXCLUDED.enabled""",
                user_id,
                rule_id,
                enabled,
            )
            await self._moved(conn, user_id, position)

    async def set_default_actions(
        self, user_id: str, rule_id: str, actions: list[Any], position: int
    ) -> None:
        """Change the actions of a server-default rule for the user (enabled unchanged)."""
        async with self.db.transaction() as conn:
            await conn.execute(
                "set_default_push_rule_actions",
                """INSERT INTO push_rule_default_changes (user_id, rule_id, actions)
                   VALUES ($1, $2, $3::jsonb)
                   ON CONFLICT (user_id, rule_id) DO UPDATE SET actions = EXCLUDED.actions""",
                user_id,
                rule_id,
                json.dumps(actions),
            )
            await self._moved(conn, user_id, position)

    async def _moved(self, conn: Connection, user_id: str, position: int) -> None:
        await conn.execute(
            "push_rules_moved",
            """INSERT INTO push_rules_positions (user_id, stream_id) VALUES ($1, $2)
               ON CONFLICT (user_id) DO UPDATE
               SET stream_id = GREATEST(push_rules_positions.stream_id, EXCLUDED.stream_id)""",
            user_id,
            position,
        )
