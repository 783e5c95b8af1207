"""Building and validating events of every version."""

from __future__ import annotations

import pytest

from homeserver.rules.events import EventFormatError, make_event, validate_event
from homeserver.rules.signing import check_content_hash
from tests.rules.builder import ALICE, BOB, Room

ALL = [str(v) for v in range(1, 13)]


@pytest.mark.parametrize("version", ALL)
def test_built_events_round_trip(version: str) -> None:
    room = Room(version).public()
    message = room.send("m.room.message", ALICE, {"body": "hi"})
    again = make_event(room.version, message.data)
    assert again.event_id == message.event_id
    assert check_content_hash(dict(message.data))
    if version in ("1", "2"):
        assert message.event_id.endswith(":a.test")
        assert message.data["prev_events"][0][0] == message.prev_event_ids[0]
    else:
        assert ":" not in message.event_id
    assert message.room_id == room.room_id
    assert message.depth == room.events[message.prev_event_ids[0]].depth + 1


def test_v12_create_names_the_room() -> None:
    room = Room("12")
    assert "room_id" not in room.create.data
    assert room.create.room_id == "!" + room.create.event_id[1:]


@pytest.mark.parametrize("version", ["10", "11"])
def test_redacts_location(version: str) -> None:
    room = Room(version).public()
    target = room.send("m.room.message", ALICE, {"body": "x"})
    redaction = room.build("m.room.redaction", ALICE, {})
    from homeserver.rules.events import build_local_event
    from tests.rules.builder import KEY

    event = build_local_event(
        room.version,
        server_name="a.test",
        signing_key=KEY,
        room_id=room.room_id,
        sender=ALICE,
        event_type="m.room.redaction",
        content={},
        prev_event_ids=room.head,
        auth_event_ids=list(redaction.auth_event_ids),
        depth=10,
        origin_server_ts=1,
        redacts=target.event_id,
    )
    assert event.redacts == target.event_id
    assert ("redacts" in event.content) is (version == "11")


def _pdu(**overrides: object) -> dict:
    pdu = {
        "type": "m.room.message",
        "sender": BOB,
        "room_id": "!r:a.test",
        "content": {"body": "x"},
        "depth": 1,
        "origin_server_ts": 1,
        "prev_events": [],
        "auth_events": [],
        "hashes": {},
        "signatures": {},
    }
    pdu.update(overrides)
    return pdu


@pytest.mark.parametrize(
    ("version", "pdu", "error"),
    [
        ("10", _pdu(content={"body": "x" * 70_000}), "bytes"),
        ("10", _pdu(sender="@" + "a" * 300 + ":a.test"), "255"),
        ("10", _pdu(type=5), "string"),
        ("10", _pdu(content={"n": 2**60}), "out of range"),
        ("10", _pdu(content={"n": 1.5}), "floats"),
        ("10", _pdu(depth=-1), "depth"),
        ("10", _pdu(prev_events=["$x"] * 21), "prev_events"),
        ("10", _pdu(content=[]), "content"),
        ("1", _pdu(), "event_id"),
        ("12", _pdu(type="m.room.create", state_key=""), "no room_id"),
    ],
)
def test_invalid_events(version: str, pdu: dict, error: str) -> None:
    from homeserver.types.room_versions import ROOM_VERSIONS

    missing = dict(pdu)
    with pytest.raises(EventFormatError, match=error):
        validate_event(ROOM_VERSIONS[version], missing)


def test_old_versions_allow_big_integers() -> None:
    from homeserver.types.room_versions import ROOM_VERSIONS

    validate_event(ROOM_VERSIONS["5"], _pdu(content={"n": 2**60}))
