"""User-interactive auth sessions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import asyncpg

from storage.database import Database


@dataclass(frozen=True, slots=True)
class UiaSessionRecord:
    session_id: str
    uri: str
    method: str
    user_id: str | None
    clientdict: dict[str, Any]
    completed: dict[str, Any]
    server_data: dict[str, Any]
    created_ts: int


def _record(row: asyncpg.Record) -> UiaSessionRecord:
    return UiaSessionRecord(
        session_id=row["session_id"],
        uri=row["uri"],
        method=row["method"],
        user_id=row["user_id"],
        clientdict=json.loads(row["clientdict"]),
        completed=json.loads(row["completed"]),
        server_data=json.loads(row["server_data"]),
        created_ts=row["created_ts"],
    )


class UiaStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self,
        session_id: str,
        uri: str,
        method: str,
        user_id: str | None,
        clientdict: dict[str, Any],
        created_ts: int,
    ) -> None:
        await self.db.execute(
            "create_uia_session",
            """INSERT INTO uia_sessions (session_id, uri, method, user_id, clientdict, created_ts)
               VALUES ($1, $2, $3, $4, $5::jsonb, $6)""",
            session_id,
            uri,
            method,
            user_id,
            json.dumps(clientdict),
            created_ts,
        )

    async def get(self, session_id: str, not_before_ts: int) -> UiaSessionRecord | None:
        row = await self.db.fetchrow(
            "get_uia_session",
            """SELECT session_id, uri, method, user_id, clientdict::text, completed::text,
                      server_data::text, created_ts
               FROM uia_sessions WHERE session_id = $1 AND created_ts >= $2""",
            session_id,
            not_before_ts,
        )
        return _record(row) if row else None

    async def mark_stage_completed(self, session_id: str, stage: str, result: Any) -> None:
        await self.db.execute(
            "complete_uia_stage",
            """UPDATE uia_sessions
               SET completed = completed || jsonb_build_object($2::text, $3::jsonb)
               WHERE session_id = $1""",
            session_id,
            stage,
            json.dumps(result),
        )

    async def set_server_data(self, session_id: str, key: str, value: Any) -> None:
        await self.db.execute(
            "set_uia_server_data",
            """UPDATE uia_sessions
               SET server_data = server_data || jsonb_build_object($2::text, $3::jsonb)
               WHERE session_id = $1""",
            session_id,
            key,
            json.dumps(value),
        )

    async def delete(self, session_id: str) -> None:
        await self.db.execute(
            "delete_uia_session", "DELETE FROM uia_sessions WHERE session_id = $1", session_id
        )

    async def delete_expired(self, before_ts: int) -> int:
        status = await self.db.execute(
            "expire_uia_sessions", "DELETE FROM uia_sessions WHERE created_ts < $1", before_ts
        )
        return int(status.split()[-1])
