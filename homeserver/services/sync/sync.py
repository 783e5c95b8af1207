"""/sync: initial and incremental, with long-polling on the notifier.

Each section reads what changed between the `since` token and the notifier's current token;
an empty incremental sync waits on a listener registered before reading, so nothing that
arrives in between is missed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from homeserver.services.accounts.account_data import AccountDataService
from homeserver.services.accounts.ignored_users import IgnoredUsers
from homeserver.services.common.clock import Clock
from homeserver.services.push.notifications import NotificationService
from homeserver.services.push.push_rules import PUSH_RULES, PushRuleService
from homeserver.services.rooms.event_loader import EventLoader
from homeserver.services.rooms.recent_room_events import RecentRoomEvents
from homeserver.services.rooms.room_history import RoomHistoryService
from homeserver.services.rooms.user_memberships import UserMemberships
from homeserver.services.sync.presence import PresenceService
from homeserver.services.sync.receipts import ReceiptService
from homeserver.services.sync.sync_request import SyncRequest
from homeserver.services.sync.sync_rooms import RoomSections
from homeserver.services.sync.to_device import ToDeviceService
from homeserver.services.sync.typing import TypingService
from homeserver.streams.change_index import ChangeIndex
from homeserver.streams.notifier import StreamNotifier
from homeserver.types.event import MEMBER
from homeserver.types.stream_token import Stream, StreamToken
from storage.stores import Stores
from storage.stores.account_data import GLOBAL, AccountDataRow
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


class SyncService:
    def __init__(
        self,
        stores: Stores,
        loader: EventLoader,
        history: RoomHistoryService,
        ignored: IgnoredUsers,
        account_data: AccountDataService,
        to_device: ToDeviceService,
        receipts: ReceiptService,
        typing: TypingService,
        presence: PresenceService,
        memberships: UserMemberships,
        recent: RecentRoomEvents,
        notifier: StreamNotifier,
        clock: Clock,
        notifications: NotificationService,
        push_rules: PushRuleService,
    ) -> None:
        self.push_rules = push_rules
        self.memberships = memberships
        self.sections = RoomSections(stores, loader, history, recent, notifier, notifications)
        self.presence = presence
        self.receipts = receipts
        self.typing = typing
        self.stores = stores
        self.loader = loader
        self.history = history
        self.ignored = ignored
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
            memberships = await self.memberships.get(user_id)
            joined = [m.room_id for m in memberships if m.membership == "join"]
            with self.notifier.listen(user_id, joined) as listener:
                upto = self.notifier.current_token
                response, has_content = await self._build(request, memberships, upto)
                remaining = deadline - self.clock.monotonic()
                if has_content or request.since is None or remaining <= 0:
                    return response
                # Nothing for this user up to `upto`: returning that token is right if the
                # wait times out; a wake-up builds the response again from `since`. So do
                # presence changes in a room too busy to be woken for them (see
                # LocalNotifier): the response that ends the wait carries them.
                if not await listener.wait(remaining) and not self._presence_changed(
                    user_id, joined, upto.presence
                ):
                    return response

    async def _build(
        self, request: SyncRequest, memberships: list[MembershipRecord], upto: StreamToken
    ) -> tuple[dict[str, Any], bool]:
        since = request.since
        user_id = request.requester.user_id
        rooms: dict[str, dict[str, Any]] = {"join": {}, "invite": {}, "leave": {}, "knock": {}}
        room_filter = request.filter.room
        incremental = since is not None and not request.full_state
        joined_ids = [m.room_id for m in memberships if m.membership == "join"]
        changed_rooms: set[str] = set()
        if since is not None and incremental:
            known = self._changes(Stream.EVENTS).changed_among(joined_ids, since.events)
            if known is None:
                known = set(
                    await self.stores.events.rooms_with_events_between(
                        joined_ids, since.events, upto.events
                    )
                )
            changed_rooms = known
        data_rows = await self._account_data_rows(user_id, since, upto)
        room_data: dict[str, list[dict[str, Any]]] = {}
        for row in data_rows:
            if row.room_id != GLOBAL:
                room_data.setdefault(row.room_id, []).append(
                    {"type": row.type, "content": row.content}
                )
        ephemeral = await self._ephemeral(request, joined_ids, upto)
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
        rooms["join"], new_rooms = await self.sections.joined(
            request, joined_now, since if incremental else None, upto, room_data, ephemeral
        )
        for membership in wanted:
            room_id = membership.room_id
            changed_since = since is None or membership.stream_ordering > since.events
            if membership.membership == "join":
                continue
            elif membership.membership == "invite" and changed_since:
                if not await self._from_ignored(membership):
                    rooms["invite"][room_id] = await self._invited_room(room_id, membership)
            elif membership.membership == "knock" and changed_since:
                rooms["knock"][room_id] = {
                    "knock_state": {"events": await self._stripped(room_id, membership)}
                }
            elif membership.membership in ("leave", "ban") and (
                (since is not None and changed_since)
                or (since is None and room_filter.include_leave)
            ):
                rooms["leave"][room_id] = await self.sections.left(request, membership, since)
        account_data = [
            {"type": row.type, "content": row.content}
            for row in data_rows
            if row.room_id == GLOBAL and request.filter.account_data.allows(row.type, user_id)
        ]
        # The push rules are the m.push_rules account data, on a stream of their own.
        if request.filter.account_data.allows(PUSH_RULES, user_id) and (
            since is None or await self.push_rules.changed_since(user_id, since.push_rules)
        ):
            account_data.append(await self.push_rules.account_data_event(user_id))
        presence = []
        # The members of a room new to the client are new to it too: their presence comes
        # whether or not it changed since the token.
        newly_met: set[str] = set()
        if since is not None:
            for room_id in new_rooms:
                newly_met.update(
                    m.user_id for m in await self.stores.rooms.members(room_id, ["join"])
                )
        if (
            since is None
            or newly_met
            or self._presence_changed(user_id, joined_ids, since.presence)
        ):
            presence = [
                event
                for event in await self.presence.for_sync(
                    user_id, joined_ids, since.presence if since else 0, upto.presence, newly_met
                )
                if request.filter.presence.allows(event["type"], event["sender"])
            ]
        to_device: list[dict[str, Any]] = []
        reached = upto.to_device
        if since is None or self._changes(Stream.TO_DEVICE).changed(user_id, since.to_device):
            to_device, reached = await self.to_device.inbox(
                user_id,
                request.requester.device_id,
                since.to_device if since else 0,
                upto.to_device,
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

    def _changes(self, stream: Stream) -> ChangeIndex:
        return self.notifier.changes(stream)

    def _presence_changed(self, user_id: str, joined: list[str], since: int) -> bool:
        """Presence is announced to the user who changed and to their rooms."""
        index = self._changes(Stream.PRESENCE)
        return index.changed(user_id, since) or index.changed_among(joined, since) != set()

    async def _account_data_rows(
        self, user_id: str, since: StreamToken | None, upto: StreamToken
    ) -> list[AccountDataRow]:
        if since is not None and not self._changes(Stream.ACCOUNT_DATA).changed(
            user_id, since.account_data
        ):
            return []
        return await self.stores.account_data.changed_since(
            user_id, since.account_data if since else 0, upto.account_data
        )

    async def _ephemeral(
        self, request: SyncRequest, joined_ids: list[str], upto: StreamToken
    ) -> dict[str, list[dict[str, Any]]]:
        """Typing and receipts per room, read only for the rooms whose streams moved."""
        since = request.since
        user_id = request.requester.user_id
        receipt_rooms: Iterable[str] | None = joined_ids
        typing_rooms: Iterable[str] | None = joined_ids
        if since is not None:
            receipt_index = self._changes(Stream.RECEIPTS)
            # Private receipts are announced to their owner, not to the room.
            if not receipt_index.changed(user_id, since.receipts):
                receipt_rooms = receipt_index.changed_among(joined_ids, since.receipts)
            typing_rooms = self._changes(Stream.TYPING).changed_among(joined_ids, since.typing)
        receipts = (
            await self.receipts.for_sync(
                user_id,
                joined_ids if receipt_rooms is None else receipt_rooms,
                since.receipts if since else 0,
                upto.receipts,
            )
            if receipt_rooms is None or receipt_rooms
            else {}
        )
        typing = self.typing.for_sync(
            joined_ids if typing_rooms is None else typing_rooms, since.typing if since else None
        )
        ephemeral: dict[str, list[dict[str, Any]]] = {}
        ephemeral_filter = request.filter.room.ephemeral
        for source in (typing, receipts):
            for room_id, event in source.items():
                if ephemeral_filter.allows(event["type"], user_id, room_id):
                    ephemeral.setdefault(room_id, []).append(event)
        return ephemeral

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

    async def _from_ignored(self, invite: MembershipRecord) -> bool:
        """Invites from users the invitee ignores are not sent (spec: Ignoring Users)."""
        ignored = await self.ignored.of(invite.user_id)
        return bool(ignored) and (await self.loader.load(invite.event_id)).event.sender in ignored

    async def _invited_room(self, room_id: str, membership: MembershipRecord) -> dict[str, Any]:
        return {"invite_state": {"events": await self._stripped(room_id, membership)}}
