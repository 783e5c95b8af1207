from __future__ import annotations

from homeserver.services.sync.presence_changes import PresenceChanges
from storage.stores.presence import PresenceRow


def _row(user_id: str, state: str = "online") -> PresenceRow:
    return PresenceRow(user_id, state, None, 0, True)


def test_changes_by_room_and_user_latest_row_wins() -> None:
    recent = PresenceChanges(start=10)
    recent.record(11, _row("@a:x"), ["!r1:x"])
    recent.record(13, _row("@b:x"), ["!r2:x"])
    # Finished before 13 although allocated first: still found in order.
    recent.record(12, _row("@a:x", "unavailable"), ["!r1:x", "!r2:x"])
    found = recent.changed(["!r1:x"], 10, 13)
    assert found == [_row("@a:x", "unavailable")]
    assert {r.user_id for r in recent.changed(["!r2:x"], 10, 13) or []} == {"@a:x", "@b:x"}
    assert recent.changed(["!r2:x"], 12, 13) == [_row("@b:x")]
    assert recent.changed(["!r2:x"], 10, 11) == []
    assert recent.changed(["@b:x"], 10, 20) == [_row("@b:x")], "a user's own changes"
    assert recent.changed(["!r1:x"], 9, 13) is None, "before what is kept: unknown"


def test_oldest_changes_are_forgotten_and_then_unknown() -> None:
    recent = PresenceChanges(start=0, max_changes=4)
    for position in range(1, 6):
        recent.record(position, _row(f"@u{position}:x"), ["!r:x"])
    assert recent.changed(["!r:x"], 0, 5) is None
    kept = recent.changed(["!r:x"], 3, 5)
    assert kept is not None and {r.user_id for r in kept} == {"@u4:x", "@u5:x"}
