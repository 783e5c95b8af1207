"""Presence of local users and who shares a room with whom."""

from __future__ import annotations

from dataclasses import dataclass

from storage.database import Database


@dataclass(frozen=True, slots=True)
class PresenceRow:
    user_id: str
    state: str
    status_msg: str | None
    last_active_ts: int
    currently_active: bool


class PresenceStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def next_positions(self, count: int) -> list[int]:
        return await self.db.sequence_values("presence_stream_seq", count)

    async def max_position(self) -> int:
        value = await self.db.fetchval(
            "max_presence_position", "SELECT COALESCE(MAX(stream_id), 0) FROM presence"
        )
        return int(value)

    async def put(self, row: PresenceRow, position: int) -> None:
        await self.db.execute(
            "put_presence",
            """INSERT INTO presence (user_id, state, status_msg, last_active_ts,
                                     currently_active, stream_id)
               VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (user_id) DO UPDATE
               SET state = EXCLUDED.state, status_msg = EXCLUDED.status_msg,
                   last_active_ts = EXCLUDED.last_active_ts,
                   currently_active = EXCLUDED.currently_active,
                   stream_id = EXCLUDED.stream_id""",
            row.user_id,
            row.state,
            row.status_msg,
            row.last_active_ts,
            row.currently_active,
            position,
        )

    async def get(self, user_id: str) -> PresenceRow | None:
        row = await self.db.fetchrow(
            "get_presence",
            """SELECT user_id, state, status_msg, last_active_ts, currently_active
               FROM presence WHERE user_id = $1""",
            user_id,
        )
        return PresenceRow(**dict(row)) if row else None

    async def not_offline(self) -> list[str]:
        """The users whose stored presence is online or unavailable."""
        rows = await self.db.fetch(
            "presence_not_offline", "SELECT user_id FROM presence WHERE state <> 'offline'"
        )
        return [row["user_id"] for row in rows]

    async def changed(self, user_ids: list[str], since: int, upto: int) -> list[PresenceRow]:
        rows = await self.db.fetch(
            "presence_changed",
            """SELECT user_id, state, status_msg, last_active_ts, currently_active
               FROM presence
               WHERE user_id = ANY($1::text[]) AND stream_id > $2 AND stream_id <= $3""",
            user_ids,
            since,
            upto,
        )
        return [PresenceRow(**dict(row)) for row in rows]

    async def changed_for(self, user_id: str, since: int, upto: int) -> list[PresenceRow]:
        """Rows written in (since, upto] of `user_id` and of those sharing a joined room with
        them. The stream index finds the few recent changes; membership is checked for those
        only, so a member of large rooms does not drag every room-mate through the query."""
        rows = await self.db.fetch(
            "presence_changed_for",
            """SELECT p.user_id, p.state, p.status_msg, p.last_active_ts, p.currently_active
               FROM presence p
               WHERE p.stream_id > $2 AND p.stream_id <= $3
                 AND (p.user_id = $1 OR EXISTS (
                     SELECT 1 FROM room_memberships other
                     JOIN room_memberships mine ON mine.room_id = other.room_id
                     WHERE other.user_id = p.user_id AND other.membership = 'join'
                       AND mine.user_id = $1 AND mine.membership = 'join'))""",
            user_id,
            since,
            upto,
        )
        return [PresenceRow(**dict(row)) for row in rows]

    async def users_sharing_rooms(self, user_id: str) -> list[str]:
        rows = await self.db.fetch(
            "users_sharing_rooms",
            """SELECT DISTINCT other.user_id FROM room_memberships mine
               JOIN room_memberships other USING (room_id)
               WHERE mine.user_id = $1 AND mine.membership = 'join'
                 AND other.membership = 'join'""",
            user_id,
        )
        return [row["user_id"] for row in rows]
