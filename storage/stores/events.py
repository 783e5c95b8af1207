"""The event DAG: events, their edges, forward extremities, redactions and history queries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import asyncpg

from storage.database import Connection, Database


@dataclass(frozen=True, slots=True)
class NewEventRow:
    """What persisting one event writes; built by the service from an engine `Event`."""

    event_id: str
    room_id: str
    type: str
    state_key: str | None
    sender: str
    depth: int
    origin_server_ts: int
    contains_url: bool
    json: str
    prev_event_ids: Sequence[str]
    auth_event_ids: Sequence[str]
    redacts: str | None
    stream_ordering: int
    state_group: int
    outlier: bool = False
    rejected_reason: str | None = None


@dataclass(frozen=True, slots=True)
class StoredEvent:
    event_id: str
    room_id: str
    type: str
    stream_ordering: int
    depth: int
    json: str
    redacted_by: str | None
    rejected_reason: str | None
    outlier: bool
    state_group: int | None


@dataclass(frozen=True, slots=True)
class Extremity:
    event_id: str
    depth: int
    state_group: int | None


_STORED_COLUMNS = """e.event_id, e.room_id, e.type, e.stream_ordering, e.depth, e.json,
    (SELECT r.event_id FROM redactions r WHERE r.redacts = e.event_id
      ORDER BY r.stream_ordering LIMIT 1) AS redacted_by,
    e.rejected_reason, e.outlier, e.state_group"""


def _stored(row: asyncpg.Record) -> StoredEvent:
    return StoredEvent(**dict(row))


class EventStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def next_stream_orderings(self, count: int) -> list[int]:
        return await self.db.sequence_values("events_stream_ordering_seq", count)

    async def max_stream_ordering(self) -> int:
        value = await self.db.fetchval(
            "max_stream_ordering", "SELECT COALESCE(MAX(stream_ordering), 0) FROM events"
        )
        return int(value)

    async def insert(self, row: NewEventRow, conn: Connection) -> None:
        await conn.execute(
            "insert_event",
            """INSERT INTO events (stream_ordering, event_id, room_id, type, state_key, sender,
                                   depth, origin_server_ts, contains_url, outlier,
                                   rejected_reason, state_group, json)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)""",
            row.stream_ordering,
            row.event_id,
            row.room_id,
            row.type,
            row.state_key,
            row.sender,
            row.depth,
            row.origin_server_ts,
            row.contains_url,
            row.outlier,
            row.rejected_reason,
            row.state_group,
            row.json,
        )
        if row.prev_event_ids:
            await conn.execute(
                "insert_event_edges",
                """INSERT INTO event_edges (event_id, prev_event_id)
                   SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING""",
                row.event_id,
                list(row.prev_event_ids),
            )
        if row.auth_event_ids:
            await conn.execute(
                "insert_event_auth",
                """INSERT INTO event_auth (event_id, auth_id)
                   SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING""",
                row.event_id,
                list(row.auth_event_ids),
            )
        if row.redacts is not None and row.rejected_reason is None:
            await conn.execute(
                "insert_redaction",
                "INSERT INTO redactions (event_id, redacts, stream_ordering) VALUES ($1, $2, $3)",
                row.event_id,
                row.redacts,
                row.stream_ordering,
            )

    async def replace_extremities(
        self, room_id: str, new_event_id: str, referenced: Iterable[str], conn: Connection
    ) -> None:
        """The new event becomes an extremity and the events it references stop being ones."""
        await conn.execute(
            "remove_forward_extremities",
            "DELETE FROM forward_extremities WHERE room_id = $1 AND event_id = ANY($2::text[])",
            room_id,
            list(referenced),
        )
        await conn.execute(
            "add_forward_extremity",
            "INSERT INTO forward_extremities (room_id, event_id) VALUES ($1, $2)",
            room_id,
            new_event_id,
        )

    async def forward_extremities(
        self, room_id: str, conn: Connection | None = None
    ) -> list[Extremity]:
        rows = await self.db.fetch(
            "get_forward_extremities",
            """SELECT e.event_id, e.depth, e.state_group
               FROM forward_extremities f JOIN events e USING (event_id)
               WHERE f.room_id = $1
               ORDER BY e.depth DESC, e.stream_ordering DESC""",
            room_id,
            conn=conn,
        )
        return [Extremity(r["event_id"], r["depth"], r["state_group"]) for r in rows]

    async def get_events(
        self, event_ids: Iterable[str], conn: Connection | None = None
    ) -> dict[str, StoredEvent]:
        rows = await self.db.fetch(
            "get_events",
            f"SELECT {_STORED_COLUMNS} FROM events e WHERE e.event_id = ANY($1::text[])",
            list(event_ids),
            conn=conn,
        )
        return {row["event_id"]: _stored(row) for row in rows}

    async def room_events_page(
        self,
        room_id: str,
        *,
        from_position: tuple[int, int],
        to_position: tuple[int, int] | None,
        backwards: bool,
        limit: int,
    ) -> list[StoredEvent]:
        """Events of a room in topological order from a position.

        Positions are (depth, stream_ordering) pairs naming the gap just before that event:
        going forwards takes events at or after it, going backwards those before it.
        """
        if backwards:
            condition = "(e.depth, e.stream_ordering) < ($2, $3)"
            bound = "($4::bigint IS NULL OR (e.depth, e.stream_ordering) >= ($4, $5))"
            order = "DESC"
        else:
            condition = "(e.depth, e.stream_ordering) >= ($2, $3)"
            bound = "($4::bigint IS NULL OR (e.depth, e.stream_ordering) < ($4, $5))"
            order = "ASC"
        rows = await self.db.fetch(
            "room_events_page",
            f"""SELECT {_STORED_COLUMNS} FROM events e
                WHERE e.room_id = $1 AND NOT e.outlier AND e.rejected_reason IS NULL
                  AND {condition} AND {bound}
                ORDER BY e.depth {order}, e.stream_ordering {order}
                LIMIT $6""",
            room_id,
            from_position[0],
            from_position[1],
            to_position[0] if to_position else None,
            to_position[1] if to_position else None,
            limit,
        )
        return [_stored(row) for row in rows]

    async def rooms_with_events_between(
        self, room_ids: list[str], since: int, upto: int
    ) -> list[str]:
        rows = await self.db.fetch(
            "rooms_with_new_events",
            """SELECT DISTINCT room_id FROM events
               WHERE room_id = ANY($1::text[]) AND stream_ordering > $2
                 AND stream_ordering <= $3 AND NOT outlier""",
            room_ids,
            since,
            upto,
        )
        return [row["room_id"] for row in rows]

    async def room_stream_page(
        self, room_id: str, since: int, upto: int, limit: int
    ) -> list[StoredEvent]:
        """The newest `limit` events of a room with stream position in (since, upto],
        newest first."""
        return (await self.room_stream_pages([room_id], since, upto, limit))[room_id]

    async def room_stream_pages(
        self, room_ids: list[str], since: int, upto: int, limit: int
    ) -> dict[str, list[StoredEvent]]:
        """`room_stream_page` for many rooms in one query."""
        rows = await self.db.fetch(
            "room_stream_pages",
            f"""SELECT {_STORED_COLUMNS}
                FROM unnest($1::text[]) AS wanted(room_id)
                CROSS JOIN LATERAL (
                    SELECT * FROM events e
                    WHERE e.room_id = wanted.room_id AND e.stream_ordering > $2
                      AND e.stream_ordering <= $3 AND NOT e.outlier
                      AND e.rejected_reason IS NULL
                    ORDER BY e.stream_ordering DESC LIMIT $4) AS e
                ORDER BY e.room_id, e.stream_ordering DESC""",
            room_ids,
            since,
            upto,
            limit,
        )
        pages: dict[str, list[StoredEvent]] = {room_id: [] for room_id in room_ids}
        for row in rows:
            pages[row["room_id"]].append(_stored(row))
        return pages

    async def state_group_at(self, room_id: str, stream_ordering: int) -> int | None:
        """The state snapshot after the room's last event at or before a stream position."""
        return (await self.state_groups_at([(room_id, stream_ordering)]))[0]

    async def state_groups_at(self, positions: Iterable[tuple[str, int]]) -> list[int | None]:
        """`state_group_at` for many (room, stream position) pairs, in the order given."""
        pairs = list(positions)
        if not pairs:
            return []
        rows = await self.db.fetch(
            "state_groups_at_stream",
            """SELECT w.n, (SELECT e.state_group FROM events e
                            WHERE e.room_id = w.room_id AND e.stream_ordering <= w.position
                              AND NOT e.outlier AND e.rejected_reason IS NULL
                            ORDER BY e.stream_ordering DESC LIMIT 1) AS state_group
               FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS w(room_id, position, n)
               ORDER BY w.n""",
            [room_id for room_id, _ in pairs],
            [position for _, position in pairs],
        )
        return [row["state_group"] for row in rows]

    async def position_at(self, room_id: str, stream_ordering: int) -> tuple[int, int] | None:
        """(depth, stream) of the room's last event at or before a stream position."""
        row = await self.db.fetchrow(
            "room_position_at_stream",
            """SELECT depth, stream_ordering FROM events
               WHERE room_id = $1 AND stream_ordering <= $2 AND NOT outlier
               ORDER BY stream_ordering DESC LIMIT 1""",
            room_id,
            stream_ordering,
        )
        return (row["depth"], row["stream_ordering"]) if row else None

    async def closest_to_ts(
        self, room_id: str, ts: int, forwards: bool, limit: int
    ) -> list[StoredEvent]:
        """Events at or after (forwards) / at or before a timestamp, nearest first."""
        op, order = (">=", "ASC") if forwards else ("<=", "DESC")
        rows = await self.db.fetch(
            "events_by_timestamp",
            f"""SELECT {_STORED_COLUMNS} FROM events e
                WHERE e.room_id = $1 AND e.origin_server_ts {op} $2
                  AND NOT e.outlier AND e.rejected_reason IS NULL
                ORDER BY e.origin_server_ts {order}, e.stream_ordering {order}
                LIMIT $3""",
            room_id,
            ts,
            limit,
        )
        return [_stored(row) for row in rows]

    async def event_txn(self, user_id: str, device_id: str, txn_id: str) -> str | None:
        return await self.db.fetchval(
            "get_event_txn",
            """SELECT event_id FROM event_txn_ids
               WHERE user_id = $1 AND device_id = $2 AND txn_id = $3""",
            user_id,
            device_id,
            txn_id,
        )

    async def txn_ids_for(
        self, event_ids: Iterable[str], user_id: str, device_id: str
    ) -> dict[str, str]:
        """The transaction IDs this device used for any of these events."""
        rows = await self.db.fetch(
            "txn_ids_for_events",
            """SELECT event_id, txn_id FROM event_txn_ids
               WHERE event_id = ANY($1::text[]) AND user_id = $2 AND device_id = $3""",
            list(event_ids),
            user_id,
            device_id,
        )
        return {row["event_id"]: row["txn_id"] for row in rows}

    async def record_event_txn(
        self, user_id: str, device_id: str, txn_id: str, event_id: str, ts: int, conn: Connection
    ) -> None:
        await conn.execute(
            "record_event_txn",
            """INSERT INTO event_txn_ids (user_id, device_id, txn_id, event_id, created_ts)
               VALUES ($1, $2, $3, $4, $5)""",
            user_id,
            device_id,
            txn_id,
            event_id,
            ts,
        )
