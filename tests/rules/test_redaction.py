"""The redaction algorithm per version, for each event type with protected content, and
when a redaction takes effect."""

from __future__ import annotations

from typing import Any

import pytest

from homeserver.rules.power_levels import PowerLevels
from homeserver.rules.redaction import redact, should_apply_redaction
from homeserver.types.room_versions import KNOWN_ROOM_VERSIONS
from tests.rules.builder import ALICE, ALL_VERSIONS, BOB, EVE, Room

BASE: dict[str, Any] = {
    "event_id": "$e:a",
    "room_id": "!r:a",
    "sender": "@a:a",
    "state_key": "",
    "origin": "a",
    "origin_server_ts": 1,
    "depth": 3,
    "prev_events": [],
    "auth_events": [],
    "hashes": {"sha256": "x"},
    "signatures": {"a": {"ed25519:1": "s"}},
    "membership": "join",
    "prev_state": [],
    "unsigned": {"age": 1},
    "redacts": "$other",
    "extra_top_level": True,
}


def _versions(spec: str) -> list[str]:
    first, _, last = spec.partition("-")
    return [str(v) for v in range(int(first), int(last or first) + 1)]


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_top_level_keys(version: str) -> None:
    event = {**BASE, "type": "m.room.message", "content": {"body": "x"}}
    result = redact(KNOWN_ROOM_VERSIONS[version], event)
    always = {"event_id", "room_id", "sender", "state_key", "origin_server_ts", "depth"}
    always |= {"prev_events", "auth_events", "hashes", "signatures", "type", "content"}
    until_v11 = {"origin", "membership", "prev_state"}
    expected = always if int(version) >= 11 else always | until_v11
    assert set(result) == expected
    assert result["content"] == {}
    assert result["signatures"] == BASE["signatures"]
    assert event["content"] == {"body": "x"}  # the input is left alone


PL = {
    "ban": 50,
    "events": {"m.room.name": 50},
    "events_default": 0,
    "invite": 0,
    "kick": 50,
    "notifications": {"room": 50},
    "redact": 50,
    "state_default": 50,
    "users": {"@a:a": 100},
    "users_default": 0,
    "extra": 1,
}
PL_KEPT = {k: v for k, v in PL.items() if k not in ("invite", "notifications", "extra")}
MEMBER = {
    "membership": "invite",
    "displayname": "D",
    "avatar_url": "mxc://a/b",
    "join_authorised_via_users_server": "@b:a",
    "third_party_invite": {"display_name": "d", "signed": {"mxid": "@b:a", "token": "t"}},
}
CREATE = {"creator": "@a:a", "room_version": "1", "m.federate": False, "type": "m.space"}

CASES: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    ("1-8", "m.room.member", MEMBER, {"membership": "invite"}),
    (
        "9-10",
        "m.room.member",
        MEMBER,
        {"membership": "invite", "join_authorised_via_users_server": "@b:a"},
    ),
    (
        "11-12",
        "m.room.member",
        MEMBER,
        {
            "membership": "invite",
            "join_authorised_via_users_server": "@b:a",
            "third_party_invite": {"signed": {"mxid": "@b:a", "token": "t"}},
        },
    ),
    (
        "11-12",
        "m.room.member",
        {"membership": "join", "third_party_invite": "x"},
        {"membership": "join"},
    ),
    ("1-10", "m.room.create", CREATE, {"creator": "@a:a"}),
    ("11-12", "m.room.create", CREATE, CREATE),
    (
        "1-7",
        "m.room.join_rules",
        {"join_rule": "restricted", "allow": [], "x": 1},
        {"join_rule": "restricted"},
    ),
    (
        "8-12",
        "m.room.join_rules",
        {"join_rule": "restricted", "allow": [], "x": 1},
        {
            "join_rule": "restricted",
            "allow": [],
        },
    ),
    ("1-10", "m.room.power_levels", PL, PL_KEPT),
    ("11-12", "m.room.power_levels", PL, {**PL_KEPT, "invite": 0}),
    ("1-5", "m.room.aliases", {"aliases": ["#a:a"], "x": 1}, {"aliases": ["#a:a"]}),
    ("6-12", "m.room.aliases", {"aliases": ["#a:a"]}, {}),
    (
        "1-12",
        "m.room.history_visibility",
        {"history_visibility": "joined", "x": 1},
        {"history_visibility": "joined"},
    ),
    ("1-10", "m.room.redaction", {"redacts": "$x", "reason": "r"}, {}),
    ("11-12", "m.room.redaction", {"redacts": "$x", "reason": "r"}, {"redacts": "$x"}),
    ("1-12", "m.room.topic", {"topic": "t"}, {}),
    ("1-12", "m.room.name", {"name": "n"}, {}),
    ("1-12", "m.room.guest_access", {"guest_access": "can_join"}, {}),
    ("1-12", "m.room.message", {"body": "b", "membership": "join"}, {}),
]


@pytest.mark.parametrize(
    ("version", "event_type", "content", "expected"),
    [(v, t, c, e) for spec, t, c, e in CASES for v in _versions(spec)],
)
def test_content_rules(
    version: str, event_type: str, content: dict[str, Any], expected: dict[str, Any]
) -> None:
    event = {**BASE, "type": event_type, "content": content}
    assert redact(KNOWN_ROOM_VERSIONS[version], event)["content"] == expected


def test_content_that_is_not_an_object() -> None:
    event = {**BASE, "type": "m.room.member", "content": "junk"}
    assert redact(KNOWN_ROOM_VERSIONS["10"], event)["content"] == {}


def test_redacting_frozen_event_data_gives_plain_json() -> None:
    room = Room("11").public()
    redacted = redact(room.version, room.create.data)
    redacted["content"]["extra"] = 1
    assert "extra" not in room.create.content


@pytest.mark.parametrize("version", ["1", "3", "10", "12"])
def test_when_a_redaction_applies(version: str) -> None:
    room = Room(version).public({BOB: 10})
    room.join(BOB)
    room.join(EVE)
    power = PowerLevels(
        room.version,
        room.events[room.state[("m.room.power_levels", "")]],
        room.create,
    )
    mine = room.send("m.room.message", BOB, {"body": "x"})
    theirs = room.send("m.room.message", EVE, {"body": "y"})

    def redaction(sender: str, target: str) -> Any:
        return room.send("m.room.redaction", sender, {}, redacts=target)

    assert should_apply_redaction(redaction(BOB, mine.event_id), mine, power)
    assert should_apply_redaction(redaction(ALICE, theirs.event_id), theirs, power)  # moderator
    assert not should_apply_redaction(redaction(ALICE, theirs.event_id), mine, power)
    if room.version.redaction_auth_rule:
        # v1-v2: the redaction's event ID must share the redacted event's server (and
        # auth rule 11 already refuses others).
        refused = room.build("m.room.redaction", BOB, {}, redacts=theirs.event_id)
        assert not should_apply_redaction(refused, theirs, power)
    else:
        # Same server as the sender of the redacted event: Bob may not redact Eve's.
        assert not should_apply_redaction(redaction(BOB, theirs.event_id), theirs, power)
        alice_message = room.send("m.room.message", ALICE, {"body": "z"})
        assert should_apply_redaction(redaction(BOB, alice_message.event_id), alice_message, power)
