"""Room aliases and the public room directory."""

from __future__ import annotations

from dataclasses import dataclass

from storage.database import Database


@dataclass(frozen=True, slots=True)
class AliasRecord:
    alias: str
    room_id: str
    creator: str


class AliasStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, alias: str, room_id: str, creator: str, ts: int) -> bool:
        """False when the alias is taken."""
        status = await self.db.execute(
            "create_alias",
            """INSERT INTO room_aliases (alias, room_id, creator, created_ts)
               VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING""",
            alias,
            room_id,
            creator,
            ts,
        )
        return status == "INSERT 0 1"

    async def get(self, alias: str) -> AliasRecord | None:
        row = await self.db.fetchrow(
            "get_alias", "SELECT alias, room_id, creator FROM room_aliases WHERE alias = $1", alias
        )
        return AliasRecord(**dict(row)) if row else None

    async def delete(self, alias: str) -> None:
        await self.db.execute("delete_alias", "DELETE FROM room_aliases WHERE alias = $1", alias)

    async def for_room(self, room_id: str) -> list[str]:
        rows = await self.db.fetch(
            "room_aliases",
            "SELECT alias FROM room_aliases WHERE room_id = $1 ORDER BY alias",
            room_id,
        )
        return [row["alias"] for row in rows]

    async def publish(self, room_id: str, ts: int) -> None:
        await self.db.execute(
            "publish_room",
            """INSERT INTO room_directory (room_id, published_ts) VALUES ($1, $2)
               ON CONFLICT DO NOTHING""",
            room_id,
            ts,
        )

    async def unpublish(self, room_id: str) -> None:
        await self.db.execute(
            "unpublish_room", "DELETE FROM room_directory WHERE room_id = $1", room_id
        )

    async def is_published(self, room_id: str) -> bool:
        return bool(
            await self.db.fetchval(
                "is_room_published",
                "SELECT EXISTS (SELECT 1 FROM room_directory WHERE room_id = $1)",
                room_id,
            )
        )

    async def published_rooms(self) -> list[tuple[str, int]]:
        """Published rooms with their joined member counts, biggest first."""
        rows = await self.db.fetch(
            "published_rooms",
            """SELECT d.room_id,
                      COUNT(m.user_id) FILTER (WHERE m.membership = 'join') AS joined
               FROM room_directory d LEFT JOIN room_memberships m USING (room_id)
               GROUP BY d.room_id
               ORDER BY joined DESC, d.room_id""",
        )
        return [(row["room_id"], int(row["joined"])) for row in rows]
