from __future__ import annotations

from homeserver.rules.event_filter import EventFilter, Filter, only_fields


def test_types_with_wildcards_and_exclusions() -> None:
    f = EventFilter(types=["m.room.*", "org.example"], not_types=["m.room.member"])
    assert f.allows("m.room.message", "@a:x")
    assert f.allows("org.example", "@a:x")
    assert not f.allows("org.example.more", "@a:x")
    assert not f.allows("m.room.member", "@a:x")
    assert not f.allows("m.presence", "@a:x")
    assert EventFilter(types=["m.room*name"]).allows("m.room.x.name", "@a:x")
    assert not EventFilter(types=["m.room.n.me"]).allows("m.room.name", "@a:x")


def test_many_wildcards_against_a_long_type_take_no_backtracking() -> None:
    # As a regex, each extra `*` multiplied the time: this froze the server for seconds.
    pattern = "*a" * 100 + "b"
    value = "a" * 100_000
    assert not EventFilter(types=[pattern]).allows(value, "@a:x")
    assert EventFilter(not_types=[pattern]).allows(value, "@a:x")
    assert EventFilter(types=["*a" * 100 + "*"]).allows(value, "@a:x")


def test_wildcards_are_case_sensitive_and_question_marks_literal() -> None:
    assert not EventFilter(types=["M.room.*"]).allows("m.room.message", "@a:x")
    assert not EventFilter(types=["m.room.?ame"]).allows("m.room.name", "@a:x")
    assert EventFilter(types=["m.room.?ame"]).allows("m.room.?ame", "@a:x")
    assert EventFilter(types=["*"]).allows("", "@a:x")


def test_empty_types_list_allows_nothing() -> None:
    assert not EventFilter(types=[]).allows("m.room.message", "@a:x")


def test_senders_and_rooms() -> None:
    f = EventFilter(senders=["@a:x", "@b:x"], not_senders=["@b:x"], not_rooms=["!bad:x"])
    assert f.allows("t", "@a:x", "!good:x")
    assert not f.allows("t", "@b:x", "!good:x")
    assert not f.allows("t", "@c:x", "!good:x")
    assert not f.allows("t", "@a:x", "!bad:x")
    assert not EventFilter(rooms=["!only:x"]).allows("t", "@a:x", "!other:x")


def test_contains_url() -> None:
    event = {"type": "m.room.message", "sender": "@a:x", "content": {"url": "mxc://x/y"}}
    plain = {"type": "m.room.message", "sender": "@a:x", "content": {"body": "hi"}}
    assert EventFilter(contains_url=True).allows_event(event)
    assert not EventFilter(contains_url=True).allows_event(plain)
    assert EventFilter(contains_url=False).allows_event(plain)
    assert not EventFilter(contains_url=False).allows_event(event)
    assert EventFilter().allows_event(event)


def test_whole_filter_from_json() -> None:
    f = Filter.from_json(
        {
            "event_fields": ["type"],
            "room": {"include_leave": True, "timeline": {"limit": 5, "lazy_load_members": True}},
            "presence": {"types": []},
        }
    )
    assert f.room.include_leave
    assert f.room.timeline.limit == 5
    assert f.room.timeline.lazy_load_members
    assert not f.presence.allows("m.presence", "@a:x")


def test_only_fields() -> None:
    event = {"type": "t", "content": {"body": "b", "x.y": 1, "n": 2}, "sender": "@a:x"}
    assert only_fields(event, ["type", "content.body", "content.x\\.y", "missing.path"]) == {
        "type": "t",
        "content": {"body": "b", "x.y": 1},
    }
