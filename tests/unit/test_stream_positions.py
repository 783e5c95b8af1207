from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from homeserver.streams.positions import StreamPositionTracker


def test_out_of_order_commits_hold_back_the_position() -> None:
    tracker = StreamPositionTracker(current=5)
    tracker.begin(6)
    tracker.begin(7)
    assert tracker.finish(7) is False
    assert tracker.current == 5
    assert tracker.finish(6) is True
    assert tracker.current == 7


def test_gaps_from_abandoned_positions_do_not_block() -> None:
    tracker = StreamPositionTracker(current=0)
    tracker.begin(3)
    tracker.finish(3)
    assert tracker.current == 3


@given(st.permutations(list(range(1, 30))))
def test_current_never_passes_an_in_flight_position(order: list[int]) -> None:
    tracker = StreamPositionTracker(current=0)
    for position in range(1, 30):
        tracker.begin(position)
    done: set[int] = set()
    for position in order:
        tracker.finish(position)
        done.add(position)
        assert all(p in done for p in range(1, tracker.current + 1))
        assert tracker.current + 1 not in done or tracker.current == 29
    assert tracker.current == 29
