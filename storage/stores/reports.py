"""Reports of rooms and events."""

from __future__ import annotations

from storage.database import Database


class ReportStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(
        self,
        reporter: str,
        room_id: str,
        event_id: str | None,
        reason: str | None,
        score: int | None,
        ts: int,
    ) -> int:
        return int(
            await self.db.fetchval(
                "add_report",
                """INSERT INTO reports (reporter, room_id, event_id, reason, score, received_ts)
                   VALUES ($1, $2, $3, $4, $5, $6) RETURNING id""",
                reporter,
                room_id,
                event_id,
                reason,
                score,
                ts,
            )
        )
