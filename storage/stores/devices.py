"""The `devices` table, including each device's last-seen IP, user agent and time."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import asyncpg

from storage.database import Connection, Database


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    user_id: str
    device_id: str
    display_name: str | None
    created_ts: int
    last_seen_ts: int | None
    last_seen_ip: str | None
    last_seen_user_agent: str | None


@dataclass(frozen=True, slots=True)
class LastSeen:
    user_id: str
    device_id: str
    ts: int
    ip: str
    user_agent: str | None


_COLUMNS = (
    "user_id, device_id, display_name, created_ts, last_seen_ts, last_seen_ip, last_seen_user_agent"
)


def _record(row: asyncpg.Record) -> DeviceRecord:
    return DeviceRecord(**dict(row))


class DeviceStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def upsert(
        self,
        user_id: str,
        device_id: str,
        display_name: str | None,
        created_ts: int,
        conn: Connection | None = None,
    ) -> bool:
        """Create the device, or keep an existing one (its name only changes when given).

        Returns whether the device already existed.
        """
        existed = await self.db.fetchval(
            "upsert_device",
            """INSERT INTO devices (user_id, device_id, display_name, created_ts)
               VALUES ($1, $2, $3, $4)
               ON CONFLICT (user_id, device_id) DO UPDATE
                   SET display_name = COALESCE(EXCLUDED.display_name, devices.display_name)
               RETURNING (xmax <> 0)""",
            user_id,
            device_id,
            display_name,
            created_ts,
            conn=conn,
        )
        return bool(existed)

    async def get(self, user_id: str, device_id: str) -> DeviceRecord | None:
        row = await self.db.fetchrow(
            "get_device",
            f"SELECT {_COLUMNS} FROM devices WHERE user_id = $1 AND device_id = $2",
            user_id,
            device_id,
        )
        return _record(row) if row else None

    async def list_for_user(self, user_id: str) -> list[DeviceRecord]:
        rows = await self.db.fetch(
            "list_devices",
            f"SELECT {_COLUMNS} FROM devices WHERE user_id = $1 ORDER BY created_ts, device_id",
            user_id,
        )
        return [_record(row) for row in rows]

    async def set_display_name(self, user_id: str, device_id: str, display_name: str) -> bool:
        status = await self.db.execute(
            "set_device_display_name",
            "UPDATE devices SET display_name = $3 WHERE user_id = $1 AND device_id = $2",
            user_id,
            device_id,
            display_name,
        )
        return status != "UPDATE 0"

    async def delete(
        self, user_id: str, device_ids: Iterable[str], conn: Connection | None = None
    ) -> list[str]:
        """Delete devices (their tokens go with them by cascade); returns those that existed."""
        rows = await self.db.fetch(
            "delete_devices",
            "DELETE FROM devices WHERE user_id = $1 AND device_id = ANY($2) RETURNING device_id",
            user_id,
            list(device_ids),
            conn=conn,
        )
        return [row["device_id"] for row in rows]

    async def delete_all(
        self, user_id: str, except_device_id: str | None = None, conn: Connection | None = None
    ) -> list[str]:
        rows = await self.db.fetch(
            "delete_all_devices",
            """DELETE FROM devices
               WHERE user_id = $1 AND ($2::text IS NULL OR device_id <> $2)
               RETURNING device_id""",
            user_id,
            except_device_id,
            conn=conn,
        )
        return [row["device_id"] for row in rows]

    async def record_last_seen(self, entries: list[LastSeen]) -> None:
        """Write a batch of last-seen updates in one statement (one row per device)."""
        if not entries:
            return
        await self.db.execute(
            "record_last_seen",
            """UPDATE devices AS d
               SET last_seen_ts = u.ts, last_seen_ip = u.ip, last_seen_user_agent = u.ua
               FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[])
                    AS u(user_id, device_id, ts, ip, ua)
               WHERE d.user_id = u.user_id AND d.device_id = u.device_id""",
            [e.user_id for e in entries],
            [e.device_id for e in entries],
            [e.ts for e in entries],
            [e.ip for e in entries],
            [e.user_agent for e in entries],
        )
