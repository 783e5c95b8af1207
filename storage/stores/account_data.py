"""Account data (global and per room), positioned on the account-data stream."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from storage.database import Connection, Database

GLOBAL = ""


@dataclass(frozen=True, slots=True)
class AccountDataRow:
    room_id: str
    type: str
    content: dict[str, Any]
    stream_id: int


class AccountDataStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def next_positions(self, count: int) -> list[int]:
        return await self.db.sequence_values("account_data_stream_seq", count)

    async def max_position(self) -> int:
        value = await self.db.fetchval(
            "max_account_data_position", "SELECT COALESCE(MAX(stream_id), 0) FROM account_data"
        )
        return int(value)

    async def put(
        self,
        user_id: str,
        room_id: str,
        data_type: str,
        content: dict[str, Any],
        position: int,
        conn: Connection | None = None,
    ) -> None:
        await self.db.execute(
            "put_account_data",
            """INSERT INTO account_data (user_id, room_id, type, content, stream_id)
               VALUES ($1, $2, $3, $4::jsonb, $5)
               ON CONFLICT (user_id, room_id, type)
               DO UPDATE SET content = EXCLUDED.content, stream_id = EXCLUDED.stream_id""",
            user_id,
            room_id,
            data_type,
            json.dumps(content),
            position,
            conn=conn,
        )

    async def get_for_users(
        self, user_ids: list[str], room_id: str, data_type: str
    ) -> dict[str, dict[str, Any]]:
        """`get` for many users in one query: the content of those who have it."""
        rows = await self.db.fetch(
            "get_account_data_for_users",
            """SELECT user_id, content::text AS content FROM account_data
               WHERE user_id = ANY($1::text[]) AND room_id = $2 AND type = $3""",
            user_ids,
            room_id,
            data_type,
        )
        return {row["user_id"]: json.loads(row["content"]) for row in rows}

    async def get(
        self, user_id: str, room_id: str, data_type: str, conn: Connection | None = None
    ) -> dict[str, Any] | None:
        raw = await self.db.fetchval(
            "get_account_data",
            """SELECT content::text FROM account_data
               WHERE user_id = $1 AND room_id = $2 AND type = $3""",
            user_id,
            room_id,
            data_type,
            conn=conn,
        )
        return json.loads(raw) if raw is not None else None

    async def changed_since(self, user_id: str, since: int, upto: int) -> list[AccountDataRow]:
        """Everything written in (since, upto]; with since = 0, all of the user's data."""
        rows = await self.db.fetch(
            "account_data_since",
            """SELECT room_id, type, content::text, stream_id FROM account_data
               WHERE user_id = $1 AND stream_id > $2 AND stream_id <= $3
               ORDER BY stream_id""",
            user_id,
            since,
            upto,
        )
        return [
            AccountDataRow(r["room_id"], r["type"], json.loads(r["content"]), r["stream_id"])
            for r in rows
        ]
