"""GET /events: the room events after a token, long-polled.

With `room_id` it is the spec's peeking API (a room the user may read without being
joined, such as a world-readable one); without, the deprecated form over every joined
room, which old clients and SyTest's fixtures still call.
"""

from __future__ import annotations

from typing import Any

from homeserver.services.common.clock import Clock
from homeserver.services.rooms.event_loader import LoadedEvent
from homeserver.services.rooms.room_history import RoomHistoryService
from homeserver.services.rooms.user_memberships import UserMemberships
from homeserver.streams.notifier import StreamNotifier
from homeserver.types.requester import Requester
from homeserver.types.stream_token import StreamToken
from storage.stores import Stores
from storage.stores.rooms import MembershipRecord

MAX_TIMEOUT_S = 300.0
_PER_ROOM = 100


class EventStreamService:
    def __init__(
        self,
        stores: Stores,
        history: RoomHistoryService,
        memberships: UserMemberships,
        notifier: StreamNotifier,
        clock: Clock,
    ) -> None:
        self.stores = stores
        self.history = history
        self.memberships = memberships
        self.notifier = notifier
        self.clock = clock

    async def events(
        self,
        requester: Requester,
        from_token: StreamToken | None,
        timeout_ms: int,
        room_id: str | None,
    ) -> dict[str, Any]:
        user_id = requester.user_id
        records = {m.room_id: m for m in await self.memberships.get(user_id)}
        if room_id is not None:
            # Raises M_FORBIDDEN unless the user may read the room.
            await self.history.state_snapshot(room_id, user_id)
            rooms = [room_id]
        else:
            rooms = [r for r, m in records.items() if m.membership == "join"]
        if from_token is None:
            # No token: the stream starts now.
            now = self.notifier.current_token.serialize()
            return {"chunk": [], "start": now, "end": now}
        deadline = self.clock.monotonic() + min(timeout_ms / 1000, MAX_TIMEOUT_S)
        while True:
            with self.notifier.listen(user_id, rooms) as listener:
                upto = self.notifier.current_token
                chunk = await self._chunk(requester, rooms, records, from_token.events, upto)
                remaining = deadline - self.clock.monotonic()
                if chunk or remaining <= 0 or not await listener.wait(remaining):
                    return {
                        "chunk": chunk,
                        "start": from_token.serialize(),
                        "end": upto.serialize(),
                    }

    async def _chunk(
        self,
        requester: Requester,
        rooms: list[str],
        records: dict[str, MembershipRecord],
        since: int,
        upto: StreamToken,
    ) -> list[dict[str, Any]]:
        pages = await self.stores.events.room_stream_pages(rooms, since, upto.events, _PER_ROOM)
        batches: list[tuple[list[LoadedEvent], MembershipRecord | None]] = []
        for room_id in rooms:
            version = await self.history.loader.room_version(room_id)
            if version is not None:
                loaded = self.history.loader.wrap(reversed(pages[room_id]), version)
                batches.append((loaded, records.get(room_id)))
        visible = await self.history.visible_in_rooms(requester.user_id, batches, hide_ignored=True)
        events = sorted((i for items in visible for i in items), key=lambda i: i.stream_ordering)
        return await self.history.serialize(events, requester)
