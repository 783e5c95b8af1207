"""The rooms.join and rooms.leave sections of /sync: timelines, the state before them,
lazy-loaded members, summaries, serialisation. Built in a fixed number of queries whatever
the number of rooms."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from homeserver.rules.event_filter import EventFilter, only_fields
from homeserver.services.common.lru_cache import LruCache
from homeserver.services.push.notifications import NotificationService
from homeserver.services.rooms.event_loader import EventLoader, LoadedEvent
from homeserver.services.rooms.recent_room_events import RecentRoomEvents
from homeserver.services.rooms.room_history import MAX_PAGE, RoomHistoryService, topological_token
from homeserver.services.sync.sync_request import SyncRequest
from homeserver.streams.notifier import StreamNotifier
from homeserver.types.event import MEMBER, StateKey
from homeserver.types.stream_token import Stream, StreamToken
from storage.stores import Stores
from storage.stores.events import StoredEvent
from storage.stores.push_actions import MAIN_TIMELINE, ThreadCounts
from storage.stores.rooms import MembershipRecord

# How far back a timeline whose newest events are filtered out or hidden is looked for.
_READ_BACK_PAGES = 5
_MEMBER_EVENTS_CACHED = 20_000


class RoomSections:
    def __init__(
        self,
        stores: Stores,
        loader: EventLoader,
        history: RoomHistoryService,
        recent: RecentRoomEvents,
        notifier: StreamNotifier,
        notifications: NotificationService,
    ) -> None:
        self.stores = stores
        self.notifications = notifications
        self.notifier = notifier
        self.loader = loader
        self.history = history
        self.recent = recent
        # Per device, per room: the member events it was sent under lazy loading, so later
        # syncs send only the ones it lacks (a cache: losing it only means resending).
        self._members_sent: LruCache[tuple[str, str], dict[str, set[str]]] = LruCache(10_000)
        # The current member event of (room, user), as of an events position: every member
        # woken by a message in a large room asks for the sender's.
        self._member_events: LruCache[tuple[str, str], tuple[int, str | None]] = LruCache(
            _MEMBER_EVENTS_CACHED
        )

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
            # The PDU as federation carries it, plus its ID, which from room v3 on is not in
            # the PDU but derived from it: clients need it to refer to the event (Synapse
            # adds it too).
            return self._format(
                request, [{**i.event.data, "event_id": i.event.event_id} for i in items]
            )
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
        items = await self.history.visible(
            request.requester.user_id, items, membership, hide_ignored=True
        )
        return items, limited

    async def new_to_client(
        self, memberships: list[MembershipRecord], since: StreamToken
    ) -> set[str]:
        """The rooms where the user was not joined at `since` while their membership changed
        after it (a join or a join-and-leave, not a profile change): the client has never
        seen them. One round of queries for all the rooms."""
        changed = [m for m in memberships if m.stream_ordering > since.events]
        if not changed:
            return set()
        groups = await self.stores.events.state_groups_at(
            (m.room_id, since.events) for m in changed
        )
        user_id = changed[0].user_id
        key = (MEMBER, user_id)
        states = await self.stores.state.get_states((g for g in groups if g is not None), [key])
        before_ids = {
            m.room_id: states[g].get(key)
            for m, g in zip(changed, groups, strict=True)
            if g is not None
        }
        before = await self.loader.events(e for e in before_ids.values() if e is not None)
        return {
            m.room_id
            for m in changed
            if (event_id := before_ids.get(m.room_id)) is None
            or event_id not in before
            or before[event_id].membership != "join"
        }

    async def joined(
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
        fresh = await self.new_to_client(joined, since) if since is not None else set()
        room_since: dict[str, int | None] = {
            m.room_id: None if since is None or m.room_id in fresh else since.events for m in joined
        }
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
            candidates.append((items, membership))
            limits.append(len(rows) > limit)
        visible = await self._visible(request, candidates)
        timelines: dict[str, tuple[list[LoadedEvent], bool]] = {}
        for membership, items, limited in zip(joined, visible, limits, strict=True):
            room_id = membership.room_id
            if limited and len(items) < limit:
                # The filter or history visibility dropped some of the page, and there is
                # more: read further back.
                items, limited = await self._read_back(
                    membership, room_since[room_id] or 0, upto.events, limit, request
                )
            # A room joined since the last sync has history the client never saw: its
            # timeline is limited (as in Synapse), unlike an initial sync's.
            fresh = since is not None and room_since[room_id] is None
            timelines[room_id] = (items, limited or (fresh and bool(pages[room_id])))
        state_ids = await self._states_before_timelines(
            {r: s for r, s in room_since.items() if s is None or timelines[r][1]},
            timelines,
            upto,
            request,
        )
        # Member events in a gap's state changed the membership; those that lazy loading
        # adds below are current members the device had not been sent yet.
        members_changed = {r for r, ids in state_ids.items() if any(k[0] == MEMBER for k in ids)}
        if room_filter.lazy_load_members:
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
        # unchanged summary may be left out (spec: /sync, RoomSummary). Lazily loaded members
        # change nothing: otherwise every member woken by a new speaker in a large room
        # would recount it.
        summarised = [
            room_id
            for room_id, since_events in room_since.items()
            if since_events is None
            or room_id in members_changed
            or any(i.event.type == MEMBER for i in timelines[room_id][0])
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
            }
        await self._add_unread_counts(request, result, upto)
        new_rooms = [r for r, s in room_since.items() if s is None and since is not None]
        return result, new_rooms

    async def _add_unread_counts(
        self, request: SyncRequest, rooms: dict[str, dict[str, Any]], upto: StreamToken
    ) -> None:
        """unread_notifications of each room; with the filter's unread_thread_notifications,
        the main timeline's there and each thread's in unread_thread_notifications (spec:
        Receiving notifications, threads)."""
        counts = await self.notifications.unread_counts(
            request.requester.user_id, list(rooms), upto.events
        )
        per_thread = request.filter.room.timeline.unread_thread_notifications
        for room_id, room in rooms.items():
            threads = counts.get(room_id, {})
            if per_thread:
                room["unread_notifications"] = _counts_json(threads.get(MAIN_TIMELINE))
                room["unread_thread_notifications"] = {
                    thread: _counts_json(c)
                    for thread, c in threads.items()
                    if thread != MAIN_TIMELINE
                }
            else:
                room["unread_notifications"] = _counts_json(
                    ThreadCounts(
                        sum(c.notifications for c in threads.values()),
                        sum(c.highlights for c in threads.values()),
                    )
                )
                room["unread_thread_notifications"] = {}

    async def _visible(
        self, request: SyncRequest, batches: list[tuple[list[LoadedEvent], MembershipRecord]]
    ) -> list[list[LoadedEvent]]:
        """History visibility and ignored users for timelines. State events that are current
        state are shown even from a time the user could not see (as Synapse does): clients
        build room state from the timeline too."""
        current = await self.stores.rooms.current_among(
            [m.room_id for _, m in batches],
            [i.event.event_id for items, _ in batches for i in items if i.event.is_state],
        )
        return await self.history.visible_in_rooms(
            request.requester.user_id, batches, frozenset(current), hide_ignored=True
        )

    async def _read_back(
        self,
        membership: MembershipRecord,
        since_events: int,
        upto_events: int,
        limit: int,
        request: SyncRequest,
    ) -> tuple[list[LoadedEvent], bool]:
        """The newest `limit` events that pass the timeline filter and history visibility,
        reading back a bounded number of pages (plus one event, to know whether the
        timeline is limited)."""
        timeline_filter = request.filter.room.timeline
        version = await self.loader.room_version(membership.room_id)
        assert version is not None
        kept: list[LoadedEvent] = []
        upper = upto_events
        batch = max(50, 4 * limit)
        more = True
        for _ in range(_READ_BACK_PAGES):
            rows = await self.stores.events.room_stream_page(
                membership.room_id, since_events, upper, batch
            )
            passing = [
                i
                for i in self.loader.wrap(rows, version)
                if timeline_filter.allows_event(i.event.data)
            ]
            kept.extend((await self._visible(request, [(passing, membership)]))[0])
            more = len(rows) == batch
            if len(kept) > limit or not more:
                break
            upper = rows[-1].stream_ordering - 1
        return list(reversed(kept[:limit])), len(kept) > limit or more

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
        if request.filter.room.lazy_load_members:
            # A room new to the client gets the member events of its timeline's senders
            # only (see _lazy_members), so only those are read from its snapshot.
            fresh = [wanted for wanted in from_snapshots if wanted[2] is None]
            from_snapshots = [wanted for wanted in from_snapshots if wanted[2] is not None]
            senders = {request.requester.user_id}
            senders.update(i.event.sender for room_id, _, _ in fresh for i in timelines[room_id][0])
            if fresh:
                result.update(await self._states_from_snapshots(fresh, senders))
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
            senders = {i.event.sender for i in timeline}
            ids = state_ids.get(room_id, {})
            if room_since[room_id] is None:
                # The user's own member event comes with a room new to the client only.
                senders.add(requester.user_id)
                ids = {k: v for k, v in ids.items() if k[0] != MEMBER or k[1] in senders}
                sent[room_id] = set()
            result[room_id] = dict(ids)
            wanted.extend((room_id, s) for s in senders if (MEMBER, s) not in ids)
        for (room_id, user_id), event_id in (await self._current_member_events(wanted)).items():
            if redundant or event_id not in sent.get(room_id, ()):
                result[room_id][(MEMBER, user_id)] = event_id
        for room_id, ids in result.items():
            known = sent.setdefault(room_id, set())
            known.update(v for k, v in ids.items() if k[0] == MEMBER)
            known.update(i.event.event_id for i in timelines[room_id][0] if i.event.type == MEMBER)
        self._members_sent.put(device, sent)
        return {room_id: ids for room_id, ids in result.items() if ids}

    async def _current_member_events(
        self, pairs: list[tuple[str, str]]
    ) -> dict[tuple[str, str], str]:
        """The current member event of each (room, user) that has one: from memory until the
        events stream names the user again (each member event does), else one read."""
        index = self.notifier.changes(Stream.EVENTS)
        found: dict[tuple[str, str], str] = {}
        missing: list[tuple[str, str]] = []
        for pair in pairs:
            cached = self._member_events.get(pair)
            if cached is None or index.changed(pair[1], cached[0]):
                missing.append(pair)
            elif cached[1] is not None:
                found[pair] = cached[1]
        if missing:
            # Taken before reading: a change published meanwhile is newer and is read again.
            position = index.head
            fetched = await self.stores.rooms.current_member_events(missing)
            for pair in missing:
                self._member_events.put(pair, (position, fetched.get(pair)))
            found.update(fetched)
        return found

    async def _states_from_snapshots(
        self, wanted: list[tuple[str, int, int | None]], members: set[str] | None = None
    ) -> dict[str, dict[StateKey, str]]:
        """For each (room, position, since): the room's state at the position, minus its
        state at `since` when that is given; with `members`, only their member events."""
        positions = [(room_id, position) for room_id, position, _ in wanted]
        positions += [(room_id, since) for room_id, _, since in wanted if since is not None]
        groups = await self.stores.events.state_groups_at(positions)
        states = await self.stores.state.get_states(
            (g for g in groups if g is not None), members=members
        )
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

    async def left(
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
        new_to_client = since is None or bool(await self.new_to_client([membership], since))
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
    if timeline_filter.limit is None:
        return 10
    return min(timeline_filter.limit, MAX_PAGE)


def _counts_json(counts: ThreadCounts | None) -> dict[str, int]:
    if counts is None:
        return {"highlight_count": 0, "notification_count": 0}
    return {"highlight_count": counts.highlights, "notification_count": counts.notifications}


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
