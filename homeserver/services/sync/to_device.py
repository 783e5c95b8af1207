"""Send-to-device messaging between local devices."""

from __future__ import annotations

from typing import Any

from homeserver.services.common.clock import Clock
from homeserver.services.common.lru_cache import LruCache
from homeserver.streams.writer import StreamWriter
from homeserver.types.errors import BadRequest, Codes
from homeserver.types.ids import UserID
from homeserver.types.requester import Requester
from homeserver.types.stream_token import Stream
from storage.stores import Stores
from storage.stores.to_device import ToDeviceMessage

ALL_DEVICES = "*"


class ToDeviceService:
    def __init__(
        self, stores: Stores, clock: Clock, writer: StreamWriter, server_name: str
    ) -> None:
        self.stores = stores
        self.clock = clock
        self.writer = writer
        self.server_name = server_name
        # Per device, the position up to which its delivered messages are already deleted.
        self._acknowledged: LruCache[tuple[str, str], int] = LruCache(100_000)

    async def send(
        self,
        requester: Requester,
        event_type: str,
        txn_id: str,
        messages: dict[str, dict[str, dict[str, Any]]],
    ) -> None:
        """Queue the messages; a repeated transaction ID is acknowledged without resending.

        Recipients on other servers are left to the federation sender, which is not built yet:
        for now only local devices receive messages.
        """
        queued = await self._expand(requester.user_id, event_type, messages)
        position = await self.writer.allocate(self.stores.to_device.next_positions)
        try:
            async with self.stores.db.transaction() as conn:
                fresh = await self.stores.to_device.claim_txn(
                    requester.user_id, requester.device_id, txn_id, self.clock.time_ms(), conn
                )
                if fresh and queued:
                    await self.stores.to_device.enqueue(queued, position, conn)
        except BaseException:
            self.writer.abandoned(position)
            raise
        if fresh and queued:
            self.writer.committed(position, users={m.user_id for m in queued})
        else:
            self.writer.abandoned(position)

    async def _expand(
        self, sender: str, event_type: str, messages: dict[str, dict[str, dict[str, Any]]]
    ) -> list[ToDeviceMessage]:
        queued: list[ToDeviceMessage] = []
        for user_id, by_device in messages.items():
            try:
                parsed = UserID.parse(user_id)
            except ValueError:
                raise BadRequest(f"{user_id!r} is not a user ID", Codes.INVALID_PARAM) from None
            if parsed.domain != self.server_name:
                continue
            devices = set(by_device)
            if ALL_DEVICES in devices:
                known = {d.device_id for d in await self.stores.devices.list_for_user(user_id)}
                content_for_all = by_device[ALL_DEVICES]
                targets = {d: by_device.get(d, content_for_all) for d in known}
            else:
                targets = dict(by_device)
            queued.extend(
                ToDeviceMessage(user_id, device_id, sender, event_type, content)
                for device_id, content in targets.items()
            )
        return queued

    async def inbox(
        self, user_id: str, device_id: str, since: int, upto: int, limit: int = 100
    ) -> tuple[list[dict[str, Any]], int]:
        """Messages for one device in (since, upto], oldest first, and the position they
        reach (below `upto` when `limit` cut them short). Sync calls `acknowledge` once
        the device presents a token past them."""
        entries = await self.stores.to_device.inbox(user_id, device_id, since, upto, limit)
        reached = entries[-1].stream_id if len(entries) == limit else upto
        return [
            {"sender": e.sender, "type": e.type, "content": e.content} for e in entries
        ], reached

    async def acknowledge(self, user_id: str, device_id: str, upto: int) -> None:
        key = (user_id, device_id)
        done = self._acknowledged.get(key)
        index = self.writer.notifier.changes(Stream.TO_DEVICE)
        if done is not None and (upto <= done or not index.changed(user_id, done)):
            return
        await self.stores.to_device.delete_delivered(user_id, device_id, upto)
        self._acknowledged.put(key, max(upto, done or 0))
