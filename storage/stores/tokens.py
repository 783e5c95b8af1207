"""Access and refresh tokens. Only SHA-256 hashes of tokens are ever stored."""

from __future__ import annotations

from dataclasses import dataclass

from storage.database import Connection, Database


@dataclass(frozen=True, slots=True)
class AccessTokenRecord:
    id: int
    user_id: str
    device_id: str
    expires_ts: int | None
    refresh_token_id: int | None
    is_guest: bool
    deactivated: bool


@dataclass(frozen=True, slots=True)
class RefreshTokenRecord:
    id: int
    user_id: str
    device_id: str
    expires_ts: int | None
    next_token_id: int | None


class TokenStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add_access_token(
        self,
        token_hash: bytes,
        user_id: str,
        device_id: str,
        created_ts: int,
        *,
        expires_ts: int | None = None,
        refresh_token_id: int | None = None,
        conn: Connection | None = None,
    ) -> int:
        return await self.db.fetchval(
            "add_access_token",
            """INSERT INTO access_tokens (token_hash, user_id, device_id, expires_ts,
                                          refresh_token_id, created_ts)
               VALUES ($1, $2, $3, $4, $5, $6) RETURNING id""",
            token_hash,
            user_id,
            device_id,
            expires_ts,
            refresh_token_id,
            created_ts,
            conn=conn,
        )

    async def get_access_token(self, token_hash: bytes) -> AccessTokenRecord | None:
        row = await self.db.fetchrow(
            "get_access_token",
            """SELECT t.id, t.user_id, t.device_id, t.expires_ts, t.refresh_token_id,
                      u.is_guest, u.deactivated
               FROM access_tokens t JOIN users u USING (user_id)
               WHERE t.token_hash = $1""",
            token_hash,
        )
        return AccessTokenRecord(**dict(row)) if row else None

    async def delete_access_token(self, token_id: int) -> None:
        await self.db.execute(
            "delete_access_token", "DELETE FROM access_tokens WHERE id = $1", token_id
        )

    async def delete_tokens_for_device(
        self, user_id: str, device_id: str, conn: Connection | None = None
    ) -> None:
        await self.db.execute(
            "delete_device_access_tokens",
            "DELETE FROM access_tokens WHERE user_id = $1 AND device_id = $2",
            user_id,
            device_id,
            conn=conn,
        )
        await self.db.execute(
            "delete_device_refresh_tokens",
            "DELETE FROM refresh_tokens WHERE user_id = $1 AND device_id = $2",
            user_id,
            device_id,
            conn=conn,
        )

    async def add_refresh_token(
        self,
        token_hash: bytes,
        user_id: str,
        device_id: str,
        created_ts: int,
        expires_ts: int | None,
        conn: Connection | None = None,
    ) -> int:
        return await self.db.fetchval(
            "add_refresh_token",
            """INSERT INTO refresh_tokens (token_hash, user_id, device_id, expires_ts, created_ts)
               VALUES ($1, $2, $3, $4, $5) RETURNING id""",
            token_hash,
            user_id,
            device_id,
            expires_ts,
            created_ts,
            conn=conn,
        )

    async def get_refresh_token_for_update(
        self, token_hash: bytes, conn: Connection
    ) -> RefreshTokenRecord | None:
        """Lock the token's row so two concurrent refreshes of one token serialise."""
        row = await conn.fetchrow(
            "get_refresh_token",
            """SELECT id, user_id, device_id, expires_ts, next_token_id
               FROM refresh_tokens WHERE token_hash = $1
               FOR UPDATE""",
            token_hash,
        )
        return RefreshTokenRecord(**dict(row)) if row else None

    async def set_next_refresh_token(self, token_id: int, next_id: int, conn: Connection) -> None:
        await conn.execute(
            "set_next_refresh_token",
            "UPDATE refresh_tokens SET next_token_id = $2 WHERE id = $1",
            token_id,
            next_id,
        )

    async def delete_refresh_token(self, token_id: int, conn: Connection) -> None:
        """Its access tokens go with it (cascade)."""
        await conn.execute(
            "delete_refresh_token", "DELETE FROM refresh_tokens WHERE id = $1", token_id
        )

    async def delete_access_tokens_of_refresh_token(
        self, refresh_token_id: int, conn: Connection
    ) -> list[bytes]:
        rows = await conn.fetch(
            "delete_access_tokens_of_refresh",
            "DELETE FROM access_tokens WHERE refresh_token_id = $1 RETURNING token_hash",
            refresh_token_id,
        )
        return [row["token_hash"] for row in rows]

    async def revoke_predecessors(self, refresh_token_id: int) -> None:
        """The successor token has been used: its predecessor may no longer refresh."""
        await self.db.execute(
            "revoke_refresh_predecessors",
            "DELETE FROM refresh_tokens WHERE next_token_id = $1",
            refresh_token_id,
        )
