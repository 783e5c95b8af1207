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
    txn: EventTxn | None = None


@dataclass(frozen=True, slots=True)
class EventTxn:
    """The client transaction an event was sent in, recorded with it."""

    user_id: str
    device_id: str
    txn_id: str
    created_ts: int


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


@dataclass(frozen=True, slots=True)
class SendContext:
    """What sending an event into a room reads, in one round trip."""

    extremities: list[Extremity]
    state_ids: dict[tuple[str, str], str]
    # The event an earlier send with the same transaction ID created.
    earlier_event_id: str | None


_STORED_COLUMNS = """e.event_id, e.room_id, e.type, e.stream_ordering, e.depth, e.json,
    (SELECT r.event_id FROM redactions r WHERE r.redacts = e.event_id
      ORDER BY r.stream_ordering LIMIT 1) AS redacted_by,
    e.rejected_reason, e.outlier, e.state_group"""


# The same columns, with the JSON left out ('') for the events named by $2.
_STORED_COLUMNS_UNLESS_HELD = _STORED_COLUMNS.replace(
    "e.json", "CASE WHEN e.event_id = ANY($2::text[]) THEN '' ELSE e.json END AS json"
)


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

    async def insert(self, row: NewEventRow, conn: Connection | None = None) -> None:
        """The event, its edges and auth references, its redaction, the forward extremities
        (it replaces the events it references) and its transaction ID, in one statement: a
        message needs no other write, so it is persisted in a single round trip, atomic on
        its own outside a transaction."""
        txn = row.txn
        await self.db.execute(
            "insert_event",
            """WITH event AS (
                 INSERT INTO events (stream_ordering, event_id, room_id, type, state_key, sender,
                                     depth, origin_server_ts, contains_url, outlier,
                                     rejected_reason, state_group, json)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
               ), edges AS (
                 INSERT INTO event_edges (event_id, prev_event_id)
                 SELECT $2, unnest($14::text[]) ON CONFLICT DO NOTHING
               ), auth AS (
                 INSERT INTO event_auth (event_id, auth_id)
                 SELECT $2, unnest($15::text[]) ON CONFLICT DO NOTHING
               ), redaction AS (
                 INSERT INTO redactions (event_id, redacts, stream_ordering)
                 SELECT $2, $16::text, $1 WHERE $16::text IS NOT NULL AND $11::text IS NULL
               ), referenced AS (
                 DELETE FROM forward_extremities WHERE room_id = $3 AND event_id = ANY($14::text[])
               ), extremity AS (
                 INSERT INTO forward_extremities (room_id, event_id) VALUES ($3, $2)
               )
               INSERT INTO event_txn_ids (user_id, device_id, txn_id, event_id, created_ts)
               SELECT $17::text, $18::text, $19::text, $2, $20::bigint
               WHERE $19::text IS NOT NULL""",
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
            list(row.prev_event_ids),
            list(row.auth_event_ids),
            row.redacts,
            txn.user_id if txn else None,
            txn.device_id if txn else None,
            txn.txn_id if txn else None,
            txn.created_ts if txn else None,
            conn=conn,
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

    async def send_context(
        self,
        room_id: str,
        state_keys: Iterable[tuple[str, str]],
        txn: tuple[str, str, str] | None = None,
    ) -> SendContext:
        """The room's forward extremities (deepest first), the current state IDs of
        `state_keys` and the event of an earlier send of `txn` (user, device, transaction
        ID). It reads the current state too: each send needs all three, and one round trip
        instead of three is what keeps a busy server's sends short."""
        keys = list(state_keys)
        user_id, device_id, txn_id = txn if txn is not None else (None, None, None)
        rows = await self.db.fetch(
            "send_context",
            """SELECT 'x' AS kind, e.event_id, e.depth, e.state_group, e.stream_ordering,
                      NULL::text AS type, NULL::text AS state_key
               FROM forward_extremities f JOIN events e USING (event_id)
               WHERE f.room_id = $1
               UNION ALL
               SELECT 's', c.event_id, NULL, NULL, NULL, c.type, c.state_key
               FROM current_state c
               JOIN unnest($2::text[], $3::text[]) AS w(t, k) ON c.type = w.t AND c.state_key = w.k
               WHERE c.room_id = $1
               UNION ALL
               SELECT 't', event_id, NULL, NULL, NULL, NULL, NULL FROM event_txn_ids
               WHERE user_id = $4::text AND device_id = $5::text AND txn_id = $6::text""",
            room_id,
            [k[0] for k in keys],
            [k[1] for k in keys],
            user_id,
            device_id,
            txn_id,
        )
        extremities = sorted(
            (r for r in rows if r["kind"] == "x"),
            key=lambda r: (r["depth"], r["stream_ordering"]),
            reverse=True,
        )
        return SendContext(
            extremities=[
                Extremity(r["event_id"], r["depth"], r["state_group"]) for r in extremities
            ],
            state_ids={
                (r["type"], r["state_key"]): r["event_id"] for r in rows if r["kind"] == "s"
            },
            earlier_event_id=next((r["event_id"] for r in rows if r["kind"] == "t"), None),
        )

    async def get_events(
        self,
        event_ids: Iterable[str],
        conn: Connection | None = None,
        *,
        without_json: Iterable[str] = (),
    ) -> dict[str, StoredEvent]:
        """The rows of these events; those in `without_json` (events the caller holds
        already) come with an empty `json`, so that only what can change is read again."""
        rows = await self.db.fetch(
            "get_events",
            f"""SELECT {_STORED_COLUMNS_UNLESS_HELD}
                FROM events e WHERE e.event_id = ANY($1::text[])""",
            list(event_ids),
            list(without_json),
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

    async def stream_range(self, since: int, upto: int, limit: int) -> list[StoredEvent]:
        """The events (not outliers, not rejected) with stream position in (since, upto],
        oldest first, at most `limit`."""
        rows = await self.db.fetch(
            "events_stream_range",
            f"""SELECT {_STORED_COLUMNS} FROM events e
                WHERE e.stream_ordering > $1 AND e.stream_ordering <= $2 AND NOT e.outlier
                  AND e.rejected_reason IS NULL
                ORDER BY e.stream_ordering LIMIT $3""",
            since,
            upto,
            limit,
        )
        return [_stored(row) for row in rows]

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
