"""Push rules: glob matching, the spec's default rules, rule order, user changes, parsing,
and the evaluator's shared and per-member paths agreeing."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homeserver.rules.push.checks import condition_matches
from homeserver.rules.push.defaults import DEFAULT_RULES, LEGACY_DEFAULT_RULES, DefaultRules
from homeserver.rules.push.evaluator import (
    EventFacts,
    Match,
    MemberFacts,
    evaluate,
    evaluate_for_members,
)
from homeserver.rules.push.facts import MISSING, flatten, split_key
from homeserver.rules.push.glob import GlobMatcher, glob_matches
from homeserver.rules.push.model import (
    ActionSummary,
    ContainsDisplayName,
    EventMatch,
    EventPropertyContains,
    EventPropertyIs,
    RoomMemberCount,
    RuleKind,
    UnknownCondition,
)
from homeserver.rules.push.parse import load_rule, parse_actions, parse_kind, parse_rule
from homeserver.rules.push.ruleset import DEFAULT_RULESET, PushRuleSet, uncustomised
from homeserver.types.errors import BadRequest, Codes

ME = "@me:example.org"
OTHER = "@other:example.org"
SENDER = "@sender:example.org"
ROOM = "!room:example.org"
ELSEWHERE = "!elsewhere:example.org"
MY_NAME = "Alice Liddell"
ME_FACTS = MemberFacts(ME, MY_NAME)
SOUND_DEFAULT = {"set_tweak": "sound", "value": "default"}
HIGHLIGHT = {"set_tweak": "highlight"}


def message(body: str = "hello", room_id: str = ROOM, **content: Any) -> dict[str, Any]:
    return event("m.room.message", {"msgtype": "m.text", "body": body, **content}, room_id)


def event(
    type_: str,
    content: dict[str, Any],
    room_id: str = ROOM,
    sender: str = SENDER,
    state_key: str | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {"type": type_, "content": content, "room_id": room_id}
    data["sender"] = sender
    if state_key is not None:
        data["state_key"] = state_key
    return data


def facts(
    data: dict[str, Any], members: int = 10, power: int | None = 0, levels: Any = None
) -> EventFacts:
    return EventFacts.build(
        data, room_member_count=members, sender_power_level=power, notification_levels=levels
    )


def run(
    data: dict[str, Any],
    ruleset: PushRuleSet = DEFAULT_RULESET,
    member: MemberFacts = ME_FACTS,
    **kwargs: Any,
) -> Match | None:
    return evaluate(facts(data, **kwargs), ruleset, member)


def outcome(match: Match | None) -> tuple[str, bool, bool, str | None] | None:
    """(rule_id, notify, highlight, sound)"""
    if match is None:
        return None
    summary = match.summary
    return match.rule.rule_id, summary.notify, summary.highlight, summary.sound


def user_rules(*rules: tuple[str, str, dict[str, Any]]) -> PushRuleSet:
    by_kind: dict[RuleKind, list[Any]] = {}
    for kind, rule_id, body in rules:
        by_kind.setdefault(RuleKind(kind), []).append(parse_rule(kind, rule_id, body))
    return PushRuleSet.build(by_kind)


# -- glob ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "text", "words", "expected"),
    [
        # The spec's examples (event_match).
        ("lunc?*", "Lunch plans", False, True),
        ("lunc?*", "LUNCH", False, True),
        ("lunc?*", " lunch", False, False),
        ("lunc?*", "lunc", False, False),
        ("ex*ple", "An example event.", True, True),
        ("ex*ple", "exple", True, True),
        ("ex*ple", "An exciting triple-whammy", True, True),
        ("ex*ple", "An example event.", False, False),
        # Literals: whole value vs word boundaries.
        ("m.notice", "m.notice", False, True),
        ("m.notice", "M.NOTICE", False, True),
        ("m.notice", "m.noticed", False, False),
        ("cake", "I like cake.", True, True),
        ("cake", "Cake!", True, True),
        ("cake", "cakes", True, False),
        ("cake", "pancake", True, False),
        ("cake", "snake_cake", True, False),
        ("cake", "snake-cake", True, True),
        ("@room", "hey @room!", True, True),
        ("@room", "x@room", True, True),  # starts next to a non-word character
        ("", "", False, True),
        ("", "x", False, False),
        ("", "anything", True, True),  # as Synapse: an empty pattern matches any body
        # Wildcards.
        ("a?c", "abc", False, True),
        ("a?c", "ac", False, False),
        ("a?c", "abbc", False, False),
        ("a*c", "ac", False, True),
        ("a**c", "abbbc", False, True),
        ("*", "", False, True),
        ("*", "", True, True),
        ("?", "", False, False),
        ("*b", "aaab", False, True),
        ("*b*", "aaa", False, False),
        ("a*b*c", "a-c-b-c", False, True),
        ("a*b*c", "a-c-b-b", False, False),
        ("c?ke", "the cake is", True, True),
        ("c?ke", "the cakes is", True, False),
        ("c*e", "cake cakes", True, True),
        ("h*o w*d", "oh hello world!", True, True),
        # Case folding keeps positions (U+0130 lowers to two characters otherwise).
        ("istanbul", "İSTANBUL", False, True),
        ("*bul", "İstanbul", True, True),
        ("straße", "STRAßE", False, True),
        ("caf?", "CAFÉ", False, True),
    ],
)
def test_glob(pattern: str, text: str, words: bool, expected: bool) -> None:
    assert glob_matches(pattern, text, words=words) is expected


def test_glob_pathological_patterns_run_in_linear_time() -> None:
    pattern = "*a" * 200 + "b"
    text = "a" * 100_000
    # The literal "b" is nowhere: no NFA run at all.
    assert not glob_matches(pattern, text)
    assert not glob_matches(pattern, text, words=True)
    # The literal is there: one NFA pass over 100,000 characters, no backtracking.
    assert glob_matches(pattern, text + "b", words=True)
    assert glob_matches(pattern, text + "b")
    assert not glob_matches(pattern, text + "ba", words=True)
    assert not glob_matches(pattern, text + "ba")
    assert not glob_matches("?a" * 200 + "b", text + "b", words=True)
    assert not glob_matches(pattern, "a" * 199 + "b")


def test_overlong_patterns_never_match() -> None:
    assert not GlobMatcher("a" * 1_001).match_whole("a" * 1_001)
    assert not GlobMatcher("*" * 1_001).match_words("anything")
    assert GlobMatcher("a" * 1_000).match_whole("a" * 1_000)


def _reference(pattern: str, text: str, words: bool) -> bool:
    """The glob as a regular expression, the way Synapse builds it (tests only)."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    if not words:
        return re.fullmatch(body, text, re.IGNORECASE | re.DOTALL) is not None
    wrapped = rf"(?:^|\W|\b)(?:{body})(?:\b|\W|$)"
    return re.search(wrapped, text, re.IGNORECASE | re.DOTALL) is not None


@settings(max_examples=400, deadline=None)
@given(
    pattern=st.text(alphabet="ab_ .*?", max_size=8),
    text=st.text(alphabet="abAB_ .-", max_size=16),
    words=st.booleans(),
)
def test_glob_agrees_with_a_regex_reference(pattern: str, text: str, words: bool) -> None:
    assert glob_matches(pattern, text, words=words) is _reference(pattern, text, words)


# -- event facts --------------------------------------------------------------------------


def test_keys_follow_the_spec_escaping() -> None:
    assert split_key(r"content.m\.relates_to.rel_type") == ("content", "m.relates_to", "rel_type")
    assert split_key(r"content.m\\foo") == ("content", "m\\foo")
    assert split_key(r"content.m\xfoo") == ("content", "m\\xfoo")  # other escapes are literal
    data = {
        "type": "x",
        "content": {"m.relates_to": {"rel_type": "m.replace"}, "a\\b": 1, "list": [1, "2"]},
    }
    flat = flatten(data)
    assert flat == {
        "type": "x",
        r"content.m\.relates_to.rel_type": "m.replace",
        r"content.a\\b": 1,
        "content.list": [1, "2"],
    }
    built = facts(data)
    for key, value in flat.items():
        assert built.value(key) == value
    assert built.value("content.missing") is MISSING
    assert built.value("type.deeper") is MISSING


# -- the default rules --------------------------------------------------------------------


def mentions(*user_ids: str, room: Any = None, body: str = "hi") -> dict[str, Any]:
    declared: dict[str, Any] = {"user_ids": list(user_ids)}
    if room is not None:
        declared["room"] = room
    return message(body, **{"m.mentions": declared})


NOTIFY = (".m.rule.message", True, False, None)


@pytest.mark.parametrize(
    ("name", "data", "kwargs", "expected"),
    [
        ("group message", message(), {}, NOTIFY),
        (
            "1:1 message",
            message(),
            {"members": 2},
            (".m.rule.room_one_to_one", True, False, "default"),
        ),
        (
            "encrypted group",
            event("m.room.encrypted", {"ciphertext": "x"}),
            {},
            (".m.rule.encrypted", True, False, None),
        ),
        (
            "encrypted 1:1",
            event("m.room.encrypted", {"ciphertext": "x"}),
            {"members": 2},
            (".m.rule.encrypted_room_one_to_one", True, False, "default"),
        ),
        (
            "notice",
            message(msgtype="m.notice"),
            {},
            (".m.rule.suppress_notices", False, False, None),
        ),
        (
            "notice 1:1",
            message(msgtype="m.notice"),
            {"members": 2},
            (".m.rule.suppress_notices", False, False, None),
        ),
        ("user mention", mentions(ME), {}, (".m.rule.is_user_mention", True, True, "default")),
        ("mention of others", mentions(OTHER), {}, NOTIFY),
        ("mention, user_ids not a list", message(**{"m.mentions": {"user_ids": ME}}), {}, NOTIFY),
        ("display name without m.mentions", message(f"hey {MY_NAME}"), {}, NOTIFY),
        ("user ID in body only", message(f"hey {ME}"), {}, NOTIFY),
        (
            "room mention with power",
            mentions(room=True),
            {"power": 50},
            (".m.rule.is_room_mention", True, True, None),
        ),
        ("room mention without power", mentions(room=True), {"power": 49}, NOTIFY),
        (
            "room mention, lowered level",
            mentions(room=True),
            {"power": 0, "levels": {"room": 0}},
            (".m.rule.is_room_mention", True, True, None),
        ),
        (
            "room mention, raised level",
            mentions(room=True),
            {"power": 50, "levels": {"room": 100}},
            NOTIFY,
        ),
        ("room mention, unknown power", mentions(room=True), {"power": None}, NOTIFY),
        ("room mention not true", mentions(room="true"), {"power": 100}, NOTIFY),
        ("@room in body only", message("@room look"), {"power": 100}, NOTIFY),
        (
            "edit",
            message(**{"m.relates_to": {"rel_type": "m.replace", "event_id": "$e"}}),
            {},
            (".m.rule.suppress_edits", False, False, None),
        ),
        (
            "edit that mentions me",
            message(
                **{"m.relates_to": {"rel_type": "m.replace"}, "m.mentions": {"user_ids": [ME]}}
            ),
            {},
            (".m.rule.is_user_mention", True, True, "default"),
        ),
        (
            "thread reply",
            message(**{"m.relates_to": {"rel_type": "m.thread", "event_id": "$e"}}),
            {},
            NOTIFY,
        ),
        (
            "reaction",
            event("m.reaction", {"m.relates_to": {"rel_type": "m.annotation", "key": "👍"}}),
            {},
            (".m.rule.reaction", False, False, None),
        ),
        (
            "tombstone",
            event("m.room.tombstone", {"replacement_room": "!new:x"}, state_key=""),
            {},
            (".m.rule.tombstone", True, True, None),
        ),
        (
            "tombstone, not state",
            event("m.room.tombstone", {"replacement_room": "!new:x"}),
            {},
            None,
        ),
        ("tombstone, state key", event("m.room.tombstone", {}, state_key="x"), {}, None),
        (
            "server ACL",
            event("m.room.server_acl", {"allow": ["*"]}, state_key=""),
            {},
            (".m.rule.room.server_acl", False, False, None),
        ),
        (
            "invite for me",
            event("m.room.member", {"membership": "invite"}, state_key=ME),
            {},
            (".m.rule.invite_for_me", True, False, "default"),
        ),
        (
            "invite, other case",
            event("m.room.member", {"membership": "invite"}, state_key=ME.upper()),
            {},
            (".m.rule.invite_for_me", True, False, "default"),
        ),
        (
            "invite for someone else",
            event("m.room.member", {"membership": "invite"}, state_key=OTHER),
            {},
            (".m.rule.member_event", False, False, None),
        ),
        (
            "join",
            event("m.room.member", {"membership": "join"}, state_key=OTHER),
            {},
            (".m.rule.member_event", False, False, None),
        ),
        (
            "call invite",
            event("m.call.invite", {"call_id": "1"}),
            {},
            (".m.rule.call", True, False, "ring"),
        ),
        ("topic", event("m.room.topic", {"topic": "x"}, state_key=""), {}, None),
        ("message without body", event("m.room.message", {}), {}, NOTIFY),
    ],
)
def test_default_rules(
    name: str, data: dict[str, Any], kwargs: dict[str, Any], expected: Any
) -> None:
    assert outcome(run(data, **kwargs)) == expected, name


def test_own_events_never_notify() -> None:
    assert run(mentions(ME), member=MemberFacts(SENDER, "Sender")) is None


def test_the_defaults_are_the_spec_v1_19_list_in_order() -> None:
    by_kind = DEFAULT_RULESET.to_json(ME)["global"]
    assert [r["rule_id"] for r in by_kind["override"]] == [
        ".m.rule.master",
        ".m.rule.suppress_notices",
        ".m.rule.invite_for_me",
        ".m.rule.member_event",
        ".m.rule.is_user_mention",
        ".m.rule.is_room_mention",
        ".m.rule.tombstone",
        ".m.rule.reaction",
        ".m.rule.room.server_acl",
        ".m.rule.suppress_edits",
    ]
    assert by_kind["content"] == by_kind["room"] == by_kind["sender"] == []
    assert [r["rule_id"] for r in by_kind["underride"]] == [
        ".m.rule.call",
        ".m.rule.encrypted_room_one_to_one",
        ".m.rule.room_one_to_one",
        ".m.rule.message",
        ".m.rule.encrypted",
    ]
    master, _, invite, _, mention = by_kind["override"][:5]
    assert master == {
        "rule_id": ".m.rule.master",
        "default": True,
        "enabled": False,
        "actions": [],
        "conditions": [],
    }
    assert invite["conditions"][2] == {"kind": "event_match", "key": "state_key", "pattern": ME}
    assert mention == {
        "rule_id": ".m.rule.is_user_mention",
        "default": True,
        "enabled": True,
        "actions": ["notify", SOUND_DEFAULT, HIGHLIGHT],
        "conditions": [
            {"kind": "event_property_contains", "key": r"content.m\.mentions.user_ids", "value": ME}
        ],
    }
    # One shared object, whoever renders it.
    assert DEFAULT_RULESET.to_json(OTHER)["global"]["override"][2]["conditions"][2] == {
        "kind": "event_match",
        "key": "state_key",
        "pattern": OTHER,
    }
    assert PushRuleSet.build() is DEFAULT_RULESET is uncustomised(DEFAULT_RULES)


LEGACY = uncustomised(LEGACY_DEFAULT_RULES)


@pytest.mark.parametrize(
    ("data", "power", "expected"),
    [
        (message(f"hey {MY_NAME}!"), 0, ".m.rule.contains_display_name"),
        (message("hey alice liddell"), 0, ".m.rule.contains_display_name"),
        (message("hey AliceLiddell"), 0, ".m.rule.message"),
        (message("hey me!"), 0, ".m.rule.contains_user_name"),
        (message("hey meme"), 0, ".m.rule.message"),
        (message("@room hi"), 50, ".m.rule.roomnotif"),
        (message("@room hi"), 0, ".m.rule.message"),
        # A sender that declares its mentions is believed: the legacy rules stand aside.
        (mentions(OTHER, body=f"hey {MY_NAME}, @room"), 100, ".m.rule.message"),
        (mentions(ME, body="hi"), 0, ".m.rule.is_user_mention"),
    ],
)
def test_legacy_mention_rules(data: dict[str, Any], power: int, expected: str) -> None:
    match = run(data, LEGACY, power=power)
    assert match is not None and match.rule.rule_id == expected
    assert [r.rule_id for r in LEGACY.of_kind(RuleKind.CONTENT)] == [".m.rule.contains_user_name"]
    assert LEGACY.to_json(ME)["global"]["content"][0]["pattern"] == "me"


# -- conditions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("display_name", "body", "expected"),
    [
        ("Alice", "hi alice!", True),
        ("Alice", "ALICE", True),
        ("Alice", "Alice's cat", True),
        ("Alice", "malice", False),
        ("Alice", "alice_b", False),
        ("Alice", "alice2", False),
        ("Bob Smith", "bob smith, are you there", True),
        ("Bob Smith", "bob  smith", False),
        ("[Bot]", "the [bot] said", True),
        ("[Bot]", "x[bot]y", True),  # the name's own edges are boundaries
        ("J*hn", "john", False),  # a display name is a name, not a pattern
        ("J*hn", "hi j*hn", True),
        ("", "anything", False),
        (None, "anything", False),
        ("Zoë", "hi ZOË", True),
    ],
)
def test_contains_display_name(display_name: str | None, body: str, expected: bool) -> None:
    member = MemberFacts(ME, display_name)
    assert condition_matches(ContainsDisplayName(), facts(message(body)), member) is expected


def test_contains_display_name_needs_a_string_body() -> None:
    data = event("m.room.message", {"body": ["Alice"]})
    assert not condition_matches(ContainsDisplayName(), facts(data), MemberFacts(ME, "Alice"))


@pytest.mark.parametrize(
    ("condition", "content", "expected"),
    [
        (EventPropertyIs("content.flag", True), {"flag": True}, True),
        (EventPropertyIs("content.flag", True), {"flag": 1}, False),
        (EventPropertyIs("content.flag", 1), {"flag": True}, False),
        (EventPropertyIs("content.flag", 1), {"flag": 1}, True),
        (EventPropertyIs("content.flag", "1"), {"flag": 1}, False),
        (EventPropertyIs("content.flag", None), {"flag": None}, True),
        (EventPropertyIs("content.flag", None), {}, False),
        (EventPropertyIs("content.flag", "x"), {"flag": ["x"]}, False),
        (EventPropertyIs("content.flag", "X"), {"flag": "x"}, False),  # exact, not folded
        (EventPropertyIs(r"content.m\.federate", True), {"m.federate": True}, True),
        (EventPropertyContains("content.list", "#a:x"), {"list": ["#b:x", "#a:x"]}, True),
        (EventPropertyContains("content.list", ":x"), {"list": ["#b:x"]}, False),
        (EventPropertyContains("content.list", 1), {"list": [True]}, False),
        (EventPropertyContains("content.list", True), {"list": [1, True]}, True),
        (EventPropertyContains("content.list", "a"), {"list": "a"}, False),
        (EventPropertyContains("content.list", None), {"list": [{"a": 1}, None]}, True),
        (EventMatch("content.topic", "lunc?*"), {"topic": "Lunch plans"}, True),
        (EventMatch("content.topic", "*"), {"topic": None}, False),
        (EventMatch("content.topic", "*"), {}, False),
        (EventMatch("content.topic", "*"), {"topic": 5}, False),
        (EventMatch("content.topic", "lunch"), {"topic": "lunch plans"}, False),  # whole value
        (UnknownCondition({"kind": "org.example.new"}), {}, False),
    ],
)
def test_event_conditions(condition: Any, content: dict[str, Any], expected: bool) -> None:
    data = event("m.room.create", content, state_key="")
    assert condition_matches(condition, facts(data), ME_FACTS) is expected


@pytest.mark.parametrize(
    ("is_", "count", "expected"),
    [
        ("2", 2, True),
        ("2", 3, False),
        ("==2", 2, True),
        ("<10", 9, True),
        ("<10", 10, False),
        ("<=10", 10, True),
        (">10", 10, False),
        (">10", 11, True),
        (">=10", 10, True),
        ("=<2", 2, False),  # malformed: never matches
        ("two", 2, False),
    ],
)
def test_room_member_count(is_: str, count: int, expected: bool) -> None:
    assert condition_matches(RoomMemberCount(is_), facts(message(), count), ME_FACTS) is expected


# -- order, user rules and changes to defaults --------------------------------------------

CATCH_ALL = {"conditions": [], "actions": ["notify", {"set_tweak": "sound", "value": "all"}]}
SILENT: dict[str, Any] = {"actions": []}


@pytest.mark.parametrize(
    ("rules", "data", "expected"),
    [
        # A user override goes before every default rule but the master rule...
        ([("override", "all", CATCH_ALL)], message(msgtype="m.notice"), "all"),
        # ...and the master rule, enabled, before everything.
        ([("override", "all", CATCH_ALL)], message(), "all"),
        # Content, then room, then sender, then underride.
        (
            [
                ("content", "cake", {"pattern": "cake", "actions": ["notify"]}),
                ("room", ROOM, SILENT),
                ("sender", SENDER, SILENT),
            ],
            message("cake time"),
            "cake",
        ),
        ([("room", ROOM, SILENT), ("sender", SENDER, SILENT)], message(), ROOM),
        ([("room", ELSEWHERE, SILENT), ("sender", SENDER, SILENT)], message(), SENDER),
        (
            [("underride", "u", {"actions": [], "conditions": []}), ("sender", OTHER, SILENT)],
            message(),
            "u",
        ),
        # A user underride goes before the default underrides, not before overrides.
        (
            [("underride", "u", {"actions": [], "conditions": []})],
            mentions(ME),
            ".m.rule.is_user_mention",
        ),
        # User rules of one kind keep the user's order.
        (
            [
                ("content", "first", {"pattern": "c*e", "actions": []}),
                ("content", "second", {"pattern": "cake", "actions": ["notify"]}),
            ],
            message("cake"),
            "first",
        ),
        # A disabled rule is passed over... (see test_disabled_user_rules)
    ],
)
def test_user_rules_and_order(
    rules: list[tuple[str, str, dict[str, Any]]], data: dict[str, Any], expected: str
) -> None:
    match = run(data, user_rules(*rules))
    assert match is not None and match.rule.rule_id == expected


def test_in_order_puts_master_first_and_user_rules_before_defaults_of_their_kind() -> None:
    ruleset = user_rules(
        ("underride", "u", {"actions": [], "conditions": []}),
        ("override", "o", {"actions": [], "conditions": []}),
        ("content", "c", {"pattern": "x", "actions": []}),
        ("sender", SENDER, SILENT),
        ("room", ROOM, SILENT),
    )
    order = [rule.rule_id for rule in ruleset.in_order()]
    assert order[:3] == [".m.rule.master", "o", ".m.rule.suppress_notices"]
    assert order[order.index(".m.rule.suppress_edits") + 1 :] == [
        "c",
        ROOM,
        SENDER,
        "u",
        ".m.rule.call",
        ".m.rule.encrypted_room_one_to_one",
        ".m.rule.room_one_to_one",
        ".m.rule.message",
        ".m.rule.encrypted",
    ]
    rendered = ruleset.to_json(ME)["global"]
    assert rendered["room"] == [{"rule_id": ROOM, "default": False, "enabled": True, "actions": []}]
    assert rendered["content"] == [
        {"rule_id": "c", "default": False, "enabled": True, "actions": [], "pattern": "x"}
    ]
    assert [r["rule_id"] for r in rendered["override"]][:2] == [".m.rule.master", "o"]
    assert ruleset.find(RuleKind.ROOM, ROOM) is not None
    assert ruleset.find(RuleKind.OVERRIDE, ".m.rule.tombstone") is not None
    assert ruleset.find(RuleKind.UNDERRIDE, ".m.rule.tombstone") is None
    assert ruleset.find(RuleKind.CONTENT, "nope") is None


def test_disabled_user_rules_are_passed_over() -> None:
    rule = parse_rule("room", ROOM, SILENT).with_changes(False, None)
    ruleset = PushRuleSet.build({RuleKind.ROOM: [rule]})
    assert outcome(run(message(), ruleset)) == NOTIFY
    assert ruleset.to_json(ME)["global"]["room"][0]["enabled"] is False


@pytest.mark.parametrize(
    ("changes", "data", "expected"),
    [
        ({".m.rule.message": (False, None)}, message(), None),
        (
            {".m.rule.message": (None, ("notify", {"set_tweak": "sound", "value": "bell"}))},
            message(),
            (".m.rule.message", True, False, "bell"),
        ),
        ({".m.rule.suppress_notices": (False, None)}, message(msgtype="m.notice"), NOTIFY),
        (
            {".m.rule.is_user_mention": (None, ("notify",))},
            mentions(ME),
            (".m.rule.is_user_mention", True, False, None),
        ),
        # The master rule enabled silences everything, mentions and invites too.
        ({".m.rule.master": (True, None)}, message(), (".m.rule.master", False, False, None)),
        ({".m.rule.master": (True, None)}, mentions(ME), (".m.rule.master", False, False, None)),
        (
            {".m.rule.master": (True, None)},
            event("m.room.member", {"membership": "invite"}, state_key=ME),
            (".m.rule.master", False, False, None),
        ),
        ({".m.rule.no_such_rule": (False, None)}, message(), NOTIFY),
    ],
)
def test_changes_to_default_rules(changes: Any, data: dict[str, Any], expected: Any) -> None:
    ruleset = PushRuleSet.build(None, changes)
    assert outcome(run(data, ruleset)) == expected


def test_changes_to_defaults_render_and_share() -> None:
    changes = {".m.rule.message": (False, ("notify",))}
    one, two = PushRuleSet.build(None, changes), PushRuleSet.build(None, dict(changes))
    assert one is not two
    rendered = one.to_json(ME)["global"]["underride"][3]
    assert rendered["rule_id"] == ".m.rule.message"
    assert rendered["enabled"] is False and rendered["default"] is True
    # Users who made the same change share the changed run of default rules.
    assert one.segments[-1] is two.segments[-1]
    assert one.segments[1] is DEFAULT_RULESET.segments[1]


def test_master_with_user_override_still_wins() -> None:
    rule = parse_rule("override", "all", CATCH_ALL)
    ruleset = PushRuleSet.build({RuleKind.OVERRIDE: [rule]}, {".m.rule.master": (True, None)})
    assert outcome(run(message(), ruleset)) == (".m.rule.master", False, False, None)


# -- Element's per-room settings ----------------------------------------------------------

# "Mentions & keywords": a room rule with no actions (older clients: ["dont_notify"]).
MENTIONS_ONLY = [("room", ROOM, {"actions": []})]
MENTIONS_ONLY_OLD = [("room", ROOM, {"actions": ["dont_notify"]})]
# "Mute": an override rule named after the room, matching its ID, with no actions.
MUTE = [
    (
        "override",
        ROOM,
        {"conditions": [{"kind": "event_match", "key": "room_id", "pattern": ROOM}], "actions": []},
    )
]
KEYWORD = ("content", "cake", {"pattern": "cake", "actions": ["notify", HIGHLIGHT]})


@pytest.mark.parametrize(
    ("setting", "data", "expected"),
    [
        (MENTIONS_ONLY, message(), (ROOM, False, False, None)),
        (MENTIONS_ONLY, mentions(ME), (".m.rule.is_user_mention", True, True, "default")),
        (MENTIONS_ONLY, mentions(room=True), (".m.rule.is_room_mention", True, True, None)),
        (MENTIONS_ONLY, message("cake!"), ("cake", True, True, None)),
        (MENTIONS_ONLY, event("m.room.encrypted", {}), (ROOM, False, False, None)),
        (MENTIONS_ONLY, message(room_id=ELSEWHERE), NOTIFY),
        (MENTIONS_ONLY_OLD, message(), (ROOM, False, False, None)),
        (MENTIONS_ONLY_OLD, mentions(ME), (".m.rule.is_user_mention", True, True, "default")),
        (MUTE, message(), (ROOM, False, False, None)),
        (MUTE, mentions(ME), (ROOM, False, False, None)),
        (MUTE, mentions(room=True), (ROOM, False, False, None)),
        (MUTE, message("cake!"), (ROOM, False, False, None)),
        (MUTE, message(room_id=ELSEWHERE), NOTIFY),
        (
            MUTE,
            mentions(ME, body="x") | {"room_id": ELSEWHERE},
            (".m.rule.is_user_mention", True, True, "default"),
        ),
    ],
)
def test_element_room_notification_settings(
    setting: list[Any], data: dict[str, Any], expected: Any
) -> None:
    ruleset = user_rules(*setting, KEYWORD)
    assert outcome(run(data, ruleset, power=50)) == expected


def test_dont_notify_is_kept_but_means_nothing() -> None:
    rule = parse_rule("room", ROOM, {"actions": ["dont_notify", "coalesce"]})
    match = run(message(), PushRuleSet.build({RuleKind.ROOM: [rule]}))
    assert match is not None and match.actions == () and not match.summary.notify
    assert rule.to_json(ME)["actions"] == ["dont_notify", "coalesce"]


def test_many_muted_rooms_first_rule_wins() -> None:
    rooms = [f"!r{n}:example.org" for n in range(200)]
    overrides = [
        parse_rule(
            "override",
            room,
            {
                "conditions": [{"kind": "event_match", "key": "room_id", "pattern": room.upper()}],
                "actions": [] if n != 150 else ["notify"],
            },
        )
        for n, room in enumerate(rooms)
    ]
    # A later rule for the same room must not shadow the first.
    overrides.append(
        parse_rule(
            "override",
            "again",
            {
                "conditions": [{"kind": "event_match", "key": "room_id", "pattern": rooms[150]}],
                "actions": [],
            },
        )
    )
    room_rules = [parse_rule("room", room, {"actions": ["notify"]}) for room in rooms]
    ruleset = PushRuleSet.build({RuleKind.OVERRIDE: overrides, RuleKind.ROOM: room_rules})
    assert outcome(run(message(room_id=rooms[150]), ruleset)) == (rooms[150], True, False, None)
    assert outcome(run(message(room_id=rooms[3]), ruleset)) == (rooms[3], False, False, None)
    assert outcome(run(message(room_id=ROOM), ruleset)) == NOTIFY
    # Room rules compare the ID exactly; event_match is case-insensitive.
    only_rooms = PushRuleSet.build({RuleKind.ROOM: room_rules})
    assert outcome(run(message(room_id=rooms[3].upper()), only_rooms)) == NOTIFY


# -- the shared and the per-member paths agree --------------------------------------------


def test_batch_evaluation_matches_one_by_one() -> None:
    shared = user_rules(*MENTIONS_ONLY, KEYWORD)
    custom = [
        user_rules(("sender", SENDER, SILENT)),
        user_rules(*MUTE),
        user_rules(
            (
                "override",
                "dn",
                {
                    "conditions": [{"kind": "contains_display_name"}],
                    "actions": ["notify", HIGHLIGHT],
                },
            )
        ),
        PushRuleSet.build(None, {".m.rule.message": (False, None)}),
    ]
    names = ["Alice", "Bob", "Carol Ann", None, "Dave"]
    members = [MemberFacts(f"@u{n}:example.org", names[n % len(names)]) for n in range(40)]
    rulesets = [
        [DEFAULT_RULESET, shared, LEGACY, *custom][n % (3 + len(custom))]
        for n in range(len(members))
    ]
    samples = [
        message("hello carol ann and cake"),
        mentions("@u1:example.org", "@u7:example.org", body="bob: look"),
        mentions(room=True, body="all of you"),
        event("m.room.encrypted", {}),
        event("m.room.member", {"membership": "invite"}, state_key="@u3:example.org"),
        message("from me", **{"m.mentions": {}}) | {"sender": "@u2:example.org"},
    ]
    seen: set[str] = set()
    for data in samples:
        for count in (2, 40):
            batch = evaluate_for_members(
                facts(data, count, power=100), list(zip(rulesets, members, strict=True))
            )
            single = [
                evaluate(facts(data, count, power=100), ruleset, member)
                for ruleset, member in zip(rulesets, members, strict=True)
            ]
            assert batch == single
            seen.update(m.rule.rule_id for m in batch if m is not None)
    # The samples reach the rules they are meant to.
    assert {
        ".m.rule.is_user_mention",
        ".m.rule.is_room_mention",
        ".m.rule.contains_display_name",
        ".m.rule.invite_for_me",
        ".m.rule.room_one_to_one",
        ".m.rule.encrypted",
        "cake",
        "dn",
        ROOM,
    } <= seen


def _in_order(data: Any, ruleset: PushRuleSet, member: MemberFacts) -> str | None:
    """The reference: every rule in order, each condition on its own."""
    built = facts(data, 5, power=100)
    if member.user_id == built.sender:
        return None
    for rule in ruleset.in_order():
        if not rule.enabled:
            continue
        if rule.default and rule.rule_id in LEGACY_RULE_IDS and built.has_mentions:
            continue
        if all(condition_matches(c, built, member) for c in rule.implied_conditions()):
            return rule.rule_id
    return None


LEGACY_RULE_IDS = {
    ".m.rule.contains_display_name",
    ".m.rule.roomnotif",
    ".m.rule.contains_user_name",
}


def test_own_rules_around_shared_defaults_match_the_rules_in_order() -> None:
    # Rule sets whose own rules are all event-level are walked as "own rules, then the
    # defaults before the first own rule that matches"; one with a member-dependent own
    # rule is walked step by step. Both must give the first matching rule in order.
    own = [
        *MUTE,
        KEYWORD,
        ("room", ELSEWHERE, {"actions": ["notify", HIGHLIGHT]}),
        ("sender", SENDER, {"actions": ["notify"]}),
        (
            "underride",
            "stickers",
            {
                "conditions": [{"kind": "event_match", "key": "type", "pattern": "m.sticker"}],
                "actions": ["notify"],
            },
        ),
    ]
    dn = (
        "override",
        "dn",
        {"conditions": [{"kind": "contains_display_name"}], "actions": ["notify"]},
    )
    everything = (
        "override",
        "everything",
        {"conditions": [], "actions": ["notify", SOUND_DEFAULT]},
    )
    variants: list[PushRuleSet] = []
    for defaults in (DEFAULT_RULES, LEGACY_DEFAULT_RULES):
        same_room = ("room", ROOM, {"actions": ["notify", HIGHLIGHT]})
        for rules in (
            own,
            own[1:],
            own[2:],
            own[:2],
            [*own, same_room],
            [*own[1:], same_room],
            [*own, dn],
            [everything, *own[1:]],
        ):
            by_kind: dict[RuleKind, list[Any]] = {}
            for kind, rule_id, body in rules:
                by_kind.setdefault(RuleKind(kind), []).append(parse_rule(kind, rule_id, body))
            variants.append(PushRuleSet.build(by_kind, defaults=defaults))
            variants.append(
                PushRuleSet.build(by_kind, {MASTER_ID: (True, None)}, defaults=defaults)
            )
    members = [
        ME_FACTS,
        MemberFacts(OTHER, None),
        MemberFacts("@cake:example.org", "Cake"),
        MemberFacts(SENDER, "Sender"),
    ]
    samples = [
        message("hello"),
        message(f"cake for {MY_NAME}?"),
        message("cake for cake!"),
        message("cake", room_id=ELSEWHERE),
        message(f"{MY_NAME}", room_id=ELSEWHERE, **{"m.mentions": {}}),
        mentions(ME, body="cake"),
        mentions(room=True, body="@room cake"),
        message("@room, cake") | {"sender": OTHER},
        event("m.room.message", {"msgtype": "m.notice", "body": "cake"}),
        event("m.sticker", {"body": "cake"}),
        event("m.sticker", {"body": "a sticker"}, room_id=ELSEWHERE),
        event("m.room.encrypted", {}),
        event("m.room.member", {"membership": "invite"}, state_key=ME),
        event("m.room.member", {"membership": "invite", "body": "cake"}, state_key=OTHER),
    ]
    for data in samples:
        for ruleset in variants:
            expected = [_in_order(data, ruleset, member) for member in members]
            single = [evaluate(facts(data, 5, power=100), ruleset, m) for m in members]
            assert [m and m.rule.rule_id for m in single] == expected
            # Shared by every member (reduced once), and again with the same facts.
            built = facts(data, 5, power=100)
            for _ in range(2):
                batch = evaluate_for_members(built, [(ruleset, m) for m in members])
                assert [m and m.rule.rule_id for m in batch] == expected


MASTER_ID = ".m.rule.master"


# -- parsing ------------------------------------------------------------------------------

LONG = "x" * 1_001


def one(kind: str, **fields: Any) -> dict[str, Any]:
    """A rule body with one condition."""
    return {"actions": [], "conditions": [{"kind": kind, **fields}]}


MATCH, IS, CONTAINS, COUNT = (
    "event_match",
    "event_property_is",
    "event_property_contains",
    "room_member_count",
)
INVALID, MISSING_PARAM = Codes.INVALID_PARAM, Codes.MISSING_PARAM


@pytest.mark.parametrize(
    ("kind", "rule_id", "body", "errcode"),
    [
        ("override", "r", {}, MISSING_PARAM),
        ("content", "r", {"actions": []}, MISSING_PARAM),
        ("override", "r", [], Codes.BAD_JSON),
        ("override", "r", {"actions": "notify"}, INVALID),
        ("override", "r", {"actions": ["shout"]}, INVALID),
        ("override", "r", {"actions": [{"value": 1}]}, INVALID),
        ("override", "r", {"actions": [5]}, INVALID),
        ("override", "r", {"actions": ["notify"] * 21}, INVALID),
        ("content", "r", {"actions": [], "pattern": 5}, INVALID),
        ("content", "r", {"actions": [], "pattern": LONG}, INVALID),
        ("override", ".m.rule.master", {"actions": []}, INVALID),
        ("content", ".mine", {"actions": [], "pattern": "x"}, INVALID),
        ("override", "a/b", {"actions": []}, INVALID),
        ("override", "a\\b", {"actions": []}, INVALID),
        ("override", "", {"actions": []}, INVALID),
        ("override", LONG, {"actions": []}, INVALID),
        ("nonsense", "r", {"actions": []}, INVALID),
        ("override", "r", {"actions": [], "conditions": {}}, INVALID),
        ("override", "r", {"actions": [], "conditions": ["event_match"]}, INVALID),
        ("override", "r", {"actions": [], "conditions": [{"key": "type"}]}, INVALID),
        (
            "override",
            "r",
            {"actions": [], "conditions": [{"kind": "contains_display_name"}] * 21},
            INVALID,
        ),
        ("override", "r", one(MATCH, key="type"), INVALID),
        ("override", "r", one(MATCH, pattern="x"), INVALID),
        ("override", "r", one(MATCH, key=LONG, pattern="x"), INVALID),
        ("override", "r", one(MATCH, key="k", pattern=LONG), INVALID),
        ("override", "r", one(IS, key="k"), INVALID),
        ("override", "r", one(IS, key="k", value=1.5), INVALID),
        ("override", "r", one(IS, key="k", value=[1]), INVALID),
        ("override", "r", one(CONTAINS, key="k", value=2**53), INVALID),
        ("override", "r", one(COUNT, **{"is": "=<2"}), INVALID),
        ("override", "r", one(COUNT, **{"is": ""}), INVALID),
        ("override", "r", one(COUNT, **{"is": 2}), INVALID),
        ("override", "r", one("sender_notification_permission"), INVALID),
        (
            "override",
            "r",
            {"actions": [{"set_tweak": "x", "value": "v" * 10_000}]},
            Codes.TOO_LARGE,
        ),
    ],
)
def test_parse_errors(kind: str, rule_id: str, body: Any, errcode: Codes) -> None:
    with pytest.raises(BadRequest) as caught:
        parse_rule(kind, rule_id, body)
    assert caught.value.errcode == errcode
    assert caught.value.status in (400, 413)


def test_parse_rules() -> None:
    rule = parse_rule(
        "override",
        "beer",
        {
            "conditions": [
                {"kind": "event_match", "key": "content.body", "pattern": "beer"},
                {"kind": "room_member_count", "is": "<=10"},
                {"kind": "event_property_is", "key": "content.n", "value": 2**53 - 1},
                {"kind": "event_property_contains", "key": "content.l", "value": None},
                {"kind": "sender_notification_permission", "key": "room"},
                {"kind": "contains_display_name"},
            ],
            "actions": ["notify", {"set_tweak": "sound", "value": "beeroclock.wav"}],
            "ignored": True,
        },
    )
    assert rule.enabled and not rule.default
    assert rule.conditions is not None and len(rule.conditions) == 6
    assert rule.to_json(ME)["conditions"][1] == {"kind": "room_member_count", "is": "<=10"}
    assert hash(rule) == hash(parse_rule("override", "beer", rule.to_json(ME)))
    content = parse_rule("content", "cake", {"pattern": "cake*lie", "actions": ["notify"]})
    assert content.pattern == "cake*lie" and content.conditions is None
    room = parse_rule("room", ROOM, {"actions": [], "conditions": [{"kind": "x"}]})
    assert room.implied_conditions() == (EventPropertyIs("room_id", ROOM),)
    sender = parse_rule(RuleKind.SENDER, SENDER, {"actions": []})
    assert sender.implied_conditions() == (EventPropertyIs("sender", SENDER),)
    no_conditions = parse_rule("underride", "all", {"actions": ["notify"]})
    assert no_conditions.conditions == ()
    catch_all = user_rules(("underride", "all", {"actions": ["notify"]}))
    assert outcome(run(event("m.anything", {}), catch_all)) == ("all", True, False, None)
    assert parse_kind("room") is RuleKind.ROOM
    assert parse_actions(["notify", {"set_tweak": "highlight", "value": False}]) == (
        "notify",
        {"set_tweak": "highlight", "value": False},
    )


def test_equal_conditions_are_equal_values() -> None:
    assert EventPropertyIs("k", True) != EventPropertyIs("k", 1)
    assert len({EventPropertyIs("k", True), EventPropertyIs("k", 1)}) == 2
    assert EventMatch("k", "p") == EventMatch("k", "p")
    assert hash(RoomMemberCount("2")) == hash(RoomMemberCount("2"))


def test_unknown_conditions_are_kept_and_never_match() -> None:
    raw = {"kind": "org.example.future", "key": "content.body", "magic": [1, {"a": 2}]}
    rule = parse_rule("override", "future", {"conditions": [raw], "actions": ["notify"]})
    assert rule.conditions == (UnknownCondition(rule.conditions[0].raw),)  # type: ignore[index,union-attr]
    assert rule.to_json(ME)["conditions"] == [raw]
    ruleset = PushRuleSet.build({RuleKind.OVERRIDE: [rule]})
    assert outcome(run(message(), ruleset)) == NOTIFY


def test_stored_rules_load_leniently() -> None:
    body = {"conditions": [{"kind": "room_member_count", "is": "lots"}], "actions": ["notify"]}
    rule = load_rule("override", "old", body, enabled=False)
    assert isinstance(rule.conditions[0], UnknownCondition)  # type: ignore[index]
    assert not rule.enabled
    assert outcome(run(message(), PushRuleSet.build({RuleKind.OVERRIDE: [rule]}))) == NOTIFY


@pytest.mark.parametrize(
    ("actions", "expected"),
    [
        ((), ActionSummary(False, False, None)),
        (("notify",), ActionSummary(True, False, None)),
        (("notify", {"set_tweak": "highlight"}), ActionSummary(True, True, None)),
        (("notify", {"set_tweak": "highlight", "value": False}), ActionSummary(True, False, None)),
        (({"set_tweak": "sound", "value": "ding"},), ActionSummary(False, False, "ding")),
        (("dont_notify",), ActionSummary(False, False, None)),
        (("coalesce", "notify"), ActionSummary(True, False, None)),
    ],
)
def test_action_summary(actions: tuple[Any, ...], expected: ActionSummary) -> None:
    assert ActionSummary.of(actions) == expected


def test_default_rules_object_lookups() -> None:
    assert isinstance(DEFAULT_RULES, DefaultRules)
    assert DEFAULT_RULES.find(RuleKind.OVERRIDE, ".m.rule.master") is DEFAULT_RULES.master
    assert DEFAULT_RULES.find(RuleKind.CONTENT, ".m.rule.master") is None
    assert DEFAULT_RULES.find(RuleKind.CONTENT, ".m.rule.contains_user_name") is None
    assert LEGACY_DEFAULT_RULES.find(RuleKind.CONTENT, ".m.rule.contains_user_name") is not None
