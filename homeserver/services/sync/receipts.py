"""Read receipts (public and private, threaded) and read markers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from homeserver.services.accounts.account_data import AccountDataService
from homeserver.services.common.clock import Clock
from homeserver.services.push.push_delivery import PushDelivery
from homeserver.services.push.unread_counts import UnreadCountCache
from homeserver.services.rooms.event_loader import EventLoader
from homeserver.streams.writer import StreamWriter
from homeserver.types.errors import BadRequest, Codes, Forbidden, NotFound
from homeserver.types.requester import Requester
from storage.stores import Stores
from storage.stores.receipts import MAIN_THREAD, ReceiptRow

READ = "m.read"
READ_PRIVATE = "m.read.private"
FULLY_READ = "m.fully_read"
_RECEIPT_TYPES = (READ, READ_PRIVATE)


class ReceiptService:
    def __init__(
        self,
        stores: Stores,
        loader: EventLoader,
        clock: Clock,
        writer: StreamWriter,
        account_data: AccountDataService,
        push_delivery: PushDelivery | None = None,
        unread_counts: UnreadCountCache | None = None,
    ) -> None:
        self.unread_counts = unread_counts or UnreadCountCache(0)
        self.stores = stores
        self.loader = loader
        self.clock = clock
        self.writer = writer
        self.account_data = account_data
        self.push_delivery = push_delivery

    async def _check(self, requester: Requester, room_id: str, event_id: str) -> None:
        membership = await self.stores.rooms.membership(room_id, requester.user_id)
        if membership is None or membership.membership != "join":
            raise Forbidden("You are not in this room")
        loaded = (await self.loader.load_many([event_id])).get(event_id)
        if loaded is None or loaded.event.room_id != room_id:
            raise NotFound("Event not found")

    async def receipt(
        self,
        requester: Requester,
        room_id: str,
        receipt_type: str,
        event_id: str,
        thread_id: str | None,
    ) -> None:
        if receipt_type == FULLY_READ:
            await self.read_markers(requester, room_id, {FULLY_READ: event_id})
            return
        if receipt_type not in _RECEIPT_TYPES:
            raise BadRequest(f"Unknown receipt type {receipt_type!r}", Codes.INVALID_PARAM)
        if thread_id is not None and (not isinstance(thread_id, str) or not thread_id):
            raise BadRequest("thread_id must be a non-empty string", Codes.INVALID_PARAM)
        await self._check(requester, room_id, event_id)
        row = ReceiptRow(
            room_id,
            receipt_type,
            requester.user_id,
            thread_id or MAIN_THREAD,
            event_id,
            self.clock.time_ms(),
        )
        # Private receipts wake only their owner; public ones the whole room.
        private = receipt_type == READ_PRIVATE
        with self.unread_counts.changing():
            await self.writer.write(
                self.stores.receipts.next_positions,
                lambda position: self.stores.receipts.put(row, position),
                rooms=[] if private else [room_id],
                users=[requester.user_id] if private else [],
            )
            # Before any sync the write woke reads the counts it lowered.
            self.unread_counts.forget(requester.user_id, room_id)
        if self.push_delivery is not None:
            # Only marks the user: the badge update goes out in the background.
            self.push_delivery.on_read(requester.user_id)

    async def read_markers(
        self, requester: Requester, room_id: str, markers: dict[str, Any]
    ) -> None:
        for key, value in markers.items():
            if key not in (FULLY_READ, READ, READ_PRIVATE):
                continue
            if not isinstance(value, str):
                raise BadRequest(f"{key} must be an event ID", Codes.BAD_JSON)
            if key == FULLY_READ:
                await self._check(requester, room_id, value)
                await self.account_data.write(
                    requester.user_id, room_id, FULLY_READ, {"event_id": value}
                )
            else:
                await self.receipt(requester, room_id, key, value, None)

    async def for_sync(
        self, user_id: str, room_ids: Iterable[str], since: int, upto: int
    ) -> dict[str, dict[str, Any]]:
        """The m.receipt ephemeral event of each room with receipts changed in (since, upto];
        private receipts appear only to their owner."""
        rows = await self.stores.receipts.changed(list(room_ids), since, upto)
        by_room: dict[str, dict[str, Any]] = {}
        for row in rows:
            if row.receipt_type == READ_PRIVATE and row.user_id != user_id:
                continue
            receipt: dict[str, Any] = {"ts": row.ts}
            if row.thread_id != MAIN_THREAD:
                receipt["thread_id"] = row.thread_id
            content = by_room.setdefault(row.room_id, {})
            content.setdefault(row.event_id, {}).setdefault(row.receipt_type, {})[row.user_id] = (
                receipt
            )
        return {room: {"type": "m.receipt", "content": c} for room, c in by_room.items()}
