"""The per-device inbox of send-to-device messages."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from storage.database import Connection, Database


@dataclass(frozen=True, slots=True)
class ToDeviceMessage:
    user_id: str
    device_id: str
    sender: str
    type: str
    content: dict[str, Any]


@dataclass(frozen=True, slots=True)
class InboxEntry:
    stream_id: int
    sender: str
    type: str
    content: dict[str, Any]


class ToDeviceStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def next_positions(self, count: int) -> list[int]:
        return await self.db.sequence_values("to_device_stream_seq", count)

    async def max_position(self) -> int:
        value = await self.db.fetchval(
            "max_to_device_position", "SELECT COALESCE(MAX(stream_id), 0) FROM device_inbox"
        )
        return int(value)

    async def claim_txn(
        self, user_id: str, device_id: str, txn_id: str, ts: int, conn: Connection
    ) -> bool:
        """False when this transaction ID was already used by the device."""
        status = await conn.execute(
            "claim_to_device_txn",
            """INSERT INTO to_device_txns (user_id, device_id, txn_id, created_ts)
               VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING""",
            user_id,
            device_id,
            txn_id,
            ts,
        )
        return status == "INSERT 0 1"

    async def enqueue(
        self, messages: list[ToDeviceMessage], position: int, conn: Connection
    ) -> None:
        await conn.execute(
            "enqueue_to_device",
            # Messages to device IDs that do not exist are dropped, as the spec asks.
            """INSERT INTO device_inbox (stream_id, user_id, device_id, sender, type, content)
               SELECT $1, u, d, s, t, c::jsonb
               FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
                    AS m(u, d, s, t, c)
               JOIN devices dev ON dev.user_id = m.u AND dev.device_id = m.d""",
            position,
            [m.user_id for m in messages],
            [m.device_id for m in messages],
            [m.sender for m in messages],
            [m.type for m in messages],
            [json.dumps(m.content) for m in messages],
        )

    async def inbox(
        self, user_id: str, device_id: str, since: int, upto: int, limit: int
    ) -> list[InboxEntry]:
        rows = await self.db.fetch(
            "read_device_inbox",
            """SELECT stream_id, sender, type, content::text FROM device_inbox
               WHERE user_id = $1 AND device_id = $2 AND stream_id > $3 AND stream_id <= $4
               ORDER BY stream_id LIMIT $5""",
            user_id,
            device_id,
            since,
            upto,
            limit,
        )
        return [
            InboxEntry(r["stream_id"], r["sender"], r["type"], json.loads(r["content"]))
            for r in rows
        ]

    async def delete_delivered(self, user_id: str, device_id: str, upto: int) -> None:
        """The device synced past `upto`: what it received up to there is done with."""
        await self.db.execute(
            "delete_delivered_to_device",
            """DELETE FROM device_inbox
               WHERE user_id = $1 AND device_id = $2 AND stream_id <= $3""",
            user_id,
            device_id,
            upto,
        )
