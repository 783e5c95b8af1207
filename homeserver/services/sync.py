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
from homeserver.services.lru_cache import LruCache
from homeserver.services.presence import PresenceService
from homeserver.services.receipts import ReceiptService
from homeserver.services.recent_room_events import RecentRoomEvents
from homeserver.services.room_history import RoomHistoryService, topological_token
from homeserver.services.to_device import ToDeviceService
from homeserver.services.typing import TypingService
from homeserver.services.user_memberships import UserMemberships
from homeserver.streams.change_index import ChangeIndex
from homeserver.streams.notifier import StreamNotifier
from homeserver.types.event import MEMBER, StateKey
from homeserver.types.requester import Requester
from homeserver.types.stream_token import Stream, StreamToken
from storage.stores import Stores
from storage.stores.account_data import GLOBAL, AccountDataRow
from storage.stores.events import StoredEvent
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
        memberships: UserMemberships,
        recent: RecentRoomEvents,
        notifier: StreamNotifier,
        clock: Clock,
    ) -> None:
        self.memberships = memberships
        self.recent = recent
        # Per device, per room: the member events it was sent under lazy loading, so later
        # syncs send only the ones it lacks (a cache: losing it only means resending).
        self._members_sent: LruCache[tuple[str, str], dict[str, set[str]]] = LruCache(10_000)
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
            memberships = await self.memberships.get(user_id)
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
        rooms["join"], new_rooms = await self._joined_rooms(
            request, joined_now, since if incremental else None, upto, room_data, ephemeral
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
            or self._changes(Stream.PRESENCE).changed(user_id, since.presence)
        ):
            presence = [
                event
                for event in await self.presence.for_sync(
                    user_id, since.presence if since else 0, upto.presence, newly_met
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
        limit = _timeline_limit(timeline_filter)
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

    async def _not_joined_at(self, membership: MembershipRecord, since: StreamToken) -> bool:
        """Whether the user was not joined at `since` while their membership changed after
        it (a join or a join-and-leave, not a profile change): the room is new to the
        client."""
        if membership.stream_ordering <= since.events:
            return False
        group = await self.stores.events.state_group_at(membership.room_id, since.events)
        if group is None:
            return True
        key = (MEMBER, membership.user_id)
        before = (await self.stores.state.get_state(group, [key])).get(key)
        if before is None:
            return True
        return (await self.loader.load(before)).event.membership != "join"

    async def _joined_rooms(
        self,
        request: SyncRequest,
        joined: list[MembershipRecord],
        since: StreamToken | None,
        upto: StreamToken,
        account_data: dict[str, list[dict[str, Any]]],
        ephemeral: dict[str, list[dict[str, Any]]],
    ) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """The rooms.join section, each step one query for all the rooms together, and the
        rooms in it that are new to the client (joined since `since`)."""
        if not joined:
            return {}, []
        room_filter = request.filter.room
        limit = _timeline_limit(room_filter.timeline)
        # A room joined since the last sync is new to the client: it gets the whole state.
        room_since: dict[str, int | None] = {}
        for membership in joined:
            fresh = since is None or await self._not_joined_at(membership, since)
            room_since[membership.room_id] = None if fresh or since is None else since.events
        pages: dict[str, list[StoredEvent]] = {}
        for first_position in {0 if s is None else s for s in room_since.values()}:
            ids = [r for r, s in room_since.items() if (s or 0) == first_position]
            pages.update(await self.recent.pages(ids, first_position, upto.events, limit + 1))
        candidates: list[tuple[list[LoadedEvent], MembershipRecord]] = []
        limits: list[bool] = []
        for membership in joined:
            room_id = membership.room_id
            version = await self.loader.room_version(room_id)
            assert version is not None
            rows = pages[room_id]
            items = [
                i
                for i in self.loader.wrap(reversed(rows[:limit]), version)
                if room_filter.timeline.allows_event(i.event.data)
            ]
            limited = len(rows) > limit
            if limited and len(items) < limit:
                # The filter dropped some of the page and there is more: read on.
                items, limited = await self._filtered_timeline(
                    room_id, room_since[room_id] or 0, upto.events, limit, request
                )
            # A room joined since the last sync has history the client never saw: its
            # timeline is limited (as in Synapse), unlike an initial sync's.
            limited = limited or (since is not None and room_since[room_id] is None and bool(rows))
            candidates.append((items, membership))
            limits.append(limited)
        # State events that are current state are shown even from a time the user could not
        # see (as Synapse does): clients build room state from the timeline too.
        current = await self.stores.rooms.current_among(
            [m.room_id for m in joined],
            [i.event.event_id for items, _ in candidates for i in items if i.event.is_state],
        )
        visible = await self.history.visible_in_rooms(
            request.requester.user_id, candidates, frozenset(current)
        )
        timelines = {
            membership.room_id: (items, limited)
            for membership, items, limited in zip(joined, visible, limits, strict=True)
        }
        state_ids = await self._states_before_timelines(
            {r: s for r, s in room_since.items() if s is None or timelines[r][1]},
            timelines,
            upto,
            request,
        )
        if room_filter.state.lazy_load_members or room_filter.timeline.lazy_load_members:
            state_ids = await self._lazy_members(request, room_since, timelines, state_ids)
        loaded_state = await self.loader.load_many(
            event_id for ids in state_ids.values() for event_id in ids.values()
        )
        state: dict[str, list[LoadedEvent]] = {}
        for room_id, ids in state_ids.items():
            in_timeline = {i.event.event_id for i in timelines[room_id][0]}
            state[room_id] = [
                loaded_state[e]
                for e in ids.values()
                if e in loaded_state
                and e not in in_timeline
                and room_filter.state.allows_event(loaded_state[e].event.data)
            ]
        ordered: list[LoadedEvent] = []
        for membership in joined:
            ordered.extend(timelines[membership.room_id][0])
            ordered.extend(state.get(membership.room_id, ()))
        serialized = iter(await self._serialize(request, ordered))
        # The summary is sent when the room is new to the client or its members changed; an
        # unchanged summary may be left out (spec: /sync, RoomSummary).
        summarised = [
            room_id
            for room_id, since_events in room_since.items()
            if since_events is None
            or any(
                i.event.type == MEMBER for i in (*timelines[room_id][0], *state.get(room_id, ()))
            )
        ]
        summaries = await self.stores.rooms.summaries(summarised, request.requester.user_id)
        named = await self.stores.rooms.named_rooms(summarised)
        result: dict[str, dict[str, Any]] = {}
        for membership in joined:
            room_id = membership.room_id
            timeline, limited = timelines[room_id]
            first = timeline[0] if timeline else None
            nothing_new = not (
                timeline
                or state.get(room_id)
                or account_data.get(room_id)
                or ephemeral.get(room_id)
            )
            if room_since[room_id] is not None and nothing_new:
                # Everything that changed was filtered out: an incremental sync leaves the
                # room out, as Synapse does.
                continue
            result[room_id] = {
                "timeline": {
                    "events": [next(serialized) for _ in timeline],
                    "limited": limited,
                    "prev_batch": topological_token(first.depth, first.stream_ordering)
                    if first is not None
                    else upto.serialize(),
                },
                "state": {"events": [next(serialized) for _ in state.get(room_id, ())]},
                "account_data": {"events": account_data.get(room_id, [])},
                "ephemeral": {"events": ephemeral.get(room_id, [])},
                "summary": _summary(summaries[room_id], room_id in named)
                if room_id in summaries
                else {},
                "unread_notifications": {"highlight_count": 0, "notification_count": 0},
                "unread_thread_notifications": {},
            }
        new_rooms = [r for r, s in room_since.items() if s is None and since is not None]
        return result, new_rooms

    async def _filtered_timeline(
        self,
        room_id: str,
        since_events: int,
        upto_events: int,
        limit: int,
        request: SyncRequest,
    ) -> tuple[list[LoadedEvent], bool]:
        """The newest `limit` events passing the timeline filter, reading back from the
        newest until that many pass (plus one, to know whether it is limited)."""
        timeline_filter = request.filter.room.timeline
        version = await self.loader.room_version(room_id)
        assert version is not None
        kept: list[LoadedEvent] = []
        upper = upto_events
        batch = max(50, 4 * limit)
        while len(kept) <= limit:
            rows = await self.stores.events.room_stream_page(room_id, since_events, upper, batch)
            kept.extend(
                i
                for i in self.loader.wrap(rows, version)
                if timeline_filter.allows_event(i.event.data)
            )
            if len(rows) < batch:
                break
            upper = rows[-1].stream_ordering - 1
        return list(reversed(kept[:limit])), len(kept) > limit

    async def _states_before_timelines(
        self,
        room_since: dict[str, int | None],
        timelines: dict[str, tuple[list[LoadedEvent], bool]],
        upto: StreamToken,
        request: SyncRequest,
    ) -> dict[str, dict[StateKey, str]]:
        """For each room: the state at the start of its timeline, minus what the client had
        at its `since` position (all of it when that is None)."""
        if not room_since:
            return {}
        current = await self.stores.rooms.current_state_positions(list(room_since))
        result: dict[str, dict[StateKey, str]] = {}
        # Rooms whose state changed at or after the timeline's start: (room, position of the
        # state wanted, position the client had it at).
        from_snapshots: list[tuple[str, int, int | None]] = []
        for room_id, since_events in room_since.items():
            timeline = timelines[room_id][0]
            boundary = timeline[0].stream_ordering if timeline else upto.events + 1
            entries = current[room_id]
            if entries and max(position for _, position in entries.values()) < boundary:
                # No state changed from the timeline's start on: current state is the state
                # before it, and what changed since `since` is what was set after it.
                result[room_id] = {
                    key: event_id
                    for key, (event_id, position) in entries.items()
                    if since_events is None or position > since_events
                }
            else:
                from_snapshots.append((room_id, boundary - 1, since_events))
        if from_snapshots:
            result.update(await self._states_from_snapshots(from_snapshots))
        return result

    async def _lazy_members(
        self,
        request: SyncRequest,
        room_since: dict[str, int | None],
        timelines: dict[str, tuple[list[LoadedEvent], bool]],
        state_ids: dict[str, dict[StateKey, str]],
    ) -> dict[str, dict[StateKey, str]]:
        """Lazy-loaded members (spec: Lazy-loading room members): a room new to the client
        gets the member events of its timeline's senders only; every sync gets those of
        senders the device has not been sent yet (all of them with
        include_redundant_members); member changes in a gap always come."""
        requester = request.requester
        room_filter = request.filter.room
        redundant = (
            room_filter.state.include_redundant_members
            or room_filter.timeline.include_redundant_members
        )
        device = (requester.user_id, requester.device_id)
        sent = self._members_sent.get(device) or {}
        result: dict[str, dict[StateKey, str]] = {}
        wanted: list[tuple[str, str]] = []
        for room_id, (timeline, _) in timelines.items():
            senders = {i.event.sender for i in timeline} | {requester.user_id}
            ids = state_ids.get(room_id, {})
            if room_since[room_id] is None:
                ids = {k: v for k, v in ids.items() if k[0] != MEMBER or k[1] in senders}
                sent[room_id] = set()
            result[room_id] = dict(ids)
            wanted.extend((room_id, s) for s in senders if (MEMBER, s) not in ids)
        for (room_id, user_id), event_id in (
            await self.stores.rooms.current_member_events(wanted)
        ).items():
            if redundant or event_id not in sent.get(room_id, ()):
                result[room_id][(MEMBER, user_id)] = event_id
        for room_id, ids in result.items():
            known = sent.setdefault(room_id, set())
            known.update(v for k, v in ids.items() if k[0] == MEMBER)
            known.update(i.event.event_id for i in timelines[room_id][0] if i.event.type == MEMBER)
        self._members_sent.put(device, sent)
        return {room_id: ids for room_id, ids in result.items() if ids}

    async def _states_from_snapshots(
        self, wanted: list[tuple[str, int, int | None]]
    ) -> dict[str, dict[StateKey, str]]:
        """For each (room, position, since): the room's state at the position, minus its
        state at `since` when that is given."""
        positions = [(room_id, position) for room_id, position, _ in wanted]
        positions += [(room_id, since) for room_id, _, since in wanted if since is not None]
        groups = await self.stores.events.state_groups_at(positions)
        states = await self.stores.state.get_states(g for g in groups if g is not None)
        at_since = iter(groups[len(wanted) :])
        result: dict[str, dict[StateKey, str]] = {}
        for (room_id, _, since), group in zip(wanted, groups[: len(wanted)], strict=True):
            now = states[group] if group is not None else {}
            if since is not None:
                old_group = next(at_since)
                old = states[old_group] if old_group is not None else {}
                now = {k: v for k, v in now.items() if old.get(k) != v}
            result[room_id] = now
        return result

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
        state_ids: dict[StateKey, str] = {}
        new_to_client = since is None or await self._not_joined_at(membership, since)
        if limited or new_to_client:
            boundary = first.stream_ordering - 1 if first else membership.stream_ordering
            wanted = (room_id, boundary, None if new_to_client or since is None else since.events)
            state_ids = (await self._states_from_snapshots([wanted]))[room_id]
        timeline_ids = {i.event.event_id for i in timeline}
        loaded = await self.loader.load_many(v for v in state_ids.values() if v not in timeline_ids)
        state_filter = request.filter.room.state
        state = [i for i in loaded.values() if state_filter.allows_event(i.event.data)]
        return {
            "timeline": {
                "events": await self._serialize(request, timeline),
                "limited": limited,
                "prev_batch": topological_token(first.depth, first.stream_ordering)
                if first
                else topological_token(0, 0),
            },
            "state": {"events": await self._serialize(request, state)},
            "account_data": {"events": []},
        }


def _timeline_limit(timeline_filter: EventFilter) -> int:
    return timeline_filter.limit if timeline_filter.limit is not None else 10


def _summary(summary: tuple[dict[str, int], list[str]], named: bool) -> dict[str, Any]:
    counts, heroes = summary
    result: dict[str, Any] = {
        "m.joined_member_count": counts.get("join", 0),
        "m.invited_member_count": counts.get("invite", 0),
    }
    # Heroes are for naming a room that has no name (spec: RoomSummary); Synapse leaves
    # them out otherwise.
    if not named:
        result["m.heroes"] = heroes
    return result
