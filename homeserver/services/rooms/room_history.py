"""Reading rooms: state, members, single events and paginated history, each filtered by
history visibility (spec: Room History Visibility) for the requesting user."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from homeserver.rules.client_format import client_event
from homeserver.rules.event_filter import EventFilter
from homeserver.rules.ignored_users import hidden_by_ignore
from homeserver.rules.redaction import pruned
from homeserver.rules.visibility import (
    HISTORY_VISIBILITY_TYPE,
    WORLD_READABLE,
    EventVisibilityFacts,
    effective_visibility,
    is_visible,
    seen_as_member,
)
from homeserver.services.accounts.ignored_users import IgnoredUsers
from homeserver.services.common.clock import Clock
from homeserver.services.rooms.event_loader import EventLoader, LoadedEvent
from homeserver.types.errors import BadRequest, Codes, Forbidden, NotFound
from homeserver.types.event import MEMBER, Event, StateKey
from homeserver.types.requester import Requester
from homeserver.types.stream_token import MAX_POSITION, StreamToken
from storage.stores import Stores
from storage.stores.rooms import MembershipRecord

END_OF_ROOM = (2**62, 2**62)
# The most events one page of history or one sync timeline carries, whatever is asked.
MAX_PAGE = 1000
_FETCH_ROUNDS = 10


def parse_room_token(raw: str) -> tuple[str, tuple[int, int] | int]:
    """`t<depth>-<stream>` (topological) or `s<stream>...` (a sync token)."""
    try:
        if raw.startswith("t"):
            depth, stream = (int(part) for part in raw[1:].split("-", 1))
            if 0 <= depth <= MAX_POSITION and 0 <= stream <= MAX_POSITION:
                return "t", (depth, stream)
        elif raw.startswith("s"):
            return "s", StreamToken.parse(raw).events
    except ValueError:
        pass
    raise BadRequest(f"Invalid pagination token {raw!r}", Codes.INVALID_PARAM)


def topological_token(depth: int, stream: int) -> str:
    return f"t{depth}-{stream}"


@dataclass(frozen=True)
class Page:
    chunk: list[dict[str, Any]]
    start: str
    end: str | None
    state: list[dict[str, Any]]


class RoomHistoryService:
    def __init__(
        self, stores: Stores, loader: EventLoader, clock: Clock, ignored: IgnoredUsers
    ) -> None:
        self.stores = stores
        self.loader = loader
        self.clock = clock
        self.ignored = ignored

    # --- visibility -------------------------------------------------------------------

    async def _facts(
        self, groups: Iterable[int | None], user_id: str
    ) -> dict[int | None, tuple[str, str | None]]:
        """History visibility and the user's membership in each snapshot, in one query."""
        keys: list[StateKey] = [(HISTORY_VISIBILITY_TYPE, ""), (MEMBER, user_id)]
        states = await self.stores.state.get_states((g for g in groups if g is not None), keys)
        events = await self.loader.events({e for ids in states.values() for e in ids.values()})
        facts: dict[int | None, tuple[str, str | None]] = {None: ("shared", None)}
        for group, ids in states.items():
            hv = events.get(ids.get((HISTORY_VISIBILITY_TYPE, ""), ""))
            member = events.get(ids.get((MEMBER, user_id), ""))
            facts[group] = (
                effective_visibility(hv.content.get("history_visibility") if hv else None),
                member.membership if member else None,
            )
        return facts

    async def visible(
        self,
        user_id: str | None,
        loaded: Sequence[LoadedEvent],
        current: MembershipRecord | None = None,
        *,
        hide_ignored: bool = False,
    ) -> list[LoadedEvent]:
        """The events the user may see; `None` is an anonymous reader (world_readable only).

        `current` is the user's membership in the room when the caller already has it.
        `hide_ignored` also drops what users the reader ignores sent (spec: Ignoring Users):
        streams of events do, while a single event asked for by its ID stays readable.
        """
        if not loaded:
            return []
        if current is None and user_id:
            current = await self.stores.rooms.membership(loaded[0].event.room_id, user_id)
        return (
            await self.visible_in_rooms(user_id, [(loaded, current)], hide_ignored=hide_ignored)
        )[0]

    async def visible_in_rooms(
        self,
        user_id: str | None,
        batches: Sequence[tuple[Sequence[LoadedEvent], MembershipRecord | None]],
        always: frozenset[str] = frozenset(),
        *,
        hide_ignored: bool = False,
    ) -> list[list[LoadedEvent]]:
        """`visible` for the events of many rooms, each with the user's current membership
        there, looking up the state they need in one go. Events in `always` are kept
        whatever the history visibility. An erased user's events that the reader sees only
        through the history visibility, not as a member then, come redacted."""
        if hide_ignored and user_id and any(loaded for loaded, _ in batches):
            ignored = await self.ignored.of(user_id)
            if ignored:
                batches = [
                    ([i for i in loaded if not hidden_by_ignore(i.event, ignored)], current)
                    for loaded, current in batches
                ]
        undecided: list[LoadedEvent] = []
        joined_since: list[int | None] = []
        for loaded, current in batches:
            joined_now = current is not None and current.membership == "join"
            # Everything since the user's current join was sent while they were joined
            # (rule 2): a member reading recent history needs no state lookups.
            since = current.stream_ordering if joined_now and current else None
            joined_since.append(since)
            undecided.extend(
                i
                for i in loaded
                if (since is None or i.stream_ordering < since) and i.event.event_id not in always
            )
        allowed: set[str] = set()
        # Visible only through the room's history visibility, not the reader's membership.
        by_history: list[LoadedEvent] = []
        if undecided:
            reader = user_id or ""
            prev_groups = await self._prev_groups(undecided)
            facts = await self._facts(
                [i.state_group for i in undecided] + list(prev_groups.values()), reader
            )
            joined_rooms = {
                current.room_id
                for _, current in batches
                if current is not None and current.membership == "join"
            }
            for item in undecided:
                event = item.event
                after = facts[item.state_group]
                before = after
                if event.state_key is not None and (
                    event.type == HISTORY_VISIBILITY_TYPE or event.state_key == user_id
                ):
                    before = facts[prev_groups.get(event.event_id)]
                visibility = EventVisibilityFacts(
                    visibility_before=before[0],
                    membership_before=before[1],
                    visibility_after=after[0],
                    membership_after=after[1],
                    joined_later=event.room_id in joined_rooms,
                )
                if is_visible(visibility):
                    allowed.add(event.event_id)
                    if not seen_as_member(visibility):
                        by_history.append(item)
        erased = await self._erased_senders_pruned(by_history)
        return [
            [
                erased.get(item.event.event_id, item)
                for item in loaded
                if (since is not None and item.stream_ordering >= since)
                or item.event.event_id in allowed
                or item.event.event_id in always
            ]
            for (loaded, _), since in zip(batches, joined_since, strict=True)
        ]

    async def _erased_senders_pruned(self, items: Sequence[LoadedEvent]) -> dict[str, LoadedEvent]:
        """Redacted copies of those of `items` whose senders were erased."""
        if not items:
            return {}
        erased = await self.stores.users.erased_among({i.event.sender for i in items})
        return {
            i.event.event_id: replace(i, event=pruned(i.event))
            for i in items
            if i.event.sender in erased
        }

    async def _prev_groups(self, loaded: Sequence[LoadedEvent]) -> dict[str, int | None]:
        """State before each state event: the snapshot of its (first) prev event."""
        if not loaded:
            return {}
        wanted = {
            item.event.event_id: item.event.prev_event_ids[0]
            for item in loaded
            if item.event.state_key is not None and item.event.prev_event_ids
        }
        prevs = await self.loader.load_many(wanted.values())
        return {e: prevs[p].state_group if p in prevs else None for e, p in wanted.items()}

    # --- serialisation ----------------------------------------------------------------

    async def serialize(
        self, loaded: Iterable[LoadedEvent], requester: Requester | None
    ) -> list[dict[str, Any]]:
        items = list(loaded)
        redactions = await self.loader.events(i.redacted_by for i in items if i.redacted_by)
        txns = {}
        if requester is not None:
            mine = [i.event.event_id for i in items if i.event.sender == requester.user_id]
            if mine:
                txns = await self.stores.events.txn_ids_for(
                    mine, requester.user_id, requester.device_id
                )
        now = self.clock.time_ms()
        return [
            client_event(
                i.event,
                now_ms=now,
                redacted_because=redactions.get(i.redacted_by or ""),
                transaction_id=txns.get(i.event.event_id),
            )
            for i in items
        ]

    # --- reads ------------------------------------------------------------------------

    async def _require_version(self, room_id: str) -> None:
        if await self.loader.room_version(room_id) is None:
            raise Forbidden("You are not in this room")

    async def state_snapshot(self, room_id: str, user_id: str) -> dict[StateKey, str]:
        """The state the user may see: current while joined, as it was when they left,
        or current for world-readable rooms."""
        await self._require_version(room_id)
        membership = await self.stores.rooms.membership(room_id, user_id)
        if membership is not None and membership.membership == "join":
            return await self.stores.rooms.current_state_ids(room_id)
        if membership is not None and membership.membership in ("leave", "ban"):
            loaded = await self.loader.load(membership.event_id)
            if loaded.state_group is not None:
                return await self.stores.state.get_state(loaded.state_group)
        if await self._world_readable(room_id):
            return await self.stores.rooms.current_state_ids(room_id)
        raise Forbidden("You are not allowed to see the state of this room")

    async def _world_readable(self, room_id: str) -> bool:
        ids = await self.stores.rooms.current_state_ids(room_id, [(HISTORY_VISIBILITY_TYPE, "")])
        hv_id = ids.get((HISTORY_VISIBILITY_TYPE, ""))
        if hv_id is None:
            return False
        hv = (await self.loader.load(hv_id)).event
        return effective_visibility(hv.content.get("history_visibility")) == WORLD_READABLE

    async def _check_may_read(self, room_id: str, user_id: str) -> None:
        """Members, past members and, in a world-readable room, anyone may look for events
        in a room; others are refused outright (403, as Synapse does), while an event a
        reader may not see is "not found" (spec: /context)."""
        membership = await self.stores.rooms.membership(room_id, user_id)
        if membership is not None and membership.membership in ("join", "leave", "ban"):
            return
        if not await self._world_readable(room_id):
            raise Forbidden("You are not in this room")

    async def state_events(self, room_id: str, requester: Requester) -> list[dict[str, Any]]:
        ids = await self.state_snapshot(room_id, requester.user_id)
        loaded = await self.loader.load_many(ids.values())
        return await self.serialize(loaded.values(), requester)

    async def state_event(
        self, room_id: str, requester: Requester, event_type: str, state_key: str
    ) -> Event:
        ids = await self.state_snapshot(room_id, requester.user_id)
        event_id = ids.get((event_type, state_key))
        if event_id is None:
            raise NotFound("No such state event")
        return (await self.loader.load(event_id)).event

    async def members(
        self,
        room_id: str,
        requester: Requester,
        *,
        at: str | None,
        membership: str | None,
        not_membership: str | None,
    ) -> list[dict[str, Any]]:
        ids = await self.state_snapshot(room_id, requester.user_id)
        if at is not None:
            position = await self._resolve_token(room_id, at)
            rows = await self.stores.events.room_events_page(
                room_id,
                from_position=position,
                to_position=None,
                backwards=True,
                limit=1,
            )
            if rows and rows[0].state_group is not None:
                ids = await self.stores.state.get_state_of_type(rows[0].state_group, MEMBER)
        member_ids = [e for (t, _), e in ids.items() if t == MEMBER]
        loaded = list((await self.loader.load_many(member_ids)).values())
        chosen = [
            i
            for i in loaded
            if (membership is None or i.event.membership == membership)
            and (not_membership is None or i.event.membership != not_membership)
        ]
        return await self.serialize(chosen, requester)

    async def joined_rooms(self, user_id: str) -> list[str]:
        return await self.stores.rooms.rooms_for_user(user_id)

    async def joined_members(self, room_id: str, requester: Requester) -> dict[str, Any]:
        current = await self.stores.rooms.membership(room_id, requester.user_id)
        if current is None or current.membership != "join":
            raise Forbidden("You are not in this room")
        members = await self.stores.rooms.members(room_id, ["join"])
        return {
            m.user_id: {"display_name": m.display_name, "avatar_url": m.avatar_url} for m in members
        }

    async def event(self, room_id: str, event_id: str, requester: Requester) -> dict[str, Any]:
        loaded = (await self.loader.load_many([event_id])).get(event_id)
        if loaded is None or loaded.event.room_id != room_id or loaded.rejected:
            raise NotFound("Event not found")
        if not await self.visible(requester.user_id, [loaded]):
            raise NotFound("Event not found")
        return (await self.serialize([loaded], requester))[0]

    async def _resolve_token(self, room_id: str, raw: str) -> tuple[int, int]:
        kind, value = parse_room_token(raw)
        if kind == "t":
            assert isinstance(value, tuple)
            return value
        assert isinstance(value, int)
        position = await self.stores.events.position_at(room_id, value)
        # The gap just after the last event at or before the stream position.
        return (position[0], position[1] + 1) if position else (0, 0)

    async def messages(
        self,
        room_id: str,
        requester: Requester,
        *,
        from_token: str | None,
        to_token: str | None,
        backwards: bool,
        limit: int,
        event_filter: EventFilter,
    ) -> Page:
        await self._require_version(room_id)
        membership = await self.stores.rooms.membership(room_id, requester.user_id)
        if from_token is None:
            start = END_OF_ROOM if backwards else (0, 0)
        else:
            start = await self._resolve_token(room_id, from_token)
        if membership is not None and membership.membership in ("leave", "ban"):
            # Nothing after the user left is visible; start from there going backwards.
            left = await self.loader.load(membership.event_id)
            if backwards:
                start = min(start, (left.depth, left.stream_ordering + 1))
        end_bound = await self._resolve_token(room_id, to_token) if to_token else None
        limit = max(1, min(limit, MAX_PAGE))
        chunk: list[LoadedEvent] = []
        position = start
        exhausted = False
        version = await self.loader.room_version(room_id)
        assert version is not None
        for _ in range(_FETCH_ROUNDS):
            rows = await self.stores.events.room_events_page(
                room_id,
                from_position=position,
                to_position=end_bound,
                backwards=backwards,
                limit=limit * 2,
            )
            if not rows:
                exhausted = True
                break
            last = rows[-1]
            position = (
                (last.depth, last.stream_ordering)
                if backwards
                else (last.depth, last.stream_ordering + 1)
            )
            batch = [
                i
                for i in self.loader.wrap(rows, version)
                if event_filter.allows_event(i.event.data)
            ]
            chunk.extend(await self.visible(requester.user_id, batch, hide_ignored=True))
            if len(rows) < limit * 2:
                exhausted = True
                break
            if len(chunk) >= limit:
                break
        chunk = chunk[:limit]
        # `end` is left out only when nothing is left: the spec also allows leaving it out
        # with the last page, but Synapse keeps it there and SyTest expects that.
        end = None
        if chunk:
            last_item = chunk[-1]
            step = 0 if backwards else 1
            end = topological_token(last_item.depth, last_item.stream_ordering + step)
        elif not exhausted:
            # Everything read so far was filtered out, but there is more to read.
            end = topological_token(*position)
        state: list[dict[str, Any]] = []
        if event_filter.lazy_load_members and chunk:
            senders = {i.event.sender for i in chunk}
            ids = await self.state_snapshot(room_id, requester.user_id)
            member_ids = [ids[(MEMBER, s)] for s in senders if (MEMBER, s) in ids]
            state = await self.serialize(
                (await self.loader.load_many(member_ids)).values(), requester
            )
        start_token = from_token or topological_token(*start)
        return Page(await self.serialize(chunk, requester), start_token, end, state)

    async def context(
        self,
        room_id: str,
        event_id: str,
        requester: Requester,
        *,
        limit: int,
        event_filter: EventFilter,
    ) -> dict[str, Any]:
        """The event with up to limit/2 visible events either side, and the state at it."""
        await self._check_may_read(room_id, requester.user_id)
        loaded = (await self.loader.load_many([event_id])).get(event_id)
        if loaded is None or loaded.event.room_id != room_id or loaded.rejected:
            raise NotFound("Event not found")
        if not await self.visible(requester.user_id, [loaded]):
            raise NotFound("Event not found")
        version = loaded.event.room_version
        half = max(0, min(limit, MAX_PAGE)) // 2
        around: dict[bool, list[LoadedEvent]] = {}
        for backwards in (True, False):
            start = (loaded.depth, loaded.stream_ordering + (0 if backwards else 1))
            rows = await self.stores.events.room_events_page(
                room_id,
                from_position=start,
                to_position=None,
                backwards=backwards,
                limit=half * 2 + 1,
            )
            batch = [
                i
                for i in self.loader.wrap(rows, version)
                if event_filter.allows_event(i.event.data)
            ]
            around[backwards] = (await self.visible(requester.user_id, batch, hide_ignored=True))[
                :half
            ]
        before, after = around[True], around[False]
        first = before[-1] if before else loaded
        last = after[-1] if after else loaded
        state_ids = (
            await self.stores.state.get_state(loaded.state_group)
            if loaded.state_group is not None
            else {}
        )
        if event_filter.lazy_load_members:
            senders = {i.event.sender for i in (*before, loaded, *after)}
            state_ids = {k: v for k, v in state_ids.items() if k[0] != MEMBER or k[1] in senders}
        state = await self.loader.load_many(state_ids.values())
        return {
            "event": (await self.serialize([loaded], requester))[0],
            "events_before": await self.serialize(before, requester),
            "events_after": await self.serialize(after, requester),
            "start": topological_token(first.depth, first.stream_ordering),
            "end": topological_token(last.depth, last.stream_ordering + 1),
            "state": await self.serialize(state.values(), requester),
        }

    async def event_at_timestamp(
        self, room_id: str, requester: Requester, ts: int, forwards: bool
    ) -> dict[str, Any]:
        version = await self.loader.room_version(room_id)
        if version is None:
            raise NotFound("Unknown room")
        rows = await self.stores.events.closest_to_ts(room_id, ts, forwards, 50)
        visible = await self.visible(requester.user_id, self.loader.wrap(rows, version))
        if not visible:
            raise NotFound("No event found in that direction")
        event = visible[0].event
        return {"event_id": event.event_id, "origin_server_ts": event.origin_server_ts}

    async def report(
        self,
        room_id: str,
        requester: Requester,
        event_id: str | None,
        reason: str | None,
        score: int | None,
    ) -> None:
        if event_id is not None:
            await self.event(room_id, event_id, requester)
        elif await self.loader.room_version(room_id) is None:
            raise NotFound("Unknown room")
        await self.stores.reports.add(
            requester.user_id, room_id, event_id, reason, score, self.clock.time_ms()
        )
