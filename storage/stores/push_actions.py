"""Push actions: who an event notifies (and highlights), the source of unread counts,
GET /notifications and delivery to push gateways.

A notification is unread while no read receipt of its user (public or private) covers it:
an unthreaded receipt covers every thread of the room up to its event, a threaded one only
its own thread (spec: Receipts, threaded read receipts).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from storage.database import Database

MAIN_TIMELINE = "main"


@dataclass(frozen=True, slots=True)
class PushActionRow:
    user_id: str
    room_id: str
    event_id: str
    stream_ordering: int
    thread_id: str
    highlight: bool
    actions: Sequence[Any]
    ts: int


@dataclass(frozen=True, slots=True)
class EventNotifications:
    """Whom one event notifies: (user ID, highlight, actions) per recipient. Recipients
    that share a rule share its actions object."""

    room_id: str
    event_id: str
    stream_ordering: int
    thread_id: str
    ts: int
    recipients: list[tuple[str, bool, Sequence[Any]]]


@dataclass(frozen=True, slots=True)
class ThreadCounts:
    notifications: int
    highlights: int


@dataclass(frozen=True, slots=True)
class Notification:
    row: PushActionRow
    read: bool


# The stream position each of the user's read receipts in a room reached, per thread
# ('' is an unthreaded receipt); the first CTE of every query that tells unread from read.
_RECEIPTS_REACHED = """
    receipts_reached AS (
        SELECT r.room_id, r.thread_id, MAX(e.stream_ordering) AS position
        FROM receipts r JOIN events e ON e.event_id = r.event_id
        WHERE r.user_id = $1 AND r.receipt_type IN ('m.read', 'm.read.private')
          {room_filter}
        GROUP BY r.room_id, r.thread_id
    )"""

# Joining counts as having read what came before (the invite, say), as in Synapse.
_READ_UPTO = """GREATEST(
        COALESCE((SELECT position FROM receipts_reached rr
                  WHERE rr.room_id = a.room_id AND rr.thread_id = ''), 0),
        COALESCE((SELECT position FROM receipts_reached rr
                  WHERE rr.room_id = a.room_id AND rr.thread_id = a.thread_id), 0),
        COALESCE((SELECT m.stream_ordering FROM room_memberships m
                  WHERE m.room_id = a.room_id AND m.user_id = a.user_id
                    AND m.membership = 'join'), 0))"""

# `_READ_UPTO` for one row without the user's receipts at hand (pruning spans users).
_READ_UPTO_OF_ROW = """GREATEST(
        COALESCE((SELECT MAX(e.stream_ordering) FROM receipts r
                  JOIN events e ON e.event_id = r.event_id
                  WHERE r.room_id = a.room_id AND r.user_id = a.user_id
                    AND r.receipt_type IN ('m.read', 'm.read.private')
                    AND r.thread_id IN ('', a.thread_id)), 0),
        COALESCE((SELECT m.stream_ordering FROM room_memberships m
                  WHERE m.room_id = a.room_id AND m.user_id = a.user_id
                    AND m.membership = 'join'), 0))"""

_COLUMNS = "a.user_id, a.room_id, a.event_id, a.stream_ordering, a.thread_id, a.highlight, "
_COLUMNS += "a.actions::text AS actions, a.ts"


def _row(record: Any) -> PushActionRow:
    fields = dict(record)
    fields["actions"] = json.loads(fields["actions"])
    fields.pop("read", None)
    return PushActionRow(**fields)


class PushActionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def evaluated_upto(self) -> int:
        value = await self.db.fetchval(
            "push_evaluated_upto", "SELECT upto FROM push_evaluation_progress"
        )
        return int(value or 0)

    async def add(self, events: Sequence[EventNotifications], upto: int) -> None:
        """Store the notifications of a batch of evaluated events (again after a crash: a
        row already there is kept) and record that everything up to `upto` is evaluated.

        A 1,000-member room makes 1,000 rows per message: they travel as one text of
        lines rather than as arrays, whose per-element encoding cost more than evaluating
        the rules."""
        actions: dict[int, int] = {}
        actions_json: list[str] = []
        lines: list[str] = []
        for n, event in enumerate(events, start=1):
            for user_id, highlight, acts in event.recipients:
                index = actions.get(id(acts))
                if index is None:
                    actions_json.append(json.dumps(list(acts)))
                    index = actions[id(acts)] = len(actions_json)
                lines.append(f"{user_id}\t{n}\t{'1' if highlight else '0'}\t{index}")
        # One statement, so one round trip and atomic without a transaction around it.
        # Its commit does not wait for the disk: these rows derive from events already
        # durable, and a crash can lose only the newest such commits, progress marker
        # included, so the events after the marker are evaluated again.
        await self.db.execute(
            "add_push_actions",
            """WITH no_flush AS (SELECT set_config('synchronous_commit', 'off', true)),
                    added AS (
                        INSERT INTO event_push_actions (user_id, room_id, event_id,
                            stream_ordering, thread_id, highlight, actions, ts)
                        SELECT split_part(line, E'\t', 1), e.room_id, e.event_id,
                               e.stream_ordering, e.thread_id,
                               split_part(line, E'\t', 3) = '1', a.actions, e.ts
                        FROM unnest(string_to_array($1, E'\n')) AS line
                        JOIN unnest($2::text[], $3::text[], $4::bigint[], $5::text[],
                                    $6::bigint[])
                             WITH ORDINALITY AS e(room_id, event_id, stream_ordering,
                                                  thread_id, ts, n)
                          ON e.n = split_part(line, E'\t', 2)::bigint
                        JOIN unnest($7::jsonb[]) WITH ORDINALITY AS a(actions, n)
                          ON a.n = split_part(line, E'\t', 4)::bigint
                        ON CONFLICT DO NOTHING)
               UPDATE push_evaluation_progress SET upto = GREATEST(upto, $8) FROM no_flush""",
            "\n".join(lines),
            [e.room_id for e in events],
            [e.event_id for e in events],
            [e.stream_ordering for e in events],
            [e.thread_id for e in events],
            [e.ts for e in events],
            actions_json,
            upto,
        )

    async def unread_counts(
        self, user_id: str, room_ids: Sequence[str]
    ) -> dict[str, dict[str, ThreadCounts]]:
        """Per room and thread ('main' for the main timeline): the user's unread
        notifications and highlights. Rooms and threads with none are left out."""
        if not room_ids:
            return {}
        rows = await self.db.fetch(
            "push_unread_counts",
            f"""WITH {_RECEIPTS_REACHED.format(room_filter="AND r.room_id = ANY($2::text[])")}
                SELECT a.room_id, a.thread_id, COUNT(*) AS notifications,
                       COUNT(*) FILTER (WHERE a.highlight) AS highlights
                FROM event_push_actions a
                WHERE a.user_id = $1 AND a.room_id = ANY($2::text[])
                  AND a.stream_ordering > {_READ_UPTO}
                GROUP BY a.room_id, a.thread_id""",
            user_id,
            list(room_ids),
        )
        counts: dict[str, dict[str, ThreadCounts]] = {}
        for row in rows:
            counts.setdefault(row["room_id"], {})[row["thread_id"]] = ThreadCounts(
                int(row["notifications"]), int(row["highlights"])
            )
        return counts

    async def rooms_with_unread(self, user_id: str) -> dict[str, int]:
        """The unread notification count of each joined room that has any (a badge)."""
        rows = await self.db.fetch(
            "push_rooms_with_unread",
            f"""WITH {_RECEIPTS_REACHED.format(room_filter="")}
                SELECT a.room_id, COUNT(*) AS notifications
                FROM event_push_actions a
                JOIN room_memberships m
                  ON m.room_id = a.room_id AND m.user_id = a.user_id AND m.membership = 'join'
                WHERE a.user_id = $1 AND a.stream_ordering > {_READ_UPTO}
                GROUP BY a.room_id""",
            user_id,
        )
        return {row["room_id"]: int(row["notifications"]) for row in rows}

    async def notifications(
        self, user_id: str, before: int | None, limit: int, only_highlight: bool
    ) -> list[Notification]:
        """The user's notifications, newest first, older than `before` when given, each
        with whether a read receipt covers it."""
        rows = await self.db.fetch(
            "push_notifications",
            f"""WITH {_RECEIPTS_REACHED.format(room_filter="")}
                SELECT {_COLUMNS}, a.stream_ordering <= {_READ_UPTO} AS read
                FROM event_push_actions a
                WHERE a.user_id = $1 AND ($2::bigint IS NULL OR a.stream_ordering < $2)
                  AND (NOT $3 OR a.highlight)
                ORDER BY a.stream_ordering DESC
                LIMIT $4""",
            user_id,
            before,
            only_highlight,
            limit,
        )
        return [Notification(_row(row), bool(row["read"])) for row in rows]

    async def delete_old(self, read_before_ts: int, any_before_ts: int, limit: int) -> int:
        """Delete up to `limit` old notifications: those from before `any_before_ts`, and
        those from before `read_before_ts` that are read (unless highlights, which
        GET /notifications keeps showing) or in rooms the user is no longer in. Returns
        how many went."""
        result = await self.db.execute(
            "delete_old_push_actions",
            f"""WITH doomed AS (
                    SELECT a.user_id, a.stream_ordering FROM event_push_actions a
                    WHERE a.ts < $1 AND (
                        a.ts < $2
                        OR NOT EXISTS (
                            SELECT 1 FROM room_memberships m
                            WHERE m.room_id = a.room_id AND m.user_id = a.user_id
                              AND m.membership = 'join')
                        OR (NOT a.highlight AND a.stream_ordering <= {_READ_UPTO_OF_ROW}))
                    LIMIT $3)
                DELETE FROM event_push_actions a USING doomed d
                WHERE a.user_id = d.user_id AND a.stream_ordering = d.stream_ordering""",
            read_before_ts,
            any_before_ts,
            limit,
        )
        return int(result.split()[-1])

    async def after_with_read(self, user_id: str, position: int, limit: int) -> list[Notification]:
        """As `after`, each with whether a read receipt already covers it (a pusher skips
        those, as Synapse does)."""
        rows = await self.db.fetch(
            "push_actions_after_with_read",
            f"""WITH {_RECEIPTS_REACHED.format(room_filter="")}
                SELECT {_COLUMNS}, a.stream_ordering <= {_READ_UPTO} AS read
                FROM event_push_actions a
                WHERE a.user_id = $1 AND a.stream_ordering > $2
                ORDER BY a.stream_ordering LIMIT $3""",
            user_id,
            position,
            limit,
        )
        return [Notification(_row(row), bool(row["read"])) for row in rows]
