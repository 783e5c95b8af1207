"""Pushers: where a user's notifications go (one row per user, app ID and pushkey)."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass, fields
from typing import Any, NamedTuple

from storage.database import Database


@dataclass(frozen=True, slots=True)
class PusherRecord:
    user_id: str
    app_id: str
    pushkey: str
    device_id: str
    kind: str
    app_display_name: str
    device_display_name: str
    profile_tag: str | None
    lang: str
    data: dict[str, Any]
    created_ts: int


_RECORD_FIELDS = tuple(field.name for field in fields(PusherRecord))


class PusherKey(NamedTuple):
    user_id: str
    app_id: str
    pushkey: str


@dataclass(frozen=True, slots=True)
class PusherDelivery:
    """A pusher with where its delivery stands."""

    pusher: PusherRecord
    last_stream_ordering: int
    last_success_ts: int | None
    failing_since: int | None

    @property
    def key(self) -> PusherKey:
        return PusherKey(self.pusher.user_id, self.pusher.app_id, self.pusher.pushkey)


_COLUMNS = """user_id, app_id, pushkey, device_id, kind, app_display_name, device_display_name,
              profile_tag, lang, data::text AS data, created_ts"""


class PusherStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def set(self, pusher: PusherRecord, *, replace_other_users: bool) -> None:
        """Create or update the pusher; with `replace_other_users`, the same app ID and
        pushkey registered by anyone else is removed in the same transaction. A new pusher
        delivers only notifications after the current events-stream position; an updated
        one keeps its position."""
        async with self.db.transaction() as conn:
            if replace_other_users:
                await conn.execute(
                    "delete_pushers_of_other_users",
                    "DELETE FROM pushers WHERE app_id = $1 AND pushkey = $2 AND user_id <> $3",
                    pusher.app_id,
                    pusher.pushkey,
                    pusher.user_id,
                )
            await conn.execute(
                "upsert_pusher",
                """INSERT INTO pushers (user_id, app_id, pushkey, device_id, kind,
                                        app_display_name, device_display_name, profile_tag,
                                        lang, data, created_ts, last_stream_ordering)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11,
                           (SELECT COALESCE(MAX(stream_ordering), 0) FROM events))
                   ON CONFLICT (user_id, app_id, pushkey) DO UPDATE SET
                       device_id = EXCLUDED.device_id, kind = EXCLUDED.kind,
                       app_display_name = EXCLUDED.app_display_name,
                       device_display_name = EXCLUDED.device_display_name,
                       profile_tag = EXCLUDED.profile_tag, lang = EXCLUDED.lang,
                       data = EXCLUDED.data""",
                pusher.user_id,
                pusher.app_id,
                pusher.pushkey,
                pusher.device_id,
                pusher.kind,
                pusher.app_display_name,
                pusher.device_display_name,
                pusher.profile_tag,
                pusher.lang,
                json.dumps(pusher.data),
                pusher.created_ts,
            )

    async def delete(self, user_id: str, app_id: str, pushkey: str) -> None:
        await self.db.execute(
            "delete_pusher",
            "DELETE FROM pushers WHERE user_id = $1 AND app_id = $2 AND pushkey = $3",
            user_id,
            app_id,
            pushkey,
        )

    async def for_user(self, user_id: str) -> list[PusherRecord]:
        rows = await self.db.fetch(
            "pushers_for_user",
            f"SELECT {_COLUMNS} FROM pushers WHERE user_id = $1 ORDER BY created_ts, app_id",
            user_id,
        )
        return [_record(row) for row in rows]

    async def for_users(self, user_ids: Collection[str]) -> list[PusherRecord]:
        if not user_ids:
            return []
        rows = await self.db.fetch(
            "pushers_for_users",
            f"SELECT {_COLUMNS} FROM pushers WHERE user_id = ANY($1::text[])",
            list(user_ids),
        )
        return [_record(row) for row in rows]

    async def delivery(self, key: PusherKey) -> PusherDelivery | None:
        row = await self.db.fetchrow(
            "pusher_delivery",
            f"""SELECT {_COLUMNS}, last_stream_ordering, last_success_ts, failing_since
                FROM pushers WHERE user_id = $1 AND app_id = $2 AND pushkey = $3""",
            *key,
        )
        if row is None:
            return None
        return PusherDelivery(
            _record(row),
            last_stream_ordering=row["last_stream_ordering"],
            last_success_ts=row["last_success_ts"],
            failing_since=row["failing_since"],
        )

    async def advance(
        self,
        key: PusherKey,
        position: int,
        *,
        succeeded_ts: int | None = None,
        clear_failure: bool = False,
    ) -> bool:
        """Record that the pusher is done up to `position` (sent, or skipped). A success
        (`succeeded_ts`) or `clear_failure` ends its failing spell. False when the pusher
        is gone."""
        status = await self.db.execute(
            "advance_pusher",
            """UPDATE pushers
               SET last_stream_ordering = GREATEST(last_stream_ordering, $4),
                   last_success_ts = COALESCE($5, last_success_ts),
                   failing_since = CASE WHEN $6 THEN NULL ELSE failing_since END
               WHERE user_id = $1 AND app_id = $2 AND pushkey = $3""",
            *key,
            position,
            succeeded_ts,
            clear_failure or succeeded_ts is not None,
        )
        return status != "UPDATE 0"

    async def record_failure(self, key: PusherKey, now_ts: int) -> int | None:
        """Mark the pusher failing (from now, unless it already was); returns since when
        it has been failing, None when it is gone."""
        value = await self.db.fetchval(
            "pusher_failing",
            """UPDATE pushers SET failing_since = COALESCE(failing_since, $4)
               WHERE user_id = $1 AND app_id = $2 AND pushkey = $3
               RETURNING failing_since""",
            *key,
            now_ts,
        )
        return int(value) if value is not None else None

    async def with_undelivered(self) -> list[PusherKey]:
        """HTTP pushers whose user has notifications after the pusher's position."""
        rows = await self.db.fetch(
            "pushers_with_undelivered",
            """SELECT p.user_id, p.app_id, p.pushkey FROM pushers p
               WHERE p.kind = 'http' AND EXISTS (
                   SELECT 1 FROM event_push_actions a
                   WHERE a.user_id = p.user_id AND a.stream_ordering > p.last_stream_ordering)""",
        )
        return [PusherKey(r["user_id"], r["app_id"], r["pushkey"]) for r in rows]


def _record(row: Any) -> PusherRecord:
    values = {name: row[name] for name in _RECORD_FIELDS}
    values["data"] = json.loads(values["data"])
    return PusherRecord(**values)
