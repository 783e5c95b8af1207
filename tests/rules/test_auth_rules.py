"""The authorization rules, accepting and rejecting, per version where versions differ."""

from __future__ import annotations

import pytest
from unpaddedbase64 import encode_base64

from homeserver.rules.auth_rules import check_auth
from homeserver.rules.types import AuthError
from homeserver.types.event import CREATE
from tests.rules.builder import ALICE, BOB, CAROL, DAVE, KEY, Room

ALL = [str(v) for v in range(1, 13)]


def rejected(room: Room, *args: object, **kwargs: object) -> str:
    with pytest.raises(AuthError) as raised:
        room.send(*args, **kwargs)  # type: ignore[arg-type]
    return str(raised.value)


def member(room: Room, sender: str, target: str, membership: str, **content: object) -> object:
    return room.send(
        "m.room.member", sender, {"membership": membership, **content}, state_key=target
    )


@pytest.mark.parametrize("version", ALL)
def test_room_start_and_public_join(version: str) -> None:
    room = Room(version).public()
    room.join(BOB)
    room.send("m.room.message", BOB, {"body": "hi"})


@pytest.mark.parametrize("version", ALL)
def test_create_event_rules(version: str) -> None:
    room = Room(version)
    with pytest.raises(AuthError, match="prev_events"):
        bad = room.build(
            CREATE, ALICE, {"creator": ALICE}, state_key="", prev=[room.create.event_id]
        )
        check_auth(bad, {})
    with pytest.raises(AuthError, match="room_version"):
        check_auth(
            room.build(
                CREATE, ALICE, {"creator": ALICE, "room_version": "99"}, state_key="", prev=[]
            ),
            {},
        )
    no_creator = room.build(CREATE, ALICE, {}, state_key="", prev=[])
    if room.version.implicit_room_creator:
        check_auth(no_creator, {})
    else:
        with pytest.raises(AuthError, match="creator"):
            check_auth(no_creator, {})


def test_v12_create_rules() -> None:
    room = Room("12")
    bad = room.build(CREATE, ALICE, {"additional_creators": ["not-a-user"]}, state_key="", prev=[])
    with pytest.raises(AuthError, match="additional_creators"):
        check_auth(bad, {})
    good = room.build(CREATE, ALICE, {"additional_creators": [BOB]}, state_key="", prev=[])
    check_auth(good, {})
    assert room.room_id == "!" + room.create.event_id[1:]


def test_create_domain_must_match_before_v12() -> None:
    room = Room("10")
    room.room_id = "!r:other.test"
    event = room.build(CREATE, ALICE, {"creator": ALICE}, state_key="", prev=[])
    with pytest.raises(AuthError, match="domain"):
        check_auth(event, {})


@pytest.mark.parametrize("version", ALL)
def test_non_members_cannot_send(version: str) -> None:
    room = Room(version).public()
    assert "rule 6" in rejected(room, "m.room.message", BOB, {"body": "hi"})


@pytest.mark.parametrize("version", ALL)
def test_invite_only(version: str) -> None:
    room = Room(version).public()
    room.send("m.room.join_rules", ALICE, {"join_rule": "invite"}, state_key="")
    assert "invite-only" in rejected(
        room, "m.room.member", BOB, {"membership": "join"}, state_key=BOB
    )
    member(room, ALICE, BOB, "invite")
    room.join(BOB)
    # Users at the default level cannot invite when the invite level is raised.
    room.send(
        "m.room.power_levels", ALICE, {"users": _levels(room, {}), "invite": 50}, state_key=""
    )
    assert "rule 5.4.5" in rejected(
        room, "m.room.member", BOB, {"membership": "invite"}, state_key=CAROL
    )
    assert "rule 5.4.2" in rejected(
        room, "m.room.member", CAROL, {"membership": "invite"}, state_key=DAVE
    )


def _levels(room: Room, users: dict[str, int]) -> dict[str, int]:
    levels = {ALICE: 100, **users}
    if room.version.additional_creators:
        levels.pop(ALICE)
    return levels


@pytest.mark.parametrize("version", ALL)
def test_kick_ban_unban(version: str) -> None:
    room = Room(version).public({BOB: 50})
    room.join(BOB)
    room.join(CAROL)
    assert "rule 5.5.5" in rejected(
        room, "m.room.member", CAROL, {"membership": "leave"}, state_key=BOB
    )
    member(room, BOB, CAROL, "leave")  # moderator kicks
    member(room, BOB, CAROL, "ban")
    assert "banned" in rejected(
        room, "m.room.member", CAROL, {"membership": "join"}, state_key=CAROL
    )
    assert "rule 5.6" in rejected(
        room, "m.room.member", BOB, {"membership": "ban"}, state_key=ALICE
    )
    member(room, ALICE, CAROL, "leave")  # unban
    room.join(CAROL)


@pytest.mark.parametrize("version", ALL)
def test_leave_rules(version: str) -> None:
    room = Room(version).public()
    assert "rule 5.5.1" in rejected(
        room, "m.room.member", BOB, {"membership": "leave"}, state_key=BOB
    )
    room.join(BOB)
    member(room, BOB, BOB, "leave")


@pytest.mark.parametrize("version", ALL)
def test_knock(version: str) -> None:
    room = Room(version).public()
    room.send("m.room.join_rules", ALICE, {"join_rule": "knock"}, state_key="")
    if room.version.knock:
        member(room, BOB, BOB, "knock")
        assert "rule 5.7.2" in rejected(
            room, "m.room.member", CAROL, {"membership": "knock"}, state_key=DAVE
        )
        member(room, ALICE, BOB, "invite")
        room.join(BOB)
        assert "rule 5.7.4" in rejected(
            room, "m.room.member", BOB, {"membership": "knock"}, state_key=BOB
        )
    else:
        assert "unknown membership" in rejected(
            room, "m.room.member", BOB, {"membership": "knock"}, state_key=BOB
        )


@pytest.mark.parametrize("version", ALL)
def test_knock_restricted(version: str) -> None:
    room = Room(version).public()
    room.send(
        "m.room.join_rules", ALICE, {"join_rule": "knock_restricted", "allow": []}, state_key=""
    )
    if room.version.knock_restricted_join_rule:
        member(room, BOB, BOB, "knock")
    else:
        rejected(room, "m.room.member", BOB, {"membership": "knock"}, state_key=BOB)


@pytest.mark.parametrize("version", ["8", "9", "10", "11", "12"])
def test_restricted_join_needs_an_authorising_member(version: str) -> None:
    room = Room(version).public({BOB: 0})
    room.join(BOB)
    room.send("m.room.join_rules", ALICE, {"join_rule": "restricted", "allow": []}, state_key="")
    rejected(room, "m.room.member", CAROL, {"membership": "join"}, state_key=CAROL)
    member(room, CAROL, CAROL, "join", join_authorised_via_users_server=ALICE)
    room.send(
        "m.room.power_levels", ALICE, {"users": _levels(room, {}), "invite": 50}, state_key=""
    )
    assert "rule 5.3.5.2" in rejected(
        room,
        "m.room.member",
        DAVE,
        {"membership": "join", "join_authorised_via_users_server": BOB},
        state_key=DAVE,
    )


def test_restricted_is_unknown_before_v8() -> None:
    room = Room("7").public()
    room.send("m.room.join_rules", ALICE, {"join_rule": "restricted"}, state_key="")
    rejected(room, "m.room.member", BOB, {"membership": "join"}, state_key=BOB)


@pytest.mark.parametrize("version", ALL)
def test_event_power_level_and_state_key_rules(version: str) -> None:
    room = Room(version).public()
    room.join(BOB)
    assert "rule 8" in rejected(room, "m.room.topic", BOB, {"topic": "x"}, state_key="")
    room.send("org.example", BOB, {})
    assert "rule 9" in rejected(room, "org.example.state", ALICE, {}, state_key=BOB)
    room.send("org.example.state", ALICE, {}, state_key=ALICE)


@pytest.mark.parametrize("version", ALL)
def test_power_level_changes(version: str) -> None:
    room = Room(version).public({BOB: 50, CAROL: 50})
    room.join(BOB)
    pl = "m.room.power_levels"

    def levels(**changes: object) -> dict[str, object]:
        return {"users": _levels(room, {BOB: 50, CAROL: 50}), **changes}

    promote_above_self = {"users": _levels(room, {BOB: 50, CAROL: 50, DAVE: 60})}
    assert "10.10" in rejected(room, pl, BOB, promote_above_self, state_key="")
    demote_peer = {"users": _levels(room, {BOB: 50, CAROL: 0})}
    assert "10.9" in rejected(room, pl, BOB, demote_peer, state_key="")
    assert "10.6" in rejected(room, pl, BOB, levels(kick=75), state_key="")
    assert "10.8" in rejected(room, pl, BOB, levels(events={"m.room.name": 80}), state_key="")
    room.send(pl, BOB, levels(events={"m.room.name": 50}), state_key="")
    # Lowering oneself is allowed.
    room.send(pl, BOB, {"users": _levels(room, {BOB: 40, CAROL: 50})}, state_key="")


@pytest.mark.parametrize("version", ALL)
def test_string_power_levels(version: str) -> None:
    room = Room(version).public()
    content = {"users": _levels(room, {}), "ban": "60"}
    if room.version.integer_power_levels:
        assert "rule 10.1" in rejected(room, "m.room.power_levels", ALICE, content, state_key="")
    else:
        room.send("m.room.power_levels", ALICE, content, state_key="")


def test_v12_creators_cannot_be_in_users_and_have_infinite_power() -> None:
    room = Room("12").public({BOB: 100})
    room.join(BOB)
    assert "10.4" in rejected(room, "m.room.power_levels", BOB, {"users": {ALICE: 0}}, state_key="")
    # Bob (100) cannot kick the creator; the creator can kick Bob.
    rejected(room, "m.room.member", BOB, {"membership": "leave"}, state_key=ALICE)
    member(room, ALICE, BOB, "leave")


def test_without_power_levels_the_creator_has_100() -> None:
    room = Room("10")
    room.join(ALICE)
    room.send("m.room.join_rules", ALICE, {"join_rule": "public"}, state_key="")
    room.join(BOB)
    member(room, ALICE, BOB, "ban")


def test_m_federate_false() -> None:
    room = Room("10")
    room.create = room.build(
        CREATE, ALICE, {"creator": ALICE, "m.federate": False}, state_key="", prev=[]
    )
    room.events = {room.create.event_id: room.create}
    room.state = {(CREATE, ""): room.create.event_id}
    room.head = [room.create.event_id]
    room.public()
    assert "rule 4" in rejected(
        room, "m.room.member", "@eve:b.test", {"membership": "join"}, state_key="@eve:b.test"
    )


def test_aliases_special_case_before_v6() -> None:
    old = Room("5").public()
    old.send("m.room.aliases", ALICE, {"aliases": ["#a:a.test"]}, state_key="a.test")
    assert "rule 4.2" in rejected(old, "m.room.aliases", ALICE, {}, state_key="b.test")
    new = Room("6").public()
    new.join(BOB)
    rejected(new, "m.room.aliases", BOB, {}, state_key="a.test")  # ordinary state rules now


def test_redaction_is_an_auth_rule_in_v1_only_by_level() -> None:
    room = Room("1").public()
    room.join(BOB)
    target = room.send("m.room.message", ALICE, {"body": "x"})
    event = room.build("m.room.redaction", BOB, {})
    # A redaction from the same server as the redacted event is allowed in v1.
    data = dict(event.data)
    data["redacts"] = target.event_id
    room.check(type(event)(data, event.event_id, event.room_version))
    data["redacts"] = "$other:b.test"
    with pytest.raises(AuthError, match="rule 11"):
        room.check(type(event)(data, event.event_id, event.room_version))


@pytest.mark.parametrize("version", ["10", "11"])
def test_third_party_invite(version: str) -> None:
    import nacl.signing
    from canonicaljson import encode_canonical_json

    room = Room(version).public()
    identity_key = nacl.signing.SigningKey.generate()
    public = encode_base64(identity_key.verify_key.encode())
    room.send(
        "m.room.third_party_invite",
        ALICE,
        {"display_name": "b...", "public_key": public},
        state_key="tok",
    )
    signed = {"mxid": BOB, "token": "tok"}
    signature = identity_key.sign(encode_canonical_json(signed)).signature
    good = {**signed, "signatures": {"id.test": {"ed25519:0": encode_base64(signature)}}}
    member(room, ALICE, BOB, "invite", third_party_invite={"display_name": "b", "signed": good})
    forged = {**signed, "mxid": CAROL, "signatures": good["signatures"]}
    rejected(
        room,
        "m.room.member",
        ALICE,
        {"membership": "invite", "third_party_invite": {"signed": forged}},
        state_key=CAROL,
    )
    assert KEY is not None


@pytest.mark.parametrize("version", ["10", "12"])
def test_cited_auth_events_rule(version: str) -> None:
    from homeserver.rules.auth_rules import check_cited_auth_events

    room = Room(version).public()
    room.join(BOB)
    message = room.build("m.room.message", BOB, {"body": "x"})
    cited = [room.events[i] for i in message.auth_event_ids]
    keyed = check_cited_auth_events(message, cited)
    assert ("m.room.member", BOB) in keyed
    with pytest.raises(AuthError, match=r"rule 3\.1"):
        check_cited_auth_events(message, [*cited, cited[-1]])
    join_rules = room.events[room.state[("m.room.join_rules", "")]]
    with pytest.raises(AuthError, match=r"rule 3\.2"):
        check_cited_auth_events(message, [*cited, join_rules])
