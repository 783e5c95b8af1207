"""Reading power levels: stringy and floaty values, defaults, creators."""

from __future__ import annotations

import math
from typing import Any

import pytest

from homeserver.rules.power_levels import INFINITE, PowerLevels, as_int, creators
from homeserver.types.room_versions import KNOWN_ROOM_VERSIONS
from tests.rules.builder import ALICE, BOB, CAROL, Room


@pytest.mark.parametrize(
    ("value", "v5", "v9", "v10"),
    [
        (50, 50, 50, 50),
        (-7, -7, -7, -7),
        (True, None, None, None),
        (None, None, None, None),
        ("100", 100, 100, None),
        ("000100", 100, 100, None),
        ("+100", 100, 100, None),
        ("-100", -100, -100, None),
        (" \t100 \n", 100, 100, None),
        (" +00100 ", 100, 100, None),
        ("1_000", None, None, None),
        ("\u0661\u0660\u0660", None, None, None),  # Arabic-Indic digits
        ("10.5", None, None, None),
        ("++1", None, None, None),
        ("", None, None, None),
        (50.57, 50, None, None),
        (-50.57, -50, None, None),
        (5.114698e4, 51146, None, None),
        (math.inf, None, None, None),
        (math.nan, None, None, None),
        ([50], None, None, None),
    ],
)
def test_as_int(value: Any, v5: int | None, v9: int | None, v10: int | None) -> None:
    for version, expected in (("5", v5), ("9", v9), ("10", v10)):
        assert as_int(value, KNOWN_ROOM_VERSIONS[version]) == expected


@pytest.mark.parametrize("version", ["1", "10", "11"])
def test_defaults_and_users(version: str) -> None:
    room = Room(version)
    none = PowerLevels(room.version, None, room.create)
    assert none.user_level(ALICE) == 100 and none.user_level(BOB) == 0
    assert none.event_level("m.room.topic", True) == 50
    assert none.event_level("m.room.message", False) == 0
    assert [none.named(k) for k in ("ban", "kick", "redact", "invite")] == [50, 50, 50, 0]
    room.public({BOB: 20})
    levels = room.events[room.state[("m.room.power_levels", "")]]
    power = PowerLevels(room.version, levels, room.create)
    assert (power.user_level(ALICE), power.user_level(BOB), power.user_level(CAROL)) == (
        100,
        20,
        0,
    )
    assert PowerLevels(room.version, None, None).user_level(ALICE) == 0


def test_v12_creators() -> None:
    room = Room("12", create_content={"additional_creators": [BOB]})
    assert creators(room.create) == {ALICE, BOB}
    # Junk entries (which auth rule 1.4 refuses anyway) are not creators.
    junk = room.build("m.room.create", ALICE, {"additional_creators": [CAROL, 5]}, prev=[])
    assert creators(junk) == {ALICE, CAROL}
    power = PowerLevels(room.version, None, room.create)
    assert power.user_level(ALICE) == power.user_level(BOB) == INFINITE
    assert power.user_level(CAROL) == 0
    assert creators(None) == frozenset()


def test_additional_creators_are_not_creators_before_v12() -> None:
    room = Room("11", create_content={"additional_creators": [BOB]})
    assert creators(room.create) == {ALICE}
    assert PowerLevels(room.version, None, room.create).user_level(BOB) == 0
