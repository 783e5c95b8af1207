"""Profile fields of local users."""

from __future__ import annotations

import json
from typing import Any

from storage.database import Connection, Database


class ProfileStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, user_id: str) -> dict[str, Any]:
        rows = await self.db.fetch(
            "get_profile",
            "SELECT field, value::text FROM profile_fields WHERE user_id = $1 ORDER BY field",
            user_id,
        )
        return {row["field"]: json.loads(row["value"]) for row in rows}

    async def set_field(
        self, user_id: str, field: str, value: Any, conn: Connection | None = None
    ) -> None:
        await self.db.execute(
            "set_profile_field",
            """INSERT INTO profile_fields (user_id, field, value) VALUES ($1, $2, $3::jsonb)
               ON CONFLICT (user_id, field) DO UPDATE SET value = EXCLUDED.value""",
            user_id,
            field,
            json.dumps(value),
            conn=conn,
        )

    async def delete_field(self, user_id: str, field: str) -> None:
        await self.db.execute(
            "delete_profile_field",
            "DELETE FROM profile_fields WHERE user_id = $1 AND field = $2",
            user_id,
            field,
        )

    async def delete_all(self, user_id: str, conn: Connection | None = None) -> None:
        await self.db.execute(
            "delete_profile",
            "DELETE FROM profile_fields WHERE user_id = $1",
            user_id,
            conn=conn,
        )
