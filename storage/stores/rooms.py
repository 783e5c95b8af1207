"""Rooms, their current state and the current membership of each user."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from storage.database import Connection, Database

StateKey = tuple[str, str]


@dataclass(frozen=True, slots=True)
class RoomRecord:
    room_id: str
    room_version: str
    creator: str
    created_ts: int


@dataclass(frozen=True, slots=True)
class MembershipRecord:
    room_id: str
    user_id: str
    membership: str
    event_id: str
    stream_ordering: int
    display_name: str | None
    avatar_url: str | None
    forgotten: bool


@dataclass(frozen=True, slots=True)
class MembershipChange:
    user_id: str
    membership: str
    event_id: str
    display_name: str | None
    avatar_url: str | None


class RoomStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(
        self, room_id: str, room_version: str, creator: str, created_ts: int, conn: Connection
    ) -> bool:
        """Returns False when the room ID is taken."""
        status = await conn.execute(
            "create_room",
            """INSERT INTO rooms (room_id, room_version, creator, created_ts)
               VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING""",
            room_id,
            room_version,
            creator,
            created_ts,
        )
        return status == "INSERT 0 1"

    async def get(self, room_id: str) -> RoomRecord | None:
        row = await self.db.fetchrow(
            "get_room",
            "SELECT room_id, room_version, creator, created_ts FROM rooms WHERE room_id = $1",
            room_id,
        )
        return RoomRecord(**dict(row)) if row else None

    async def current_state_ids(
        self,
        room_id: str,
        keys: Iterable[StateKey] | None = None,
        conn: Connection | None = None,
    ) -> dict[StateKey, str]:
        if keys is None:
            rows = await self.db.fetch(
                "current_state_ids",
                "SELECT type, state_key, event_id FROM current_state WHERE room_id = $1",
                room_id,
                conn=conn,
            )
        else:
            wanted = list(keys)
            rows = await self.db.fetch(
                "current_state_ids_filtered",
                """SELECT c.type, c.state_key, c.event_id FROM current_state c
                   JOIN unnest($2::text[], $3::text[]) AS w(t, k)
                     ON c.type = w.t AND c.state_key = w.k
                   WHERE c.room_id = $1""",
                room_id,
                [k[0] for k in wanted],
                [k[1] for k in wanted],
                conn=conn,
            )
        return {(r["type"], r["state_key"]): r["event_id"] for r in rows}

    async def current_state_positions(
        self, room_ids: list[str]
    ) -> dict[str, dict[StateKey, tuple[str, int]]]:
        """For each room, its current state with the stream position each entry was set at."""
        rows = await self.db.fetch(
            "current_state_positions",
            """SELECT room_id, type, state_key, event_id, stream_ordering FROM current_state
               WHERE room_id = ANY($1::text[])""",
            room_ids,
        )
        result: dict[str, dict[StateKey, tuple[str, int]]] = {r: {} for r in room_ids}
        for row in rows:
            result[row["room_id"]][(row["type"], row["state_key"])] = (
                row["event_id"],
                row["stream_ordering"],
            )
        return result

    async def update_current_state(
        self, room_id: str, delta: Mapping[StateKey, str], stream_ordering: int, conn: Connection
    ) -> None:
        if not delta:
            return
        keys = list(delta)
        await conn.execute(
            "update_current_state",
            """INSERT INTO current_state (room_id, type, state_key, event_id, stream_ordering)
               SELECT $1, t, k, e, $5 FROM unnest($2::text[], $3::text[], $4::text[]) AS u(t, k, e)
               ON CONFLICT (room_id, type, state_key)
               DO UPDATE SET event_id = EXCLUDED.event_id,
                             stream_ordering = EXCLUDED.stream_ordering""",
            room_id,
            [k[0] for k in keys],
            [k[1] for k in keys],
            [delta[k] for k in keys],
            stream_ordering,
        )

    async def update_memberships(
        self,
        room_id: str,
        changes: Iterable[MembershipChange],
        stream_ordering: int,
        conn: Connection,
    ) -> None:
        for change in changes:
            await conn.execute(
                "update_membership",
                """INSERT INTO room_memberships (room_id, user_id, membership, event_id,
                                                 stream_ordering, display_name, avatar_url)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)
                   ON CONFLICT (room_id, user_id) DO UPDATE
                   SET membership = EXCLUDED.membership, event_id = EXCLUDED.event_id,
                       stream_ordering = EXCLUDED.stream_ordering,
                       display_name = EXCLUDED.display_name, avatar_url = EXCLUDED.avatar_url,
                       forgotten = FALSE""",
                room_id,
                change.user_id,
                change.membership,
                change.event_id,
                stream_ordering,
                change.display_name,
                change.avatar_url,
            )

    async def membership(self, room_id: str, user_id: str) -> MembershipRecord | None:
        row = await self.db.fetchrow(
            "get_membership",
            """SELECT room_id, user_id, membership, event_id, stream_ordering, display_name,
                      avatar_url, forgotten
               FROM room_memberships WHERE room_id = $1 AND user_id = $2""",
            room_id,
            user_id,
        )
        return MembershipRecord(**dict(row)) if row else None

    async def rooms_for_user(self, user_id: str, membership: str = "join") -> list[str]:
        rows = await self.db.fetch(
            "rooms_for_user",
            """SELECT room_id FROM room_memberships
               WHERE user_id = $1 AND membership = $2 ORDER BY room_id""",
            user_id,
            membership,
        )
        return [row["room_id"] for row in rows]

    async def members(
        self, room_id: str, memberships: Iterable[str] | None = None
    ) -> list[MembershipRecord]:
        rows = await self.db.fetch(
            "room_members",
            """SELECT room_id, user_id, membership, event_id, stream_ordering, display_name,
                      avatar_url, forgotten
               FROM room_memberships
               WHERE room_id = $1 AND ($2::text[] IS NULL OR membership = ANY($2::text[]))
               ORDER BY user_id""",
            room_id,
            list(memberships) if memberships is not None else None,
        )
        return [MembershipRecord(**dict(row)) for row in rows]

    async def forget(self, room_id: str, user_id: str) -> None:
        await self.db.execute(
            "forget_room",
            "UPDATE room_memberships SET forgotten = TRUE WHERE room_id = $1 AND user_id = $2",
            room_id,
            user_id,
        )

    async def memberships_for_user(self, user_id: str) -> list[MembershipRecord]:
        """Every room the user has a membership in, with the stream position it changed."""
        rows = await self.db.fetch(
            "memberships_for_user",
            """SELECT room_id, user_id, membership, event_id, stream_ordering, display_name,
                      avatar_url, forgotten
               FROM room_memberships WHERE user_id = $1""",
            user_id,
        )
        return [MembershipRecord(**dict(row)) for row in rows]

    async def current_among(self, room_ids: list[str], event_ids: list[str]) -> set[str]:
        """Which of the events are part of their room's current state."""
        if not event_ids:
            return set()
        rows = await self.db.fetch(
            "current_state_among",
            """SELECT event_id FROM current_state
               WHERE room_id = ANY($1::text[]) AND event_id = ANY($2::text[])""",
            room_ids,
            event_ids,
        )
        return {row["event_id"] for row in rows}

    async def current_member_events(
        self, pairs: list[tuple[str, str]]
    ) -> dict[tuple[str, str], str]:
        """The current m.room.member event of each (room, user) that has one."""
        if not pairs:
            return {}
        rows = await self.db.fetch(
            "current_member_events",
            """SELECT c.room_id, c.state_key, c.event_id FROM current_state c
               JOIN unnest($1::text[], $2::text[]) AS w(room_id, user_id)
                 ON c.room_id = w.room_id AND c.state_key = w.user_id
               WHERE c.type = 'm.room.member'""",
            [room_id for room_id, _ in pairs],
            [user_id for _, user_id in pairs],
        )
        return {(row["room_id"], row["state_key"]): row["event_id"] for row in rows}

    async def named_rooms(self, room_ids: list[str]) -> set[str]:
        """The rooms that have a non-empty m.room.name or m.room.canonical_alias."""
        if not room_ids:
            return set()
        rows = await self.db.fetch(
            "named_rooms",
            """SELECT DISTINCT c.room_id FROM current_state c
               JOIN events e ON e.event_id = c.event_id
               WHERE c.room_id = ANY($1::text[]) AND c.state_key = ''
                 AND ((c.type = 'm.room.name'
                       AND COALESCE((e.json::jsonb) -> 'content' ->> 'name', '') <> '')
                   OR (c.type = 'm.room.canonical_alias'
                       AND COALESCE((e.json::jsonb) -> 'content' ->> 'alias', '') <> ''))""",
            room_ids,
        )
        return {row["room_id"] for row in rows}

    async def summaries(
        self, room_ids: list[str], exclude: str, heroes: int = 5
    ) -> dict[str, tuple[dict[str, int], list[str]]]:
        """For each room: member counts by membership, and up to `heroes` other joined or
        invited members in the order they arrived (one query for all rooms)."""
        if not room_ids:
            return {}
        # Counts are grouped and heroes ranked in Postgres: a room of thousands returns a
        # handful of rows, not one per member.
        rows = await self.db.fetch(
            "room_summaries",
            """SELECT room_id, NULL AS user_id, membership, COUNT(*) AS n, 0 AS rank
               FROM room_memberships WHERE room_id = ANY($1::text[])
               GROUP BY room_id, membership
               UNION ALL
               SELECT room_id, user_id, membership, NULL, rank FROM (
                   SELECT room_id, user_id, membership,
                          ROW_NUMBER() OVER (PARTITION BY room_id ORDER BY stream_ordering) AS rank
                   FROM room_memberships
                   WHERE room_id = ANY($1::text[]) AND user_id <> $2
                     AND membership IN ('join', 'invite')
               ) candidates
               WHERE rank <= $3
               ORDER BY rank""",
            room_ids,
            exclude,
            heroes,
        )
        result: dict[str, tuple[dict[str, int], list[str]]] = {r: ({}, []) for r in room_ids}
        for row in rows:
            counts, hero_list = result[row["room_id"]]
            if row["user_id"] is None:
                counts[row["membership"]] = int(row["n"])
            else:
                hero_list.append(row["user_id"])
        return result
