"""Unread notification counts for /sync and the notification list (GET /notifications).

Both read what push evaluation stored; counts first wait until evaluation has reached the
position the caller reports up to, so a response never carries an event without it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from homeserver.services.common.clock import Clock
from homeserver.services.push.push_evaluator import PushEvaluator
from homeserver.services.push.unread_counts import UnreadCountCache
from homeserver.services.rooms.event_loader import EventLoader
from homeserver.services.rooms.room_history import RoomHistoryService
from homeserver.types.errors import BadRequest, Codes
from homeserver.types.requester import Requester
from storage.stores import Stores
from storage.stores.push_actions import ThreadCounts

MAX_LIMIT = 1000
DEFAULT_LIMIT = 50
DAY_MS = 24 * 60 * 60 * 1000
# Read notifications stay a day, as in Synapse; highlights and unread ones up to the
# configured retention. A run deletes at most this many, in batches.
_READ_KEPT_MS = DAY_MS
_PRUNE_BATCH = 5_000
_PRUNE_MAX_PER_RUN = 200_000


class NotificationService:
    def __init__(
        self,
        stores: Stores,
        loader: EventLoader,
        history: RoomHistoryService,
        evaluator: PushEvaluator,
        clock: Clock,
        retention_ms: int,
        unread_counts: UnreadCountCache,
    ) -> None:
        self.counts = unread_counts
        self.clock = clock
        self.retention_ms = retention_ms
        self.stores = stores
        self.loader = loader
        self.history = history
        self.evaluator = evaluator

    async def unread_counts(
        self, user_id: str, room_ids: Sequence[str], upto_events: int
    ) -> dict[str, Mapping[str, ThreadCounts]]:
        """Per room and thread, the user's unread notifications as of `upto_events`."""
        if not room_ids:
            return {}
        await self.evaluator.caught_up(upto_events)
        found: dict[str, Mapping[str, ThreadCounts]] = {}
        missing = []
        for room_id in room_ids:
            cached = self.counts.get(user_id, room_id)
            if cached is None:
                missing.append(room_id)
            elif cached:
                found[room_id] = cached
        if missing:
            token = self.counts.before_read()
            read = await self.stores.push_actions.unread_counts(user_id, missing)
            self.counts.after_read(token, user_id, missing, read)
            found.update(read)
        return found

    async def prune(self) -> int:
        """Delete old notifications (run by housekeeping): the table grows by a row per
        member for each message of a room, so it must not keep them all."""
        now = self.clock.time_ms()
        deleted = 0
        with self.counts.changing():
            while deleted < _PRUNE_MAX_PER_RUN:
                batch = await self.stores.push_actions.delete_old(
                    now - _READ_KEPT_MS, now - self.retention_ms, _PRUNE_BATCH
                )
                deleted += batch
                if batch < _PRUNE_BATCH:
                    break
            if deleted:
                # Unread notifications past the retention may be among them.
                self.counts.clear()
        return deleted

    async def list(
        self, requester: Requester, from_token: str | None, limit: int | None, only: str | None
    ) -> dict[str, Any]:
        before = _parse_from(from_token)
        await self.evaluator.caught_up(self.evaluator.published_upto)
        page = limit if limit is not None else DEFAULT_LIMIT
        page = min(page, MAX_LIMIT)
        rows = await self.stores.push_actions.notifications(
            requester.user_id, before, page, only_highlight=only == "highlight"
        )
        loaded = await self.loader.load_many(n.row.event_id for n in rows)
        shown = [n for n in rows if n.row.event_id in loaded]
        events = await self.history.serialize([loaded[n.row.event_id] for n in shown], requester)
        notifications = [
            {
                "actions": n.row.actions,
                "event": event,
                # The tag of the pusher profile the rule belonged to: rules have no
                # profiles any more (Synapse sends null too), but clients read the key.
                "profile_tag": None,
                "read": n.read,
                "room_id": n.row.room_id,
                "ts": n.row.ts,
            }
            for n, event in zip(shown, events, strict=True)
        ]
        response: dict[str, Any] = {"notifications": notifications}
        if len(rows) == page and rows:
            response["next_token"] = str(rows[-1].row.stream_ordering)
        return response


def _parse_from(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise BadRequest("Invalid 'from' token", Codes.INVALID_PARAM)
    return int(raw)
