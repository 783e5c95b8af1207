"""Read receipts."""

from __future__ import annotations

from dataclasses import dataclass

from storage.database import Database

MAIN_THREAD = ""


@dataclass(frozen=True, slots=True)
class ReceiptRow:
    room_id: str
    receipt_type: str
    user_id: str
    thread_id: str
    event_id: str
    ts: int


class ReceiptStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def next_positions(self, count: int) -> list[int]:
        return await self.db.sequence_values("receipts_stream_seq", count)

    async def max_position(self) -> int:
        value = await self.db.fetchval(
            "max_receipt_position", "SELECT COALESCE(MAX(stream_id), 0) FROM receipts"
        )
        return int(value)

    async def put(self, row: ReceiptRow, position: int) -> None:
        await self.db.execute(
            "put_receipt",
            """INSERT INTO receipts (room_id, receipt_type, user_id, thread_id, event_id, ts,
                                     stream_id)
               VALUES ($1, $2, $3, $4, $5, $6, $7)
               ON CONFLICT (room_id, receipt_type, user_id, thread_id) DO UPDATE
               SET event_id = EXCLUDED.event_id, ts = EXCLUDED.ts,
                   stream_id = EXCLUDED.stream_id""",
            row.room_id,
            row.receipt_type,
            row.user_id,
            row.thread_id,
            row.event_id,
            row.ts,
            position,
        )

    async def changed(self, room_ids: list[str], since: int, upto: int) -> list[ReceiptRow]:
        """Receipts written in (since, upto] in these rooms (since 0: all of them)."""
        rows = await self.db.fetch(
            "receipts_changed",
            """SELECT room_id, receipt_type, user_id, thread_id, event_id, ts FROM receipts
               WHERE room_id = ANY($1::text[]) AND stream_id > $2 AND stream_id <= $3""",
            room_ids,
            since,
            upto,
        )
        return [ReceiptRow(**dict(row)) for row in rows]
