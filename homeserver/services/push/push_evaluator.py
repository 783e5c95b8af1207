"""Push-rule evaluation of every event, off the send path.

The evaluator follows the events stream in order. Each time the stream publishes, it reads
the new events, evaluates each for the room's local members (and an invitee for their
invite), and stores the notifying actions together with the position it reached, in one
transaction; then it tells delivery whom to push to. A send therefore costs nothing more
whatever the room's size, and a sync that is about to report counts first waits until the
evaluator has reached its token (`caught_up`), so the counts in a response always include
the events in it. After a crash the evaluator resumes from the position it recorded; rows
written twice are kept once.

Per-room facts (local members with their display names, the joined count, the power
levels) are kept between events and dropped when the stream carries a member, power
levels or create event for the room: every change to them is such an event, and the
evaluator sees them in stream order.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import structlog
from prometheus_client import Counter, Histogram

from homeserver.rules.power_levels import PowerLevels, as_int
from homeserver.rules.push.evaluator import EventFacts, MemberFacts, evaluate_for_members
from homeserver.rules.push.ruleset import PushRuleSet
from homeserver.services.accounts.ignored_users import IgnoredUsers
from homeserver.services.common.lru_cache import LruCache
from homeserver.services.common.periodic import cancel_and_wait
from homeserver.services.push.push_rules import PushRuleService
from homeserver.services.push.unread_counts import UnreadCountCache
from homeserver.services.rooms.event_loader import EventLoader, LoadedEvent
from homeserver.streams.notifier import StreamNotifier
from homeserver.streams.writer import StreamWriter
from homeserver.types.event import MEMBER, Event
from homeserver.types.stream_token import Stream
from storage.stores import Stores
from storage.stores.push_actions import MAIN_TIMELINE, EventNotifications

log = structlog.get_logger(__name__)

EVALUATED = Counter("homeserver_push_events_evaluated_total", "Events evaluated for push")
NOTIFICATIONS = Counter("homeserver_push_notifications_total", "Notifying push actions stored")
BATCH_SECONDS = Histogram(
    "homeserver_push_evaluation_batch_seconds",
    "Time to evaluate and store one batch of events",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)

V = TypeVar("V")

_BATCH = 200
_ROOMS_CACHED = 5_000
_RETRY_S = 1.0
_POWER_LEVELS = "m.room.power_levels"
_CREATE = "m.room.create"
_FACT_TYPES = frozenset((MEMBER, _POWER_LEVELS, _CREATE))
_THREAD = "m.thread"


@dataclass(slots=True)
class _RoomFacts:
    local_members: list[MemberFacts]
    member_ids: frozenset[str]
    joined_count: int
    power_levels: PowerLevels
    # The local members' push rules, and whom those who ignore anyone ignore.
    rulesets: _MemberValues[PushRuleSet] = field(default_factory=lambda: _MemberValues())
    ignoring: _MemberValues[frozenset[str]] = field(default_factory=lambda: _MemberValues())


@dataclass(slots=True)
class _MemberValues(Generic[V]):
    """A value per member, read for all of them once and then, for each event, again only
    for the members a stream named since (a room of 1,000 costs the changes, not 1,000
    cache look-ups per event)."""

    values: dict[str, V] = field(default_factory=dict)
    as_of: int | None = None


class PushEvaluator:
    def __init__(
        self,
        stores: Stores,
        loader: EventLoader,
        push_rules: PushRuleService,
        ignored: IgnoredUsers,
        events_writer: StreamWriter,
        notifier: StreamNotifier,
        server_name: str,
        unread_counts: UnreadCountCache,
    ) -> None:
        self.notifier = notifier
        self.unread_counts = unread_counts
        self.stores = stores
        self.loader = loader
        self.push_rules = push_rules
        self.ignored = ignored
        self.writer = events_writer
        self._local_suffix = ":" + server_name
        self._rooms: LruCache[str, _RoomFacts] = LruCache(_ROOMS_CACHED)
        self._done = 0
        self._target = 0
        self._wake = asyncio.Event()
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[set[str]], None]] = []
        events_writer.subscribe(self._published)

    def on_notified(self, callback: Callable[[set[str]], None]) -> None:
        """`callback` gets the users with new notifications once they are stored."""
        self._listeners.append(callback)

    @property
    def published_upto(self) -> int:
        """The newest events position published: `caught_up(published_upto)` waits for
        every event that any reader could have seen."""
        return self._target

    async def start(self) -> None:
        """Resume from the recorded position: events persisted but not evaluated before a
        crash or a stop are evaluated first."""
        self._done = await self.stores.push_actions.evaluated_upto()
        self._target = max(self._target, self.writer.current)
        self._task = asyncio.create_task(self._run(), name="push-evaluator")
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
        for _, future in self._waiters:
            if not future.done():
                future.set_result(None)
        self._waiters.clear()

    async def caught_up(self, position: int, timeout_s: float = 10.0) -> None:
        """Wait until every event up to `position` is evaluated (bounded: a stuck evaluator
        delays counts, never a sync for good)."""
        if self._done >= position or self._task is None:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((position, future))
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout_s)
        except TimeoutError:
            log.warning("push evaluation lagging", wanted=position, reached=self._done)

    def _published(self, position: int) -> None:
        self._target = max(self._target, position)
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._done < self._target:
                try:
                    await self._step(self._target)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # The database may be away: nothing is skipped, the batch is retried.
                    log.exception("push evaluation failed; retrying")
                    await asyncio.sleep(_RETRY_S)

    async def _step(self, target: int) -> None:
        started = asyncio.get_running_loop().time()
        rows = await self.stores.events.stream_range(self._done, target, _BATCH)
        reached = rows[-1].stream_ordering if len(rows) == _BATCH else target
        notified: list[EventNotifications] = []
        members_changed: list[tuple[str, str]] = []
        for row in rows:
            version = await self.loader.room_version(row.room_id)
            if version is None:
                continue
            [loaded] = self.loader.wrap([row], version)
            try:
                event_notifications = await self._evaluate(loaded)
                if event_notifications is not None:
                    notified.append(event_notifications)
            except Exception:
                # One event that cannot be evaluated must not hold up every later one.
                log.exception("push evaluation of an event failed", event_id=row.event_id)
            event = loaded.event
            if event.type in _FACT_TYPES and event.state_key is not None:
                self._rooms.pop(row.room_id)
                if event.type == MEMBER:
                    members_changed.append((event.state_key, row.room_id))
        with self.unread_counts.changing():
            await self.stores.push_actions.add(notified, reached)
            self._done = reached
            self.unread_counts.add(notified)
            # Joining counts as having read what came before.
            for user_id, room_id in members_changed:
                self.unread_counts.forget(user_id, room_id)
        EVALUATED.inc(len(rows))
        NOTIFICATIONS.inc(sum(len(n.recipients) for n in notified))
        BATCH_SECONDS.observe(asyncio.get_running_loop().time() - started)
        self._release_waiters()
        if notified:
            users = {user_id for n in notified for user_id, _, _ in n.recipients}
            for listener in self._listeners:
                listener(users)

    def _release_waiters(self) -> None:
        still: list[tuple[int, asyncio.Future[None]]] = []
        for position, future in self._waiters:
            if position <= self._done or future.done():
                if not future.done():
                    future.set_result(None)
            else:
                still.append((position, future))
        self._waiters = still

    async def _evaluate(self, loaded: LoadedEvent) -> EventNotifications | None:
        event = loaded.event
        room_id, sender = event.room_id, event.sender
        facts = await self._room_facts(room_id)
        ignoring = await self._current(
            facts, facts.ignoring, Stream.ACCOUNT_DATA, self.ignored.of_many, keep=bool
        )
        members = [
            m
            for m in facts.local_members
            if m.user_id != sender and sender not in ignoring.get(m.user_id, ())
        ]
        rulesets = await self._current(
            facts, facts.rulesets, Stream.PUSH_RULES, self.push_rules.rulesets
        )
        invitee = self._local_invitee(event)
        if (
            invitee is not None
            and invitee not in facts.member_ids
            and sender not in await self.ignored.of(invitee)
        ):
            members.append(MemberFacts(invitee, None))
            rulesets = {**rulesets, invitee: await self.push_rules.ruleset(invitee)}
        if not members:
            return None
        sender_level = facts.power_levels.user_level(sender)
        event_facts = EventFacts.build(
            event.data,
            room_member_count=facts.joined_count,
            sender_power_level=int(sender_level) if math.isfinite(sender_level) else 2**62,
            notification_levels=_notification_levels(facts.power_levels),
        )
        results = evaluate_for_members(event_facts, [(rulesets[m.user_id], m) for m in members])
        recipients: list[tuple[str, bool, Sequence[Any]]] = [
            (member.user_id, result.summary.highlight, result.actions)
            for member, result in zip(members, results, strict=True)
            if result is not None and result.summary.notify
        ]
        if not recipients:
            return None
        return EventNotifications(
            room_id,
            event.event_id,
            loaded.stream_ordering,
            await self._thread_of(event),
            event.origin_server_ts,
            recipients,
        )

    async def _current(
        self,
        facts: _RoomFacts,
        per_member: _MemberValues[V],
        stream: Stream,
        read_many: Callable[[list[str]], Awaitable[dict[str, V]]],
        keep: Callable[[V], bool] = lambda _: True,
    ) -> dict[str, V]:
        """The members' values, re-reading those of the members `stream` named since they
        were read (all of them the first time, or when the stream's index cannot tell)."""
        index = self.notifier.changes(stream)
        head = index.head
        changed = None if per_member.as_of is None else index.changed_since(per_member.as_of)
        if changed is None:
            stale = list(facts.member_ids)
        else:
            stale = [user_id for user_id in changed if user_id in facts.member_ids]
        if stale:
            read = await read_many(stale)
            for user_id in stale:
                if keep(read[user_id]):
                    per_member.values[user_id] = read[user_id]
                else:
                    per_member.values.pop(user_id, None)
        per_member.as_of = head
        return per_member.values

    def _local_invitee(self, event: Event) -> str | None:
        if (
            event.type == MEMBER
            and event.state_key is not None
            and event.state_key.endswith(self._local_suffix)
            and event.content.get("membership") == "invite"
        ):
            return event.state_key
        return None

    async def _room_facts(self, room_id: str) -> _RoomFacts:
        cached = self._rooms.get(room_id)
        if cached is not None:
            return cached
        joined = await self.stores.rooms.members(room_id, ["join"])
        ids = await self.stores.rooms.current_state_ids(
            room_id, [(_POWER_LEVELS, ""), (_CREATE, "")]
        )
        events = await self.loader.events(ids.values())
        version = await self.loader.room_version(room_id)
        assert version is not None
        power = PowerLevels(
            version,
            events.get(ids.get((_POWER_LEVELS, ""), "")),
            events.get(ids.get((_CREATE, ""), "")),
        )
        local = [
            MemberFacts(m.user_id, m.display_name)
            for m in joined
            if m.user_id.endswith(self._local_suffix)
        ]
        facts = _RoomFacts(
            local_members=local,
            member_ids=frozenset(m.user_id for m in local),
            joined_count=len(joined),
            power_levels=power,
        )
        self._rooms.put(room_id, facts)
        return facts

    async def _thread_of(self, event: Event) -> str:
        """The thread an event belongs to: a thread reply's root; an event relating to one
        in a thread (an edit, a reaction) that thread; otherwise the main timeline."""
        relation = event.content.get("m.relates_to")
        if not isinstance(relation, dict) or not isinstance(relation.get("event_id"), str):
            return MAIN_TIMELINE
        if relation.get("rel_type") == _THREAD:
            return str(relation["event_id"])
        parent = (await self.loader.events([relation["event_id"]])).get(relation["event_id"])
        if parent is None or parent.room_id != event.room_id:
            return MAIN_TIMELINE
        parent_relation = parent.content.get("m.relates_to")
        if (
            isinstance(parent_relation, dict)
            and parent_relation.get("rel_type") == _THREAD
            and isinstance(parent_relation.get("event_id"), str)
        ):
            return str(parent_relation["event_id"])
        return MAIN_TIMELINE


def _notification_levels(power: PowerLevels) -> dict[str, int]:
    """The power needed to trigger each kind of notification: `room` (@room) is 50 unless
    the power levels say otherwise (values read as the room version reads levels)."""
    levels = {"room": 50}
    raw = power.content.get("notifications")
    if isinstance(raw, Mapping):
        for key, value in raw.items():
            level = as_int(value, power.room_version)
            if level is not None:
                levels[key] = level
    return levels
