"""Pushers: where a user's notifications go (one row per user, app ID and pushkey)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

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


_COLUMNS = """user_id, app_id, pushkey, device_id, kind, app_display_name, device_display_name,
              profile_tag, lang, data::text AS data, created_ts"""


class PusherStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def set(self, pusher: PusherRecord, *, replace_other_users: bool) -> None:
        """Create or update the pusher; with `replace_other_users`, the same app ID and
        pushkey registered by anyone else is removed in the same transaction."""
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
                                        lang, data, created_ts)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb, $11)
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
        return [PusherRecord(**{**dict(row), "data": json.loads(row["data"])}) for row in rows]
