"""The redaction algorithm per version, for each event type with protected content."""

from __future__ import annotations

import pytest

from homeserver.rules.redaction import redact
from homeserver.types.room_versions import ROOM_VERSIONS

BASE = {
    "event_id": "$e:a",
    "room_id": "!r:a",
    "sender": "@a:a",
    "origin": "a",
    "origin_server_ts": 1,
    "depth": 3,
    "prev_events": [],
    "auth_events": [],
    "hashes": {"sha256": "x"},
    "signatures": {"a": {}},
    "membership": "join",
    "prev_state": [],
    "unsigned": {"age": 1},
    "extra_top_level": True,
}


def redacted_content(version: str, event_type: str, content: dict, **extra: object) -> dict:
    return redact(
        ROOM_VERSIONS[version], {**BASE, "type": event_type, "content": content, **extra}
    )["content"]


@pytest.mark.parametrize("version", [str(v) for v in range(1, 13)])
def test_top_level_keys(version: str) -> None:
    result = redact(
        ROOM_VERSIONS[version], {**BASE, "type": "m.room.message", "content": {"body": "x"}}
    )
    assert "unsigned" not in result and "extra_top_level" not in result
    assert result["content"] == {}
    assert result["hashes"] == {"sha256": "x"}
    v11 = int(version) >= 11
    for key in ("origin", "membership", "prev_state"):
        assert (key in result) is not v11


PL = {
    "ban": 50,
    "events": {},
    "events_default": 0,
    "invite": 0,
    "kick": 50,
    "notifications": {"room": 50},
    "redact": 50,
    "state_default": 50,
    "users": {},
    "users_default": 0,
}


@pytest.mark.parametrize(
    ("version", "event_type", "content", "expected"),
    [
        ("1", "m.room.member", {"membership": "join", "displayname": "A"}, {"membership": "join"}),
        (
            "9",
            "m.room.member",
            {"membership": "join", "join_authorised_via_users_server": "@b:a", "x": 1},
            {"membership": "join", "join_authorised_via_users_server": "@b:a"},
        ),
        (
            "8",
            "m.room.member",
            {"membership": "join", "join_authorised_via_users_server": "@b:a"},
            {"membership": "join"},
        ),
        (
            "11",
            "m.room.member",
            {
                "membership": "invite",
                "third_party_invite": {"display_name": "d", "signed": {"s": 1}},
            },
            {"membership": "invite", "third_party_invite": {"signed": {"s": 1}}},
        ),
        (
            "10",
            "m.room.member",
            {"membership": "invite", "third_party_invite": {"signed": {"s": 1}}},
            {"membership": "invite"},
        ),
        ("1", "m.room.create", {"creator": "@a:a", "m.federate": False}, {"creator": "@a:a"}),
        (
            "11",
            "m.room.create",
            {"room_version": "11", "m.federate": False},
            {"room_version": "11", "m.federate": False},
        ),
        ("7", "m.room.join_rules", {"join_rule": "public", "allow": []}, {"join_rule": "public"}),
        (
            "8",
            "m.room.join_rules",
            {"join_rule": "restricted", "allow": []},
            {"join_rule": "restricted", "allow": []},
        ),
        (
            "10",
            "m.room.power_levels",
            PL,
            {k: v for k, v in PL.items() if k not in ("invite", "notifications")},
        ),
        ("11", "m.room.power_levels", PL, {k: v for k, v in PL.items() if k != "notifications"}),
        ("5", "m.room.aliases", {"aliases": ["#a:a"]}, {"aliases": ["#a:a"]}),
        ("6", "m.room.aliases", {"aliases": ["#a:a"]}, {}),
        (
            "10",
            "m.room.history_visibility",
            {"history_visibility": "joined", "x": 1},
            {"history_visibility": "joined"},
        ),
        ("10", "m.room.redaction", {"redacts": "$x", "reason": "r"}, {}),
        ("11", "m.room.redaction", {"redacts": "$x", "reason": "r"}, {"redacts": "$x"}),
        ("12", "m.room.topic", {"topic": "t"}, {}),
    ],
)
def test_content_rules(version: str, event_type: str, content: dict, expected: dict) -> None:
    assert redacted_content(version, event_type, content) == expected
