"""Devices: listing, renaming, deleting (which revokes their tokens), and last-seen tracking.

Last-seen updates arrive with every authenticated request, so they are buffered in memory
and written in batches; reads overlay the buffer so they are never stale.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Iterable
from dataclasses import dataclass, replace

import structlog

from homeserver.services.accounts.auth import AuthService
from homeserver.services.common.clock import Clock
from homeserver.services.common.periodic import PeriodicTask
from homeserver.types.errors import BadRequest, Codes, NotFound
from storage.database import Connection, after_commit
from storage.stores import Stores
from storage.stores.devices import DeviceRecord, LastSeen

# Synapse's limit: every device list shows the names, and other users see them.
MAX_DISPLAY_NAME_LENGTH = 100

log = structlog.get_logger(__name__)

_DEVICE_ID_ALPHABET = string.ascii_uppercase
# A device seen again within this window with the same IP and agent is not rewritten.
_LAST_SEEN_RESOLUTION_MS = 60_000


def generate_device_id() -> str:
    return "".join(secrets.choice(_DEVICE_ID_ALPHABET) for _ in range(10))


@dataclass(frozen=True, slots=True)
class Device:
    device_id: str
    display_name: str | None
    last_seen_ip: str | None
    last_seen_ts: int | None

    def to_json(self) -> dict[str, object]:
        return {
            "device_id": self.device_id,
            "display_name": self.display_name,
            "last_seen_ip": self.last_seen_ip,
            "last_seen_ts": self.last_seen_ts,
        }


class DeviceService:
    def __init__(
        self, stores: Stores, clock: Clock, auth: AuthService, flush_interval_s: float = 5.0
    ) -> None:
        self.stores = stores
        self.clock = clock
        self.auth = auth
        self.flush_interval_s = flush_interval_s
        self._pending: dict[tuple[str, str], LastSeen] = {}
        self._written: dict[tuple[str, str], LastSeen] = {}
        self._flusher = PeriodicTask("last-seen-flush", flush_interval_s, self.flush_last_seen)

    async def create(
        self,
        user_id: str,
        device_id: str | None,
        display_name: str | None,
        conn: Connection | None = None,
    ) -> str:
        """Create (or reuse) a device. Reusing a device ID invalidates its earlier tokens,
        as the spec asks when a client names its own device on login."""
        device_id = device_id or generate_device_id()
        # A name given at login or registration is cut to the limit rather than refused,
        # as in Synapse: a login must not fail over a label.
        if display_name is not None:
            display_name = display_name[:MAX_DISPLAY_NAME_LENGTH]
        existed = await self.stores.devices.upsert(
            user_id, device_id, display_name, self.clock.time_ms(), conn=conn
        )
        if existed:
            await self.stores.tokens.delete_tokens_for_device(user_id, device_id, conn=conn)
            after_commit(conn, lambda: self.auth.forget_cached(user_id, device_id))
        return device_id

    def note_seen(self, user_id: str, device_id: str, ip: str, user_agent: str | None) -> None:
        key = (user_id, device_id)
        now = self.clock.time_ms()
        last = self._pending.get(key) or self._written.get(key)
        if (
            last is not None
            and last.ip == ip
            and last.user_agent == user_agent
            and now - last.ts < _LAST_SEEN_RESOLUTION_MS
        ):
            return
        self._pending[key] = LastSeen(user_id, device_id, now, ip, user_agent)

    def _overlay(self, record: DeviceRecord) -> Device:
        seen = self._pending.get((record.user_id, record.device_id))
        if seen is not None:
            record = replace(record, last_seen_ts=seen.ts, last_seen_ip=seen.ip)
        return Device(
            record.device_id, record.display_name, record.last_seen_ip, record.last_seen_ts
        )

    async def list(self, user_id: str) -> list[Device]:
        return [self._overlay(r) for r in await self.stores.devices.list_for_user(user_id)]

    async def get(self, user_id: str, device_id: str) -> Device:
        record = await self.stores.devices.get(user_id, device_id)
        if record is None:
            raise NotFound("Unknown device")
        return self._overlay(record)

    async def rename(self, user_id: str, device_id: str, display_name: str) -> None:
        if len(display_name) > MAX_DISPLAY_NAME_LENGTH:
            raise BadRequest(
                f"Device display names are at most {MAX_DISPLAY_NAME_LENGTH} characters",
                Codes.TOO_LARGE,
            )
        if not await self.stores.devices.set_display_name(user_id, device_id, display_name):
            raise NotFound("Unknown device")

    async def delete(self, user_id: str, device_ids: Iterable[str]) -> list[str]:
        deleted = await self.stores.devices.delete(user_id, device_ids)
        self._forget(user_id, deleted)
        return deleted

    async def delete_all(
        self, user_id: str, except_device_id: str | None = None, conn: Connection | None = None
    ) -> list[str]:
        deleted = await self.stores.devices.delete_all(user_id, except_device_id, conn=conn)
        after_commit(conn, lambda: self._forget(user_id, deleted))
        return deleted

    def _forget(self, user_id: str, device_ids: list[str]) -> None:
        for device_id in device_ids:
            self.auth.forget_cached(user_id, device_id)
            self._pending.pop((user_id, device_id), None)
            self._written.pop((user_id, device_id), None)

    async def flush_last_seen(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, {}
        try:
            await self.stores.devices.record_last_seen(list(batch.values()))
        except Exception:
            # Keep what failed for the next round, unless newer sightings replaced it.
            for key, seen in batch.items():
                self._pending.setdefault(key, seen)
            raise
        self._written.update(batch)
        if len(self._written) > 100_000:
            self._written.clear()

    def start(self) -> None:
        self._flusher.start()

    async def stop(self) -> None:
        await self._flusher.stop()
        await self.flush_last_seen()
