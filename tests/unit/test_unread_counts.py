"""UnreadCountCache: entries stay exact, and a read that overlapped a change is not kept."""

from __future__ import annotations

from homeserver.services.push.unread_counts import UnreadCountCache
from storage.stores.push_actions import EventNotifications, ThreadCounts

ROOM = "!r:x"


def _notified(*recipients: tuple[str, bool], thread: str = "main") -> EventNotifications:
    return EventNotifications(
        ROOM, "$e", 1, thread, 0, [(user, highlight, ("notify",)) for user, highlight in recipients]
    )


def test_a_read_is_kept_and_new_notifications_are_counted_into_it() -> None:
    cache = UnreadCountCache(10)
    token = cache.before_read()
    cache.after_read(token, "@a:x", [ROOM, "!empty:x"], {ROOM: {"main": ThreadCounts(2, 1)}})
    assert cache.get("@a:x", "!empty:x") == {}
    with cache.changing():
        cache.add([_notified(("@a:x", True), ("@b:x", False))])
        cache.add([_notified(("@a:x", False), thread="$root")])
    assert cache.get("@a:x", ROOM) == {"main": ThreadCounts(3, 2), "$root": ThreadCounts(1, 0)}
    # Only entries read from the database are counted into.
    assert cache.get("@b:x", ROOM) is None
    cache.forget("@a:x", ROOM)
    assert cache.get("@a:x", ROOM) is None


def test_a_read_that_overlapped_a_change_is_not_kept() -> None:
    cache = UnreadCountCache(10)
    started_before = cache.before_read()
    with cache.changing():
        started_during = cache.before_read()
        cache.after_read(started_during, "@a:x", [ROOM], {})
    cache.after_read(started_before, "@a:x", [ROOM], {})
    cache.after_read(started_during, "@a:x", [ROOM], {})
    assert cache.get("@a:x", ROOM) is None
    cache.after_read(cache.before_read(), "@a:x", [ROOM], {})
    assert cache.get("@a:x", ROOM) == {}
