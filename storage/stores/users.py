"""The `users` table: accounts on this server."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import asyncpg

from storage.database import Connection, Database


@dataclass(frozen=True, slots=True)
class UserRecord:
    user_id: str
    password_hash: str | None
    is_admin: bool
    is_guest: bool
    user_type: str | None
    deactivated: bool
    created_ts: int


class UserAlreadyExists(Exception):
    pass


def _record(row: asyncpg.Record) -> UserRecord:
    return UserRecord(
        user_id=row["user_id"],
        password_hash=row["password_hash"],
        is_admin=row["is_admin"],
        is_guest=row["is_guest"],
        user_type=row["user_type"],
        deactivated=row["deactivated"],
        created_ts=row["created_ts"],
    )


class UserStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self,
        user_id: str,
        password_hash: str | None,
        created_ts: int,
        *,
        is_admin: bool = False,
        is_guest: bool = False,
        user_type: str | None = None,
        conn: Connection | None = None,
    ) -> None:
        try:
            await self.db.execute(
                "create_user",
                """INSERT INTO users (user_id, password_hash, is_admin, is_guest, user_type,
                                      created_ts)
                   VALUES ($1, $2, $3, $4, $5, $6)""",
                user_id,
                password_hash,
                is_admin,
                is_guest,
                user_type,
                created_ts,
                conn=conn,
            )
        except asyncpg.UniqueViolationError:
            raise UserAlreadyExists(user_id) from None

    async def get(self, user_id: str, conn: Connection | None = None) -> UserRecord | None:
        row = await self.db.fetchrow(
            "get_user",
            """SELECT user_id, password_hash, is_admin, is_guest, user_type, deactivated,
                      created_ts
               FROM users WHERE user_id = $1""",
            user_id,
            conn=conn,
        )
        return _record(row) if row else None

    async def exists(self, user_id: str) -> bool:
        return bool(
            await self.db.fetchval(
                "user_exists", "SELECT EXISTS (SELECT 1 FROM users WHERE user_id = $1)", user_id
            )
        )

    async def set_password_hash(
        self, user_id: str, password_hash: str | None, conn: Connection | None = None
    ) -> None:
        await self.db.execute(
            "set_password_hash",
            "UPDATE users SET password_hash = $2 WHERE user_id = $1",
            user_id,
            password_hash,
            conn=conn,
        )

    async def upgrade_guest(self, user_id: str, password_hash: str | None) -> bool:
        """Make a guest account a full one; False when it is not (or no longer) a guest."""
        row = await self.db.fetchval(
            "upgrade_guest",
            """UPDATE users SET is_guest = FALSE, password_hash = $2
               WHERE user_id = $1 AND is_guest AND NOT deactivated
               RETURNING user_id""",
            user_id,
            password_hash,
        )
        return row is not None

    async def set_admin(self, user_id: str, is_admin: bool) -> None:
        await self.db.execute(
            "set_admin", "UPDATE users SET is_admin = $2 WHERE user_id = $1", user_id, is_admin
        )

    async def mark_deactivated(
        self, user_id: str, *, erase: bool = False, conn: Connection | None = None
    ) -> None:
        await self.db.execute(
            "deactivate_user",
            """UPDATE users SET deactivated = TRUE, password_hash = NULL, erased = erased OR $2
               WHERE user_id = $1""",
            user_id,
            erase,
            conn=conn,
        )

    async def erased_among(self, user_ids: Iterable[str]) -> set[str]:
        rows = await self.db.fetch(
            "erased_users_among",
            "SELECT user_id FROM users WHERE user_id = ANY($1::text[]) AND erased",
            list(user_ids),
        )
        return {row["user_id"] for row in rows}
