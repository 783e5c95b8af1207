"""/sync: initial and incremental, with long-polling on the notifier.

Each section reads what changed between the `since` token and the notifier's current token;
an empty incremental sync waits on a listener registered before reading, so nothing that
arrives in between is missed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from homeserver.rules.event_filter import EventFilter, Filter, only_fields
from homeserver.services.account_data import AccountDataService
from homeserver.services.clock import Clock
from homeserver.services.event_loader import EventLoader, LoadedEvent
from homeserver.services.presence import PresenceService
from homeserver.services.receipts import ReceiptService
from homeserver.services.room_history import RoomHistoryService, topological_token
from homeserver.services.to_device import ToDeviceService
from homeserver.services.typing import TypingService
from homeserver.streams.notifier import StreamNotifier
from homeserver.types.event import MEMBER, StateKey
from homeserver.types.requester import Requester
from homeserver.types.stream_token import StreamToken
from storage.stores import Stores
from storage.stores.account_data import GLOBAL
from storage.stores.rooms import MembershipRecord

MAX_TIMEOUT_S = 300.0
_STRIPPED_STATE = (
    ("m.room.create", ""),
    ("m.room.join_rules", ""),
    ("m.room.name", ""),
    ("m.room.avatar", ""),
    ("m.room.canonical_alias", ""),
    ("m.room.encryption", ""),
    ("m.room.topic", ""),
)


@dataclass(frozen=True)
class SyncRequest:
    requester: Requester
    since: StreamToken | None
    timeout_ms: int
    full_state: bool
    filter: Filter
    set_presence: str | None = None


class SyncService:
    def __init__(
        self,
        stores: Stores,
        loader: EventLoader,
        history: RoomHistoryService,
        account_data: AccountDataService,
        to_device: ToDeviceService,
        receipts: ReceiptService,
        typing: TypingService,
        presence: PresenceService,
        notifier: StreamNotifier,
        clock: Clock,
    ) -> None:
        self.presence = presence
        self.receipts = receipts
        self.typing = typing
        self.stores = stores
        self.loader = loader
        self.history = history
        self.account_data = account_data
        self.to_device = to_device
        self.notifier = notifier
        self.clock = clock

    async def sync(self, request: SyncRequest) -> dict[str, Any]:
        user_id = request.requester.user_id
        if request.since is not None:
            # The device got everything up to its token: its delivered messages can go.
            await self.to_device.acknowledge(
                user_id, request.requester.device_id, request.since.to_device
            )
        await self.presence.note_activity(user_id, request.set_presence)
        deadline = self.clock.monotonic() + min(request.timeout_ms / 1000, MAX_TIMEOUT_S)
        while True:
            memberships = await self.stores.rooms.memberships_for_user(user_id)
            joined = [m.room_id for m in memberships if m.membership == "join"]
            with self.notifier.listen(user_id, joined) as listener:
                upto = self.notifier.current_token
                response, has_content = await self._build(request, memberships, upto)
                remaining = deadline - self.clock.monotonic()
                if has_content or request.since is None or remaining <= 0:
                    return response
                # Nothing for this user up to `upto`: returning that token is right if the
                # wait times out; a wake-up builds the response again from `since`.
                if not await listener.wait(remaining):
                    return response

    async def _build(
        self, request: SyncRequest, memberships: list[MembershipRecord], upto: StreamToken
    ) -> tuple[dict[str, Any], bool]:
        since = request.since
        user_id = request.requester.user_id
        rooms: dict[str, dict[str, Any]] = {"join": {}, "invite": {}, "leave": {}, "knock": {}}
        room_filter = request.filter.room
        changed_rooms = set()
        if since is not None and not request.full_state:
            joined = [m.room_id for m in memberships if m.membership == "join"]
            changed_rooms = set(
                await self.stores.events.rooms_with_events_between(
                    joined, since.events, upto.events
                )
            )
        data_rows = await self.stores.account_data.changed_since(
            user_id, since.account_data if since else 0, upto.account_data
        )
        room_data: dict[str, list[dict[str, Any]]] = {}
        for row in data_rows:
            if row.room_id != GLOBAL:
                room_data.setdefault(row.room_id, []).append(
                    {"type": row.type, "content": row.content}
                )
        joined_ids = [m.room_id for m in memberships if m.membership == "join"]
        ephemeral: dict[str, list[dict[str, Any]]] = {}
        receipts = await self.receipts.for_sync(
            user_id, joined_ids, since.receipts if since else 0, upto.receipts
        )
        typing = self.typing.for_sync(joined_ids, since.typing if since else None)
        for source in (typing, receipts):
            for room_id, event in source.items():
                if room_filter.ephemeral.allows(event["type"], user_id, room_id):
                    ephemeral.setdefault(room_id, []).append(event)
        incremental = since is not None and not request.full_state
        wanted = [m for m in memberships if room_filter.allows_room(m.room_id) and not m.forgotten]
        joined_now = [
            m
            for m in wanted
            if m.membership == "join"
            and not (
                incremental
                and m.room_id not in changed_rooms
                and m.room_id not in room_data
                and m.room_id not in ephemeral
            )
        ]
        summaries = await self.stores.rooms.summaries([m.room_id for m in joined_now], user_id)
        for membership in joined_now:
            room_id = membership.room_id
            rooms["join"][room_id] = await self._joined_room(
                request,
                membership,
                since if incremental else None,
                upto,
                room_data.get(room_id, []),
                ephemeral.get(room_id, []),
                summaries[room_id],
            )
        for membership in wanted:
            room_id = membership.room_id
            changed_since = since is None or membership.stream_ordering > since.events
            if membership.membership == "join":
                continue
            elif membership.membership == "invite" and changed_since:
                rooms["invite"][room_id] = await self._invited_room(room_id, membership)
            elif membership.membership == "knock" and changed_since:
                rooms["knock"][room_id] = {
                    "knock_state": {"events": await self._stripped(room_id, membership)}
                }
            elif membership.membership in ("leave", "ban") and (
                (since is not None and changed_since)
                or (since is None and room_filter.include_leave)
            ):
                rooms["leave"][room_id] = await self._left_room(request, membership, since)
        account_data = [
            {"type": row.type, "content": row.content}
            for row in data_rows
            if row.room_id == GLOBAL and request.filter.account_data.allows(row.type, user_id)
        ]
        presence = [
            event
            for event in await self.presence.for_sync(
                user_id, since.presence if since else 0, upto.presence
            )
            if request.filter.presence.allows(event["type"], event["sender"])
        ]
        to_device, reached = await self.to_device.inbox(
            user_id, request.requester.device_id, since.to_device if since else 0, upto.to_device
        )
        # A long inbox is delivered in parts; the token stops where this part ends.
        next_token = replace(upto, to_device=reached) if reached < upto.to_device else upto
        response: dict[str, Any] = {
            "next_batch": next_token.serialize(),
            "rooms": rooms,
            "account_data": {"events": account_data},
            "presence": {"events": presence},
            "to_device": {"events": to_device},
            "device_lists": {"changed": [], "left": []},
            "device_one_time_keys_count": {},
            "device_unused_fallback_key_types": [],
        }
        has_content = bool(account_data or to_device or presence or any(rooms.values()))
        return response, has_content

    def _format(self, request: SyncRequest, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        fields = request.filter.event_fields
        if fields is None:
            return events
        return [only_fields(e, fields) for e in events]

    async def _serialize(
        self, request: SyncRequest, loaded: Iterable[LoadedEvent]
    ) -> list[dict[str, Any]]:
        items = list(loaded)
        if request.filter.event_format == "federation":
            return self._format(request, [dict(i.event.data) for i in items])
        events = await self.history.serialize(items, request.requester)
        for event in events:
            event.pop("room_id", None)
        return self._format(request, events)

    async def _timeline(
        self,
        request: SyncRequest,
        room_id: str,
        since_events: int,
        upto_events: int,
        timeline_filter: EventFilter,
        membership: MembershipRecord,
    ) -> tuple[list[LoadedEvent], bool]:
        limit = timeline_filter.limit or 10
        version = await self.loader.room_version(room_id)
        assert version is not None
        rows = await self.stores.events.room_stream_page(
            room_id, since_events, upto_events, limit + 1
        )
        limited = len(rows) > limit
        items = self.loader.wrap(reversed(rows[:limit]), version)
        items = [i for i in items if timeline_filter.allows_event(i.event.data)]
        items = await self.history.visible(request.requester.user_id, items, membership)
        return items, limited

    async def _state_between(
        self, room_id: str, since_events: int | None, before: LoadedEvent | None, upto_events: int
    ) -> dict[StateKey, str]:
        """State at the start of the timeline, minus what the client already had at `since`."""
        if before is not None:
            group = await self.stores.events.state_group_at(room_id, before.stream_ordering - 1)
        else:
            group = await self.stores.events.state_group_at(room_id, upto_events)
        now = await self.stores.state.get_state(group) if group is not None else {}
        if since_events is None:
            return now
        old_group = await self.stores.events.state_group_at(room_id, since_events)
        old = await self.stores.state.get_state(old_group) if old_group is not None else {}
        return {k: v for k, v in now.items() if old.get(k) != v}

    async def _joined_room(
        self,
        request: SyncRequest,
        membership: MembershipRecord,
        since: StreamToken | None,
        upto: StreamToken,
        account_data: list[dict[str, Any]],
        ephemeral: list[dict[str, Any]],
        summary: tuple[dict[str, int], list[str]],
    ) -> dict[str, Any]:
        room_id = membership.room_id
        room_filter = request.filter.room
        since_events = since.events if since else 0
        timeline, limited = await self._timeline(
            request, room_id, since_events, upto.events, room_filter.timeline, membership
        )
        if since is None:
            limited = limited or bool(timeline)
        first = timeline[0] if timeline else None
        if since is None or limited:
            state_ids = await self._state_between(
                room_id, since.events if since else None, first, upto.events
            )
        else:
            state_ids = {}
        timeline_ids = {i.event.event_id for i in timeline}
        state_filter = room_filter.state
        if state_filter.lazy_load_members or room_filter.timeline.lazy_load_members:
            senders = {i.event.sender for i in timeline} | {request.requester.user_id}
            state_ids = {k: v for k, v in state_ids.items() if k[0] != MEMBER or k[1] in senders}
        loaded_state = await self.loader.load_many(
            v for v in state_ids.values() if v not in timeline_ids
        )
        state = [i for i in loaded_state.values() if state_filter.allows_event(i.event.data)]
        prev_batch = (
            topological_token(first.depth, first.stream_ordering)
            if first is not None
            else upto.serialize()
        )
        counts, heroes = summary
        return {
            "timeline": {
                "events": await self._serialize(request, timeline),
                "limited": limited,
                "prev_batch": prev_batch,
            },
            "state": {"events": await self._serialize(request, state)},
            "account_data": {"events": account_data},
            "ephemeral": {"events": ephemeral},
            "summary": {
                "m.heroes": heroes,
                "m.joined_member_count": counts.get("join", 0),
                "m.invited_member_count": counts.get("invite", 0),
            },
            "unread_notifications": {"highlight_count": 0, "notification_count": 0},
            "unread_thread_notifications": {},
        }

    async def _stripped(self, room_id: str, membership: MembershipRecord) -> list[dict[str, Any]]:
        ids = await self.stores.rooms.current_state_ids(room_id, list(_STRIPPED_STATE))
        ids[(MEMBER, membership.user_id)] = membership.event_id
        events = await self.loader.events(ids.values())
        return [
            {
                "type": e.type,
                "state_key": e.state_key,
                "sender": e.sender,
                "content": dict(e.content),
            }
            for e in events.values()
        ]

    async def _invited_room(self, room_id: str, membership: MembershipRecord) -> dict[str, Any]:
        return {"invite_state": {"events": await self._stripped(room_id, membership)}}

    async def _left_room(
        self, request: SyncRequest, membership: MembershipRecord, since: StreamToken | None
    ) -> dict[str, Any]:
        room_id = membership.room_id
        # History ends with the leave (or kick or ban) event.
        timeline, limited = await self._timeline(
            request,
            room_id,
            since.events if since else 0,
            membership.stream_ordering,
            request.filter.room.timeline,
            membership,
        )
        first = timeline[0] if timeline else None
        state_ids = (
            await self._state_between(
                room_id, since.events if since else None, first, membership.stream_ordering
            )
            if limited or since is None
            else {}
        )
        timeline_ids = {i.event.event_id for i in timeline}
        state = await self.loader.load_many(v for v in state_ids.values() if v not in timeline_ids)
        return {
            "timeline": {
                "events": await self._serialize(request, timeline),
                "limited": limited,
                "prev_batch": topological_token(first.depth, first.stream_ordering)
                if first
                else topological_token(0, 0),
            },
            "state": {"events": await self._serialize(request, state.values())},
            "account_data": {"events": []},
        }
