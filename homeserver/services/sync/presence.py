"""Presence: set by users, kept up to date from their activity, shared with those who share
a room with them, unless they switch sharing off.

The switch is the global account data `org.homeserver.presence` with
`{"share_presence": false}` (spec/presence-privacy.md): others then see them offline with no
last-active time or status message.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import structlog

from homeserver.services.common.clock import Clock
from homeserver.services.common.lru_cache import LruCache
from homeserver.services.common.periodic import PeriodicTask
from homeserver.services.rooms.user_memberships import UserMemberships
from homeserver.services.sync.presence_changes import PresenceChanges
from homeserver.streams.notifier import StreamNotifier
from homeserver.streams.writer import StreamWriter
from homeserver.types.errors import BadRequest, Codes, Forbidden, NotFound
from homeserver.types.ids import UserID
from homeserver.types.requester import Requester
from homeserver.types.stream_token import Stream
from storage.stores import Stores
from storage.stores.account_data import GLOBAL
from storage.stores.presence import PresenceRow

log = structlog.get_logger(__name__)

ONLINE = "online"
UNAVAILABLE = "unavailable"
OFFLINE = "offline"
STATES = (ONLINE, UNAVAILABLE, OFFLINE)
PRIVACY_TYPE = "org.homeserver.presence"
IDLE_AFTER_MS = 5 * 60_000
# No sync or other activity for this long: the user's clients are gone.
OFFLINE_AFTER_MS = 60_000
CURRENTLY_ACTIVE_MS = 60_000
_SWEEP_EVERY_S = 5.0
_PRIVACY_CACHE_USERS = 100_000


class PresenceService:
    def __init__(
        self,
        stores: Stores,
        clock: Clock,
        writer: StreamWriter,
        notifier: StreamNotifier,
        memberships: UserMemberships,
        server_name: str,
        enabled: bool,
    ) -> None:
        self.stores = stores
        self.clock = clock
        self.writer = writer
        self.notifier = notifier
        self.memberships = memberships
        self.server_name = server_name
        self.enabled = enabled
        self._recent = PresenceChanges(writer.current)
        # Whether each user switched sharing off, as of an account data position.
        self._privacy: LruCache[str, tuple[int, bool]] = LruCache(_PRIVACY_CACHE_USERS)
        # When each user's clients last synced: connected clients keep a user from going
        # offline.
        self._last_seen: dict[str, int] = {}
        # When each user last did something (sent, read, typed, set presence): it drives
        # last_active_ago, currently_active and the idle timeout.
        self._last_active: dict[str, int] = {}
        # The stored row of each user in `_last_seen`, so activity costs no database read.
        self._rows: dict[str, PresenceRow] = {}
        self._sweeper = PeriodicTask("presence-sweep", _SWEEP_EVERY_S, self._sweep)
        self._restored = False

    async def _write(self, row: PresenceRow) -> None:
        """Store the change and announce it to the user and the rooms they are joined to
        (the notifier decides whom that wakes)."""
        rooms = [
            m.room_id for m in await self.memberships.get(row.user_id) if m.membership == "join"
        ]

        async def put(position: int) -> None:
            await self.stores.presence.put(row, position)
            self._recent.record(position, row, rooms)

        await self.writer.write(
            self.stores.presence.next_positions, put, users=[row.user_id], rooms=rooms
        )
        if row.user_id in self._last_seen:
            self._rows[row.user_id] = row

    async def _current(self, user_id: str) -> PresenceRow | None:
        row = self._rows.get(user_id)
        if row is None:
            row = await self.stores.presence.get(user_id)
            if row is not None and user_id in self._last_seen:
                self._rows[user_id] = row
        return row

    def _forget(self, user_id: str) -> None:
        self._last_seen.pop(user_id, None)
        self._last_active.pop(user_id, None)
        self._rows.pop(user_id, None)

    async def set_status(
        self, requester: Requester, user_id: str, state: str, status_msg: str | None
    ) -> None:
        if requester.user_id != user_id:
            raise Forbidden("You may only set your own presence")
        if state not in STATES:
            raise BadRequest("presence must be online, unavailable or offline", Codes.INVALID_PARAM)
        if not self.enabled:
            return
        now = self.clock.time_ms()
        self._last_seen[user_id] = now
        self._last_active[user_id] = now
        await self._write(
            PresenceRow(user_id, state, status_msg, now, currently_active=state == ONLINE)
        )

    async def note_activity(self, user_id: str, set_presence: str | None) -> None:
        """A sync: the client is connected. It brings an offline user online, or sets the
        state the client asked for; staying in the same state is not news, so a syncing
        user does not wake everyone who shares a room with them over and over."""
        if not self.enabled:
            return
        now = self.clock.time_ms()
        self._last_seen[user_id] = now
        current = await self._current(user_id)
        state = current.state if current is not None else OFFLINE
        wanted = set_presence or (ONLINE if state == OFFLINE else state)
        if current is not None and state == wanted:
            return
        status = current.status_msg if current else None
        active = self._last_active.setdefault(user_id, now)
        await self._write(PresenceRow(user_id, wanted, status, active, wanted == ONLINE))

    async def note_action(self, user_id: str) -> None:
        """Something the user did: they are active, and online if they were not."""
        if not self.enabled:
            return
        now = self.clock.time_ms()
        self._last_seen[user_id] = now
        self._last_active[user_id] = now
        current = await self._current(user_id)
        if current is not None and current.state == ONLINE and current.currently_active:
            return
        status = current.status_msg if current else None
        await self._write(PresenceRow(user_id, ONLINE, status, now, True))

    async def _hidden_among(self, user_ids: list[str]) -> set[str]:
        """Those of `user_ids` who switched sharing off: from memory until their account
        data changes, and one read for all the others."""
        index = self.notifier.changes(Stream.ACCOUNT_DATA)
        hidden: set[str] = set()
        unknown: list[str] = []
        for user_id in user_ids:
            cached = self._privacy.get(user_id)
            if cached is None or index.changed(user_id, cached[0]):
                unknown.append(user_id)
            elif cached[1]:
                hidden.add(user_id)
        if not unknown:
            return hidden
        # Taken before reading: a change published meanwhile is newer and is read again.
        position = index.head
        settings = await self.stores.account_data.get_for_users(unknown, GLOBAL, PRIVACY_TYPE)
        for user_id in unknown:
            setting = settings.get(user_id)
            off = isinstance(setting, dict) and setting.get("share_presence") is False
            self._privacy.put(user_id, (position, off))
            if off:
                hidden.add(user_id)
        return hidden

    def _as_content(self, row: PresenceRow, hidden: bool) -> dict[str, Any]:
        if hidden:
            return {"presence": OFFLINE}
        now = self.clock.time_ms()
        last_active = max(row.last_active_ts, self._last_active.get(row.user_id, 0))
        content: dict[str, Any] = {
            "presence": row.state,
            "last_active_ago": max(0, now - last_active),
            "currently_active": row.currently_active and now - last_active < CURRENTLY_ACTIVE_MS,
        }
        if row.status_msg is not None:
            content["status_msg"] = row.status_msg
        return content

    async def get_status(self, requester: Requester, user_id: str) -> dict[str, Any]:
        try:
            parsed = UserID.parse(user_id)
        except ValueError:
            raise BadRequest("Invalid user ID", Codes.INVALID_PARAM) from None
        if parsed.domain == self.server_name and not await self.stores.users.exists(user_id):
            raise NotFound("Unknown user")
        if requester.user_id != user_id:
            sharing = await self.stores.presence.users_sharing_rooms(requester.user_id)
            if user_id not in sharing:
                raise Forbidden("You are not allowed to see their presence")
        row = await self.stores.presence.get(user_id)
        if row is None or not self.enabled:
            return {"presence": OFFLINE}
        hidden = requester.user_id != user_id and user_id in await self._hidden_among([user_id])
        return self._as_content(row, hidden)

    async def for_sync(
        self,
        user_id: str,
        joined_rooms: Iterable[str],
        since: int,
        upto: int,
        whatever_changed: Iterable[str] = (),
    ) -> list[dict[str, Any]]:
        """Presence of the users sharing a room with `user_id` (joined to `joined_rooms`)
        that changed in (since, upto], and that of `whatever_changed` even if it did not."""
        if not self.enabled:
            return []
        if since > 0:
            recent = self._recent.changed([user_id, *joined_rooms], since, upto)
            if recent is None:
                recent = await self.stores.presence.changed_for(user_id, since, upto)
            rows = recent
        else:
            sharing = await self.stores.presence.users_sharing_rooms(user_id)
            rows = await self.stores.presence.changed(sharing or [user_id], since, upto)
        extra = set(whatever_changed) - {row.user_id for row in rows}
        if extra:
            rows += await self.stores.presence.changed(sorted(extra), 0, upto)
        hidden = await self._hidden_among([row.user_id for row in rows if row.user_id != user_id])
        return [
            {
                "type": "m.presence",
                "sender": row.user_id,
                "content": self._as_content(row, row.user_id in hidden),
            }
            for row in rows
        ]

    async def _sweep(self) -> None:
        """Users whose clients stopped syncing go offline; online users who did nothing for
        a while go idle (unavailable)."""
        now = self.clock.time_ms()
        if not self._restored:
            # Users left online by an earlier run count as seen now: unless their clients
            # sync again, they go offline like anyone else, not stay online for good.
            for user_id in await self.stores.presence.not_offline():
                self._last_seen.setdefault(user_id, now)
            self._restored = True
        for user_id, seen in list(self._last_seen.items()):
            current = await self._current(user_id)
            if current is None or current.state == OFFLINE:
                self._forget(user_id)
                continue
            active = self._last_active.get(user_id, current.last_active_ts)
            if now - seen > OFFLINE_AFTER_MS:
                self._forget(user_id)
                await self._write(PresenceRow(user_id, OFFLINE, current.status_msg, active, False))
            elif current.state == ONLINE and now - active > IDLE_AFTER_MS:
                await self._write(
                    PresenceRow(user_id, UNAVAILABLE, current.status_msg, active, False)
                )

    def start(self) -> None:
        if self.enabled:
            self._sweeper.start()

    async def stop(self) -> None:
        await self._sweeper.stop()
