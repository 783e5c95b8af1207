"""Delivery of notifications to push gateways (spec: Push Notifications, Push Gateway API).

Durable and in order per pusher: a pusher sends its user's notifications after its
position (`pushers.last_stream_ordering`) oldest first, one request each, and advances the
position after each success. A restart resumes at the position: a notification may be
sent twice after a crash (gateways drop duplicates by event ID), never skipped.
Notifications the user has already read by the time they would be sent are skipped, as
in Synapse. Delivery relies on push actions being stored in stream order (the evaluator
stores them batch after batch in order), so nothing appears behind a position.

Nothing here is awaited by the paths that create work: `on_new_actions` (the evaluator)
and `on_read` (receipts) only mark users. One task turns marked users into their pushers
(one query per batch of users) and a fixed pool of `max_concurrent` workers delivers to
one pusher each at a time. What is held in memory is per user or per pusher with work
(a mark, a retry timer), never per notification, so a backlog costs rows in Postgres,
not memory. A pusher with a long backlog goes to the back of the queue after each page,
so it cannot hold up others. A failing gateway puts its pusher on a timer (exponential
backoff); others are not delayed. After failing for a day, a pusher gives up on the
notification it is stuck on and moves on (Synapse does the same: a gateway fixed after
long makes no flood of stale notifications).
"""

from __future__ import annotations

import asyncio
import enum
import itertools
from collections.abc import Iterable
from dataclasses import dataclass

import structlog
from prometheus_client import Counter, Histogram

from homeserver.outbound import Backoff, OutboundClient, OutboundError
from homeserver.services.common.clock import Clock
from homeserver.services.common.lru_cache import LruCache
from homeserver.services.push.push_context import badge_count, room_context
from homeserver.services.push.push_gateway import (
    EVENT_ID_ONLY,
    RoomContext,
    badge_notification,
    event_notification,
    notifies,
    notify,
)
from homeserver.services.rooms.event_loader import EventLoader, LoadedEvent
from storage.stores import Stores
from storage.stores.push_actions import PushActionRow
from storage.stores.pushers import PusherDelivery, PusherKey, PusherRecord

log = structlog.get_logger(__name__)

SENT = Counter("homeserver_push_sent_total", "Notifications accepted by push gateways")
FAILED = Counter("homeserver_push_failed_total", "Notification sends that failed (retried)")
GIVEN_UP = Counter("homeserver_push_given_up_total", "Notifications dropped after failing a day")
BADGES_SENT = Counter("homeserver_push_badges_sent_total", "Badge-only updates sent")
BADGES_FAILED = Counter("homeserver_push_badges_failed_total", "Badge-only updates that failed")
REJECTED = Counter("homeserver_push_pushkeys_rejected_total", "Pushers removed: pushkey rejected")
GATEWAY_SECONDS = Histogram(
    "homeserver_push_gateway_request_seconds",
    "Time a push gateway took to answer",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

_USERS_PER_LOOKUP = 500
_LAST_BADGES_KEPT = 100_000
_LOOKUP_RETRY_S = 1.0


class _Work(enum.IntFlag):
    NONE = 0
    NOTIFY = 1
    BADGE = 2


class _Outcome(enum.Enum):
    SENT = enum.auto()
    SKIPPED = enum.auto()
    REJECTED = enum.auto()
    FAILED = enum.auto()


@dataclass(frozen=True, slots=True)
class _PageFacts:
    badge: int
    events: dict[str, LoadedEvent]
    contexts: dict[tuple[str, str], RoomContext]


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    enabled: bool = True
    include_content: bool = True
    group_unread_count_by_room: bool = True
    max_concurrent: int = 50
    retry_initial_s: float = 1.0
    retry_max_s: float = 3600.0
    give_up_after_ms: int = 24 * 60 * 60 * 1000
    page_size: int = 20


class PushDelivery:
    def __init__(
        self,
        stores: Stores,
        loader: EventLoader,
        client: OutboundClient,
        clock: Clock,
        settings: DeliverySettings,
    ) -> None:
        self.stores = stores
        self.loader = loader
        self.client = client
        self.clock = clock
        self.settings = settings
        self._marked_users: dict[str, _Work] = {}
        self._users_marked = asyncio.Event()
        self._queue: asyncio.Queue[PusherKey] = asyncio.Queue()
        self._queued: dict[PusherKey, _Work] = {}
        # Pushers a worker holds, with the work marked for them meanwhile.
        self._busy: dict[PusherKey, _Work] = {}
        self._timers: dict[PusherKey, asyncio.TimerHandle] = {}
        self._backoff: Backoff[PusherKey] = Backoff(settings.retry_initial_s, settings.retry_max_s)
        self._last_badges: LruCache[PusherKey, int] = LruCache(_LAST_BADGES_KEPT)
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def pending(self) -> int:
        """Users and pushers with work marked, in hand or waiting for a retry."""
        return len(self._marked_users) + len(self._queued) + len(self._busy) + len(self._timers)

    def start(self) -> None:
        if not self.settings.enabled or self._tasks:
            return
        self._tasks.append(asyncio.create_task(self._resume(), name="push-resume"))
        self._tasks.append(asyncio.create_task(self._find_pushers(), name="push-lookup"))
        for number in range(self.settings.max_concurrent):
            self._tasks.append(asyncio.create_task(self._worker(), name=f"push-{number}"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    def on_new_actions(self, user_ids: Iterable[str]) -> None:
        """The users have new notifications stored (called after they commit)."""
        self._mark_users(user_ids, _Work.NOTIFY)

    def on_read(self, user_id: str) -> None:
        """The user sent a read receipt: their badge may have gone down."""
        self._mark_users((user_id,), _Work.BADGE)

    def _mark_users(self, user_ids: Iterable[str], work: _Work) -> None:
        if not self.settings.enabled:
            return
        for user_id in user_ids:
            self._marked_users[user_id] = self._marked_users.get(user_id, _Work.NONE) | work
        self._users_marked.set()

    def _mark(self, key: PusherKey, work: _Work) -> None:
        if key in self._timers:
            # Failing: the timer retries its notifications, and badges are best-effort.
            return
        if key in self._busy:
            self._busy[key] |= work
        elif key in self._queued:
            self._queued[key] |= work
        else:
            self._queued[key] = work
            self._queue.put_nowait(key)

    async def _resume(self) -> None:
        """After a start, every pusher behind its user's notifications has work."""
        while True:
            try:
                keys = await self.stores.pushers.with_undelivered()
                break
            except Exception:
                log.exception("cannot list pushers with undelivered notifications; retrying")
                await asyncio.sleep(_LOOKUP_RETRY_S)
        for key in keys:
            self._mark(key, _Work.NOTIFY)

    async def _find_pushers(self) -> None:
        while True:
            await self._users_marked.wait()
            self._users_marked.clear()
            while self._marked_users:
                users = list(itertools.islice(self._marked_users, _USERS_PER_LOOKUP))
                batch = {user_id: self._marked_users.pop(user_id) for user_id in users}
                try:
                    pushers = await self.stores.pushers.for_users(batch)
                except Exception:
                    log.exception("cannot look pushers up; retrying")
                    for user_id, work in batch.items():
                        self._marked_users[user_id] = (
                            self._marked_users.get(user_id, _Work.NONE) | work
                        )
                    await asyncio.sleep(_LOOKUP_RETRY_S)
                    continue
                for pusher in pushers:
                    if pusher.kind == "http":
                        self._mark(_key(pusher), batch[pusher.user_id])

    async def _worker(self) -> None:
        while True:
            key = await self._queue.get()
            work = self._queued.pop(key, _Work.NONE)
            self._busy[key] = _Work.NONE
            try:
                await self._process(key, work)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The database may be away: try the pusher again later.
                log.exception("push delivery failed", user_id=key.user_id, app_id=key.app_id)
                self._retry_later(key)
            finally:
                more = self._busy.pop(key)
                if more:
                    self._mark(key, more)

    async def _process(self, key: PusherKey, work: _Work) -> None:
        state = await self.stores.pushers.delivery(key)
        if state is None or state.pusher.kind != "http":
            self._forget(key)
            return
        if work & _Work.NOTIFY:
            caught_up = await self._deliver_page(state)
            if caught_up is None:
                return
            if not caught_up:
                # More to send: back of the queue, the badge with the last of it.
                self._busy[key] |= _Work.NOTIFY | (work & _Work.BADGE)
                return
        if work & _Work.BADGE:
            await self._send_badge(state.pusher)

    async def _deliver_page(self, state: PusherDelivery) -> bool | None:
        """Send the next page of the pusher's notifications. True: nothing left; False:
        more to send; None: stopped (failing, or the pusher is gone)."""
        key, pusher = state.key, state.pusher
        page = await self.stores.push_actions.after_with_read(
            pusher.user_id, state.last_stream_ordering, self.settings.page_size
        )
        wanted = [item.row for item in page if not item.read and notifies(item.row.actions)]
        batch = await self._page_facts(pusher, wanted)
        skipped_to: int | None = None
        for item in page:
            row = item.row
            outcome = await self._send(pusher, row, batch) if row in wanted else None
            if outcome is None or outcome is _Outcome.SKIPPED:
                skipped_to = row.stream_ordering
                continue
            now = self.clock.time_ms()
            if outcome is _Outcome.FAILED:
                failing_since = await self.stores.pushers.record_failure(key, now)
                if failing_since is None:
                    self._forget(key)
                    return None
                if now - failing_since < self.settings.give_up_after_ms:
                    self._retry_later(key)
                    return None
                log.warning("giving up on a notification", user_id=key.user_id, app_id=key.app_id)
                GIVEN_UP.inc()
                self._backoff.succeeded(key)
                if not await self.stores.pushers.advance(
                    key, row.stream_ordering, clear_failure=True
                ):
                    self._forget(key)
                    return None
                skipped_to = None
                continue
            self._backoff.succeeded(key)
            skipped_to = None
            if not await self.stores.pushers.advance(key, row.stream_ordering, succeeded_ts=now):
                self._forget(key)
                return None
            if outcome is _Outcome.REJECTED:
                await self._remove(pusher)
                return None
        if skipped_to is not None:
            await self.stores.pushers.advance(key, skipped_to)
        return len(page) < self.settings.page_size

    async def _page_facts(self, pusher: PusherRecord, rows: list[PushActionRow]) -> _PageFacts:
        """What the page's notifications need, read once for the page rather than once per
        notification: the badge (it counts every unread notification stored, sent or not,
        so it is the same for the whole page unless the user reads meanwhile, and a read
        sends its own badge update) and the events."""
        if not rows:
            return _PageFacts(0, {}, {})
        loaded, badge = await asyncio.gather(
            self.loader.load_many([row.event_id for row in rows]),
            badge_count(
                self.stores,
                pusher.user_id,
                group_by_room=self.settings.group_unread_count_by_room,
            ),
        )
        return _PageFacts(badge, loaded, {})

    async def _send(self, pusher: PusherRecord, row: PushActionRow, page: _PageFacts) -> _Outcome:
        loaded = page.events.get(row.event_id)
        if loaded is None or loaded.rejected or loaded.redacted_by is not None:
            # Gone or redacted before it could be pushed: nothing worth waking anyone for.
            return _Outcome.SKIPPED
        event = loaded.event
        context = None
        if pusher.data.get("format") != EVENT_ID_ONLY:
            # Room and sender names are read once per page and room: a page is sent within
            # seconds, and a rename in between is harmless in a notification.
            context = page.contexts.get((event.room_id, event.sender))
            if context is None:
                context = await room_context(self.stores, self.loader, event, pusher.user_id)
                page.contexts[(event.room_id, event.sender)] = context
        body = event_notification(
            event,
            pusher,
            row.actions,
            page.badge,
            context,
            include_content=self.settings.include_content,
        )
        started = asyncio.get_running_loop().time()
        try:
            rejected = await notify(self.client, pusher, body)
        except OutboundError as error:
            FAILED.inc()
            log.warning(
                "push to gateway failed",
                user_id=pusher.user_id,
                app_id=pusher.app_id,
                error=str(error),
            )
            return _Outcome.FAILED
        finally:
            GATEWAY_SECONDS.observe(asyncio.get_running_loop().time() - started)
        SENT.inc()
        self._last_badges.put(_key(pusher), page.badge)
        return _Outcome.REJECTED if pusher.pushkey in rejected else _Outcome.SENT

    async def _send_badge(self, pusher: PusherRecord) -> None:
        """Best-effort: a failure is counted and logged, not retried."""
        key = _key(pusher)
        badge = await badge_count(
            self.stores, pusher.user_id, group_by_room=self.settings.group_unread_count_by_room
        )
        if self._last_badges.get(key) == badge:
            return
        try:
            rejected = await notify(self.client, pusher, badge_notification(pusher, badge))
        except OutboundError as error:
            BADGES_FAILED.inc()
            log.info("badge update failed", user_id=pusher.user_id, error=str(error))
            return
        BADGES_SENT.inc()
        self._last_badges.put(key, badge)
        if pusher.pushkey in rejected:
            await self._remove(pusher)

    async def _remove(self, pusher: PusherRecord) -> None:
        """The gateway rejected the pushkey: the spec says to stop and remove the pusher."""
        REJECTED.inc()
        log.info("pushkey rejected by its gateway; removing the pusher", user_id=pusher.user_id)
        await self.stores.pushers.delete(pusher.user_id, pusher.app_id, pusher.pushkey)
        self._forget(_key(pusher))

    def _retry_later(self, key: PusherKey) -> None:
        delay = self._backoff.failed(key)
        old = self._timers.pop(key, None)
        if old is not None:
            old.cancel()
        self._timers[key] = asyncio.get_running_loop().call_later(delay, self._retry_due, key)

    def _retry_due(self, key: PusherKey) -> None:
        self._timers.pop(key, None)
        self._mark(key, _Work.NOTIFY)

    def _forget(self, key: PusherKey) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        self._backoff.succeeded(key)
        self._last_badges.pop(key)


def _key(pusher: PusherRecord) -> PusherKey:
    return PusherKey(pusher.user_id, pusher.app_id, pusher.pushkey)
