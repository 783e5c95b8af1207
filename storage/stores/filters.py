"""Client-uploaded filters."""

from __future__ import annotations

import json
from typing import Any

from storage.database import Database


class FilterStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, user_id: str, definition: dict[str, Any]) -> int:
        """Store a filter under the user's next number; identical filters share one number."""
        async with self.db.transaction() as conn:
            # Serialise concurrent uploads of one user so numbers stay unique.
            await conn.execute(
                "lock_user_filters", "SELECT pg_advisory_xact_lock(hashtext($1))", user_id
            )
            existing = await conn.fetchval(
                "find_user_filter",
                "SELECT filter_id FROM user_filters WHERE user_id = $1 AND filter = $2::jsonb",
                user_id,
                json.dumps(definition),
            )
            if existing is not None:
                return int(existing)
            return int(
                await conn.fetchval(
                    "add_user_filter",
                    """INSERT INTO user_filters (user_id, filter_id, filter)
                       SELECT $1, COALESCE(MAX(filter_id) + 1, 0), $2::jsonb
                       FROM user_filters WHERE user_id = $1
                       RETURNING filter_id""",
                    user_id,
                    json.dumps(definition),
                )
            )

    async def get(self, user_id: str, filter_id: int) -> dict[str, Any] | None:
        raw = await self.db.fetchval(
            "get_user_filter",
            "SELECT filter::text FROM user_filters WHERE user_id = $1 AND filter_id = $2",
            user_id,
            filter_id,
        )
        return json.loads(raw) if raw is not None else None
