"""ChangeIndex.changed_since: what changed after a position, at the cost of the changes."""

from __future__ import annotations

from homeserver.streams.change_index import ChangeIndex


def test_changed_since_lists_each_entity_changed_after_the_position_once() -> None:
    index = ChangeIndex(10)
    index.record(11, ["@a:x", "@b:x"])
    index.record(12, ["@c:x"])
    index.record(13, ["@a:x"])
    assert index.changed_since(13) == []
    assert index.changed_since(12) == ["@a:x"]
    assert sorted(index.changed_since(11) or []) == ["@a:x", "@c:x"]
    assert sorted(index.changed_since(10) or []) == ["@a:x", "@b:x", "@c:x"]


def test_changed_since_cannot_tell_about_positions_it_never_saw() -> None:
    index = ChangeIndex(10, max_entities=4)
    assert index.changed_since(9) is None
    assert index.changed_since(11) is None
    for position, entity in enumerate("abcdef", start=11):
        index.record(position, [entity])
    # Forgetting the oldest entries makes the positions before them unknown.
    assert index.changed_since(10) is None
    assert index.changed_since(15) == ["f"]
