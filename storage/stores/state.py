"""State snapshots stored as deltas on a parent snapshot, with bounded chain length."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from storage.database import Connection, Database

StateKey = tuple[str, str]

# Reading a snapshot walks its chain; past this length a full snapshot is written instead.
MAX_DELTA_DEPTH = 50

_CHAIN = """WITH RECURSIVE chain (id, prev_group, distance) AS (
        SELECT id, prev_group, 0 FROM state_groups WHERE id = $1
        UNION ALL
        SELECT g.id, g.prev_group, c.distance + 1
        FROM state_groups g JOIN chain c ON g.id = c.prev_group
    )"""


class StateStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create_group(
        self,
        room_id: str,
        prev_group: int | None,
        delta: Mapping[StateKey, str],
        conn: Connection,
        full_state: Mapping[StateKey, str] | None = None,
    ) -> int:
        """Store a snapshot as `delta` on `prev_group`; `full_state` (the whole resulting state,
        when the caller has it) lets a long chain be cut with a full snapshot."""
        depth = 0
        if prev_group is not None:
            depth = (
                await conn.fetchval(
                    "state_group_depth",
                    "SELECT delta_depth FROM state_groups WHERE id = $1",
                    prev_group,
                )
                + 1
            )
            if depth > MAX_DELTA_DEPTH:
                if full_state is None:
                    full_state = {**await self.get_state(prev_group, conn=conn), **delta}
                prev_group, depth, delta = None, 0, full_state
        group_id = await conn.fetchval(
            "insert_state_group",
            """INSERT INTO state_groups (room_id, prev_group, delta_depth)
               VALUES ($1, $2, $3) RETURNING id""",
            room_id,
            prev_group,
            depth,
        )
        if delta:
            keys = list(delta)
            await conn.execute(
                "insert_state_group_entries",
                """INSERT INTO state_group_entries (state_group, type, state_key, event_id)
                   SELECT $1, t, k, e
                   FROM unnest($2::text[], $3::text[], $4::text[]) AS u(t, k, e)""",
                group_id,
                [k[0] for k in keys],
                [k[1] for k in keys],
                [delta[k] for k in keys],
            )
        return int(group_id)

    async def get_state(
        self,
        group: int,
        types: Iterable[StateKey] | None = None,
        conn: Connection | None = None,
    ) -> dict[StateKey, str]:
        """The full snapshot, or only the given (type, state_key) pairs of it."""
        return (await self.get_states([group], types, conn))[group]

    async def get_states(
        self,
        groups: Iterable[int],
        types: Iterable[StateKey] | None = None,
        conn: Connection | None = None,
        *,
        members: Iterable[str] | None = None,
    ) -> dict[int, dict[StateKey, str]]:
        """The snapshots (or only the given pairs of them) of many groups in one query;
        with `members`, of the member events only those of these users (lazy loading: a
        large room's snapshot is mostly members nobody asked for)."""
        wanted_groups = sorted(set(groups))
        result: dict[int, dict[StateKey, str]] = {g: {} for g in wanted_groups}
        if not wanted_groups:
            return result
        # One statement per combination of filters, each with only the conditions it
        # needs, rather than one with "$n IS NULL OR ..." for all of them: every variant
        # gets a plan of its own once asyncpg's prepared statement goes generic.
        args: list[object] = [wanted_groups]
        conditions = []
        if types is not None:
            wanted = list(types)
            args += [[k[0] for k in wanted], [k[1] for k in wanted]]
            conditions.append(
                "(s.type, s.state_key) IN (SELECT * FROM unnest($2::text[], $3::text[]))"
            )
        if members is not None:
            args.append(sorted(set(members)))
            # IN (SELECT unnest) is hashed; = ANY of a parameter compares each row with
            # every element (ten times slower for the senders of 50 rooms).
            conditions.append(
                f"(s.type <> 'm.room.member'"
                f" OR s.state_key IN (SELECT unnest(${len(args)}::text[])))"
            )
        name = "get_state_groups" + ("_of_types" if types is not None else "")
        name += "_of_members" if members is not None else ""
        rows = await self.db.fetch(
            name,
            f"""WITH RECURSIVE chain (start, id, prev_group, distance) AS (
                   SELECT id, id, prev_group, 0 FROM state_groups WHERE id = ANY($1::bigint[])
                   UNION ALL
                   SELECT c.start, g.id, g.prev_group, c.distance + 1
                   FROM state_groups g JOIN chain c ON g.id = c.prev_group
               )
               SELECT DISTINCT ON (c.start, s.type, s.state_key)
                      c.start, s.type, s.state_key, s.event_id
               FROM state_group_entries s JOIN chain c ON s.state_group = c.id
               {"WHERE " + " AND ".join(conditions) if conditions else ""}
               ORDER BY c.start, s.type, s.state_key, c.distance""",
            *args,
            conn=conn,
        )
        for row in rows:
            result[row["start"]][(row["type"], row["state_key"])] = row["event_id"]
        return result

    async def get_state_of_type(
        self, group: int, event_type: str, conn: Connection | None = None
    ) -> dict[StateKey, str]:
        rows = await self.db.fetch(
            "get_state_group_type",
            f"""{_CHAIN}
                SELECT DISTINCT ON (s.state_key) s.type, s.state_key, s.event_id
                FROM state_group_entries s JOIN chain c ON s.state_group = c.id
                WHERE s.type = $2
                ORDER BY s.state_key, c.distance""",
            group,
            event_type,
            conn=conn,
        )
        return {(r["type"], r["state_key"]): r["event_id"] for r in rows}
