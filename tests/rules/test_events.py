"""Building, finalising and validating events of every version, and the Event type."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from homeserver.rules.events import (
    EventFormatError,
    build_local_event,
    finalise_event,
    make_event,
    new_local_event_json,
    stored_event,
    validate_event,
)
from homeserver.rules.signing import check_content_hash
from homeserver.types.event import Event
from homeserver.types.room_versions import KNOWN_ROOM_VERSIONS
from tests.rules.builder import ALICE, ALL_VERSIONS, BOB, KEY, Room


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_built_events_round_trip(version: str) -> None:
    room = Room(version).public()
    message = room.send("m.room.message", ALICE, {"body": "hi"})
    again = make_event(room.version, message.to_json())
    assert again.event_id == message.event_id
    assert check_content_hash(message.data)
    assert "origin" not in message.data
    if version in ("1", "2"):
        assert message.event_id.endswith(":a.test")
        assert message.data["prev_events"][0] == [message.prev_event_ids[0], {}]
    else:
        assert ":" not in message.event_id
        assert "event_id" not in message.data
        assert message.data["prev_events"] == list(message.prev_event_ids)
    if version == "3":
        assert message.event_id == "$" + message.event_id[1:].replace("-", "+").replace("_", "/")
    assert message.room_id == room.room_id
    assert message.depth == room.events[message.prev_event_ids[0]].depth + 1
    # An event ID sent along with a v3+ event is ignored: the hash decides.
    if version not in ("1", "2"):
        assert make_event(room.version, {**message.data, "event_id": "$x"}).event_id == (
            message.event_id
        )


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_stored_events_keep_the_id_they_were_stored_under(version: str) -> None:
    room = Room(version).public()
    message = room.send("m.room.message", ALICE, {"body": "hi"})
    loaded = stored_event(room.version, message.to_json(), message.event_id)
    assert loaded == message and loaded.data == message.data
    if version not in ("1", "2"):
        # The ID is the stored one (no rehash) and never a field of the PDU.
        assert stored_event(room.version, message.data, "$stored").event_id == "$stored"
        assert (
            "event_id"
            not in stored_event(room.version, {**message.data, "event_id": "$x"}, "$y").data
        )


def test_events_from_separate_json_share_their_keys_and_short_values() -> None:
    room = Room("10").public()
    first, second = (
        make_event(
            room.version,
            json.loads(room.send("m.room.message", ALICE, {"body": b}).canonical_json()),
        )
        for b in ("one", "two")
    )
    key_of = {k: k for k in first.data}
    assert all(key_of[k] is k for k in second.data if k in key_of)
    assert first.data["sender"] is second.data["sender"]
    assert first.data["room_id"] is second.data["room_id"]
    long_body = "x" * 500
    assert (
        make_event(room.version, {**first.data, "content": {"body": long_body}}).content["body"]
        == long_body
    )


def test_accessors() -> None:
    room = Room("10").public()
    member = room.join(BOB, displayname="Bob")
    assert (member.type, member.sender, member.state_key) == ("m.room.member", BOB, BOB)
    assert member.membership == "join" and member.is_state
    assert member.state_pair == ("m.room.member", BOB)
    assert member.content["displayname"] == "Bob"
    assert member.redacts is None
    assert set(member.signatures) == {"a.test"}
    assert member.auth_event_ids and member.origin_server_ts > 0
    message = room.send("m.room.message", BOB, {"body": "x", "membership": 5})
    assert message.membership is None and not message.is_state
    with pytest.raises(ValueError):
        _ = message.state_pair
    assert message == make_event(room.version, message.data)
    assert hash(message) == hash(message.event_id)
    assert message.get("depth") == message.depth
    assert repr(message).startswith("<Event $")


def test_events_are_deeply_immutable() -> None:
    room = Room("10").public()
    content = {"body": "x", "list": [1, {"a": 1}]}
    event = room.send("m.room.message", ALICE, content)
    content["list"].append(2)  # the event copied what it was given
    assert event.content["list"] == [1, {"a": 1}]
    for mutate in (
        lambda: event.content.__setitem__("body", "y"),  # type: ignore[index]
        lambda: event.content["list"].append(3),
        lambda: event.content["list"][1].update(b=2),
        lambda: event.data.pop("content"),  # type: ignore[attr-defined]
    ):
        with pytest.raises(TypeError):
            mutate()
    with pytest.raises(AttributeError):
        event.event_id = "$other"  # type: ignore[misc]
    copied = event.to_json()
    copied["content"]["list"].append(3)
    deep = copy.deepcopy(event.data)
    deep["content"]["body"] = "changed"
    assert event.content["body"] == "x" and len(event.content["list"]) == 2
    assert event.canonical_json().startswith('{"auth_events":')


def test_v12_create_names_the_room() -> None:
    room = Room("12")
    assert "room_id" not in room.create.data
    assert room.create.room_id == "!" + room.create.event_id[1:]
    message_room = Room("12").public()
    assert message_room.events[message_room.head[0]].data["room_id"] == message_room.room_id


@pytest.mark.parametrize("version", ["1", "10", "11", "12"])
def test_redacts_location(version: str) -> None:
    room = Room(version).public()
    target = room.send("m.room.message", ALICE, {"body": "x"})
    redaction = room.send("m.room.redaction", ALICE, {"reason": "r"}, redacts=target.event_id)
    assert redaction.redacts == target.event_id
    in_content = room.version.redacts_in_content
    assert ("redacts" in redaction.content) is in_content
    assert ("redacts" in redaction.data) is not in_content
    # From v11 only `content.redacts` counts.
    moved = dict(redaction.to_json())
    moved["content"] = {}
    moved["redacts"] = target.event_id
    assert (Event(moved, "$x", room.version).redacts is None) is in_content


def test_make_join_style_template_then_finalise() -> None:
    version = KNOWN_ROOM_VERSIONS["10"]
    template = new_local_event_json(
        version,
        server_name="a.test",
        room_id="!r:a.test",
        sender=BOB,
        event_type="m.room.member",
        content={"membership": "join"},
        prev_event_ids=["$p"],
        auth_event_ids=["$a"],
        depth=2**60,
        origin_server_ts=1,
        state_key=BOB,
    )
    assert "hashes" not in template and "signatures" not in template
    assert template["depth"] == 2**53 - 1  # a room at the depth limit stays there
    event = finalise_event(version, template, "a.test", KEY)
    assert set(event.signatures) == {"a.test"} and check_content_hash(event.data)


def test_old_versions_allow_deeper_rooms() -> None:
    version = KNOWN_ROOM_VERSIONS["5"]
    event = build_local_event(
        version,
        server_name="a.test",
        signing_key=KEY,
        room_id="!r:a.test",
        sender=BOB,
        event_type="m.room.message",
        content={"n": 2**60},
        prev_event_ids=[],
        auth_event_ids=[],
        depth=2**60,
        origin_server_ts=1,
    )
    assert event.depth == 2**60


def _pdu(**overrides: Any) -> dict[str, Any]:
    pdu: dict[str, Any] = {
        "type": "m.room.message",
        "sender": BOB,
        "room_id": "!r:a.test",
        "content": {"body": "x"},
        "depth": 1,
        "origin_server_ts": 1,
        "prev_events": ["$p"],
        "auth_events": ["$a"],
        "hashes": {},
        "signatures": {},
    }
    pdu.update(overrides)
    return {k: v for k, v in pdu.items() if v is not None}


V12_ROOM = "!" + "A" * 43


@pytest.mark.parametrize(
    ("version", "pdu", "error"),
    [
        ("10", _pdu(content={"body": "x" * 70_000}), "bytes"),
        ("10", _pdu(sender="@" + "a" * 300 + ":a.test"), "255 bytes"),
        ("10", _pdu(state_key="é" * 128), "255 bytes"),
        ("10", _pdu(type="t" * 256), "255 bytes"),
        ("10", _pdu(type=5), "string"),
        ("10", _pdu(sender="bob"), "user ID"),
        ("10", _pdu(room_id="r:a.test"), "room_id"),
        ("10", _pdu(content={"n": 2**60}), "out of range"),
        ("10", _pdu(content={"n": [-(2**53)]}), "out of range"),
        ("10", _pdu(content={"n": 1.5}), "floats"),
        ("6", _pdu(content={"n": {"m": 0.5}}), "floats"),
        ("10", _pdu(depth=-1), "depth"),
        ("10", _pdu(depth=2**53), "depth"),
        ("5", _pdu(depth=2**63), "depth"),
        ("10", _pdu(depth=True), "depth"),
        ("10", _pdu(origin_server_ts="1"), "origin_server_ts"),
        ("10", _pdu(prev_events=["$x"] * 21), "prev_events"),
        ("10", _pdu(auth_events=["$x"] * 11), "auth_events"),
        ("10", _pdu(auth_events=[5]), "event IDs"),
        ("10", _pdu(content=[]), "content"),
        ("10", _pdu(hashes=None), "missing hashes"),
        ("10", _pdu(signatures=[]), "signatures"),
        ("10", _pdu(room_id=None), "missing room_id"),
        ("10", _pdu(content={"x": float("nan")}), "canonical JSON"),
        ("1", _pdu(), "event_id"),
        ("1", _pdu(event_id="$nodomain", prev_events=[], auth_events=[]), "event_id"),
        ("1", _pdu(event_id="$e:a.test", prev_events=["$p"]), "pairs"),
        ("12", _pdu(type="m.room.create", state_key=""), "no room_id"),
        ("12", _pdu(room_id="!r:a.test"), "create event hash"),
    ],
)
def test_invalid_events(version: str, pdu: dict[str, Any], error: str) -> None:
    with pytest.raises(EventFormatError, match=error):
        validate_event(KNOWN_ROOM_VERSIONS[version], pdu)


@pytest.mark.parametrize(
    ("version", "pdu"),
    [
        ("5", _pdu(content={"n": 2**60, "f": 0.5})),
        ("10", _pdu(content={"n": 2**53 - 1, "m": -(2**53) + 1, "b": True})),
        ("10", _pdu(state_key="é" * 127)),
        ("1", _pdu(event_id="$e:a.test", prev_events=[["$p:a", {}]], auth_events=[])),
        ("12", _pdu(room_id=V12_ROOM)),
        ("12", _pdu(type="m.room.create", state_key="", room_id=None)),
    ],
)
def test_valid_events(version: str, pdu: dict[str, Any]) -> None:
    validate_event(KNOWN_ROOM_VERSIONS[version], pdu)
