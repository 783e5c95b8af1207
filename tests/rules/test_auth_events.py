"""Auth events selection (spec: server-server API "Auth events selection")."""

from __future__ import annotations

from typing import Any

import pytest

from homeserver.rules.auth_events import auth_types_for_event, select_auth_event_ids
from homeserver.types.room_versions import KNOWN_ROOM_VERSIONS

A, B, C = "@a:x", "@b:x", "@c:x"
CREATE = ("m.room.create", "")
PL = ("m.room.power_levels", "")
JR = ("m.room.join_rules", "")


def types(version: str, event_type: str, content: Any, state_key: str | None = None) -> list:
    return auth_types_for_event(KNOWN_ROOM_VERSIONS[version], event_type, A, state_key, content)


def test_create_event_cites_nothing() -> None:
    assert types("10", "m.room.create", {}, "") == []


@pytest.mark.parametrize(("version", "with_create"), [("1", True), ("11", True), ("12", False)])
def test_ordinary_events(version: str, with_create: bool) -> None:
    expected = [CREATE] if with_create else []
    assert types(version, "m.room.message", {}) == [*expected, PL, ("m.room.member", A)]


@pytest.mark.parametrize(
    ("version", "content", "target", "extra"),
    [
        ("10", {"membership": "join"}, A, [JR]),
        ("10", {"membership": "invite"}, B, [("m.room.member", B), JR]),
        ("10", {"membership": "knock"}, A, [JR]),
        ("10", {"membership": "leave"}, B, [("m.room.member", B)]),
        ("10", {"membership": "ban"}, B, [("m.room.member", B)]),
        (
            "10",
            {"membership": "invite", "third_party_invite": {"signed": {"token": "t"}}},
            B,
            [("m.room.member", B), JR, ("m.room.third_party_invite", "t")],
        ),
        (
            "10",
            {"membership": "invite", "third_party_invite": {"signed": {}}},
            B,
            [
                ("m.room.member", B),
                JR,
            ],
        ),
        (
            "10",
            {"membership": "join", "join_authorised_via_users_server": C},
            A,
            [JR, ("m.room.member", C)],
        ),
        ("7", {"membership": "join", "join_authorised_via_users_server": C}, A, [JR]),
        ("10", {"membership": "leave", "join_authorised_via_users_server": C}, A, []),
    ],
)
def test_member_events(version: str, content: Any, target: str, extra: list) -> None:
    base = [CREATE, PL, ("m.room.member", A)]
    expected = list(dict.fromkeys([*base, ("m.room.member", target), *extra]))
    assert types(version, "m.room.member", content, target) == expected


def test_selection_takes_what_the_state_has() -> None:
    state = {CREATE: "$c", PL: "$p", ("m.room.member", A): "$m", JR: "$j", ("x", ""): "$x"}
    version = KNOWN_ROOM_VERSIONS["10"]
    chosen = select_auth_event_ids(version, "m.room.member", A, B, {"membership": "invite"}, state)
    assert chosen == ["$c", "$p", "$m", "$j"]
    v12 = KNOWN_ROOM_VERSIONS["12"]
    assert select_auth_event_ids(v12, "m.room.message", A, None, {}, state) == ["$p", "$m"]
