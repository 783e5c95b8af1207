"""Presence over time: idle after inactivity, offline when clients stop syncing, and
syncing alone neither makes news nor refreshes the active time."""

from __future__ import annotations

from homeserver.services.common.clock import Clock
from homeserver.services.rooms.user_memberships import UserMemberships
from homeserver.services.sync.presence import (
    IDLE_AFTER_MS,
    OFFLINE_AFTER_MS,
    PresenceService,
)
from homeserver.streams.notifier import LocalNotifier
from homeserver.streams.writer import StreamWriter
from homeserver.types.requester import Requester
from homeserver.types.stream_token import Stream, StreamToken
from storage.stores import Stores

ALICE = "@alice:test"


class ManualClock(Clock):
    def __init__(self) -> None:
        self.now_ms = 1_000_000_000

    def time_ms(self) -> int:
        return self.now_ms


async def test_idle_then_offline(stores: Stores) -> None:
    clock = ManualClock()
    notifier = LocalNotifier(StreamToken())
    presence = PresenceService(
        stores,
        clock,
        StreamWriter(Stream.PRESENCE, 0, notifier),
        notifier,
        UserMemberships(stores, notifier),
        "hs.test",
        enabled=True,
    )
    me = Requester(ALICE, "DEV", is_guest=False, access_token_id=1)
    await presence.note_activity(ALICE, None)
    assert (await presence.get_status(me, ALICE))["presence"] == "online"
    position = notifier.current_token.presence
    # Syncing again is not news.
    clock.now_ms += 10_000
    await presence.note_activity(ALICE, None)
    assert notifier.current_token.presence == position
    await presence.note_action(ALICE)
    status = await presence.get_status(me, ALICE)
    assert status["currently_active"] is True and status["last_active_ago"] == 0

    # Still syncing, but doing nothing: idle.
    for _ in range(IDLE_AFTER_MS // 30_000 + 1):
        clock.now_ms += 30_000
        await presence.note_activity(ALICE, None)
        await presence._sweep()
    status = await presence.get_status(me, ALICE)
    assert status["presence"] == "unavailable"
    assert status["last_active_ago"] > IDLE_AFTER_MS
    # Acting again brings the user back.
    await presence.note_action(ALICE)
    assert (await presence.get_status(me, ALICE))["presence"] == "online"

    # No sync for a while: offline.
    clock.now_ms += OFFLINE_AFTER_MS + 1
    await presence._sweep()
    assert (await presence.get_status(me, ALICE))["presence"] == "offline"


async def test_users_left_online_by_an_earlier_run_go_offline(stores: Stores) -> None:
    clock = ManualClock()
    notifier = LocalNotifier(StreamToken())

    def service() -> PresenceService:
        return PresenceService(
            stores,
            clock,
            StreamWriter(Stream.PRESENCE, notifier.current_token.presence, notifier),
            notifier,
            UserMemberships(stores, notifier),
            "hs.test",
            enabled=True,
        )

    await service().note_activity(ALICE, None)
    restarted = service()
    me = Requester(ALICE, "DEV", is_guest=False, access_token_id=1)
    assert (await restarted.get_status(me, ALICE))["presence"] == "online"
    await restarted._sweep()
    assert (await restarted.get_status(me, ALICE))["presence"] == "online", "seen at start"
    clock.now_ms += OFFLINE_AFTER_MS + 1
    await restarted._sweep()
    assert (await restarted.get_status(me, ALICE))["presence"] == "offline"
