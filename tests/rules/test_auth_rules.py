"""The authorization rules, accepting and rejecting, per version where versions differ.

Rule numbers in test names follow the v12 text (see homeserver.rules.auth_rules).
"""

from __future__ import annotations

from typing import Any

import pytest

from homeserver.rules.auth_rules import check_auth, check_cited_auth_events
from homeserver.rules.types import AuthError
from homeserver.types.event import CREATE, MEMBER, Event
from tests.rules.builder import ALICE, ALL_VERSIONS, BOB, CAROL, DAVE, EVE, Room

BEFORE_V12 = ALL_VERSIONS[:-1]


def rejected(room: Room, event_type: str, sender: str, content: dict, **options: Any) -> str:
    """Build an event on the main line, expect the rules to refuse it, return why."""
    event = room.build(event_type, sender, content, **options)
    with pytest.raises(AuthError) as raised:
        room.check(event)
    return str(raised.value)


def member_rejected(room: Room, sender: str, target: str, membership: str, **content: Any) -> str:
    return rejected(room, MEMBER, sender, {"membership": membership, **content}, state_key=target)


def altered(event: Event, **changes: Any) -> Event:
    """The same event with top-level fields replaced (None removes one); its ID is kept,
    which the auth rules do not look at."""
    data = event.to_json()
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return Event(data, event.event_id, event.room_version)


# Rule 1: the create event.


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_room_start_and_public_join(version: str) -> None:
    room = Room(version).public()
    room.join(BOB)
    room.send("m.room.message", BOB, {"body": "hi"})


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_create_rules(version: str) -> None:
    room = Room(version)
    creator = {} if room.version.implicit_room_creator else {"creator": ALICE}

    def create(content: dict[str, Any], prev: list[str] | None = None) -> Event:
        return room.build(CREATE, ALICE, {**creator, **content}, state_key="", prev=prev or [])

    check_auth(create({}), {})  # rule 1.3: room_version may be absent
    check_auth(create({"room_version": "3"}), {})
    with pytest.raises(AuthError, match=r"rule 1\.1"):
        check_auth(create({}, prev=[room.create.event_id]), {})
    for bad_version in ("99", 9):
        with pytest.raises(AuthError, match=r"rule 1\.3"):
            check_auth(create({"room_version": bad_version}), {})


@pytest.mark.parametrize("version", BEFORE_V12)
def test_create_domain_and_creator_before_v12(version: str) -> None:
    room = Room(version)
    room.room_id = "!r:other.test"
    content = {"creator": ALICE}
    with pytest.raises(AuthError, match=r"rule 1\.2"):
        check_auth(room.build(CREATE, ALICE, content, state_key="", prev=[]), {})
    room.room_id = "!r:a.test"
    no_creator = room.build(CREATE, ALICE, {}, state_key="", prev=[])
    if room.version.implicit_room_creator:  # v11
        check_auth(no_creator, {})
    else:
        with pytest.raises(AuthError, match="creator"):
            check_auth(no_creator, {})


def test_v12_create_rules() -> None:
    room = Room("12")
    assert room.room_id == "!" + room.create.event_id[1:]
    good = room.build(CREATE, ALICE, {"additional_creators": [BOB, EVE]}, state_key="", prev=[])
    check_auth(good, {})
    for bad in (["not-a-user"], BOB, [BOB, 5]):
        event = room.build(CREATE, ALICE, {"additional_creators": bad}, state_key="", prev=[])
        with pytest.raises(AuthError, match=r"rule 1\.4"):
            check_auth(event, {})
    with pytest.raises(AuthError, match=r"rule 1\.2"):
        check_auth(altered(good, room_id="!r:a.test"), {})


def test_additional_creators_mean_nothing_before_v12() -> None:
    room = Room("11")
    event = room.build(CREATE, ALICE, {"additional_creators": "junk"}, state_key="", prev=[])
    check_auth(event, {})


# Rules 2 and 3: the room and the auth events.


def test_v12_room_id_must_name_the_create_event() -> None:
    room = Room("12").public()
    room.join(BOB)
    message = room.build("m.room.message", BOB, {"body": "x"})
    auth = room.auth_map(message)
    check_auth(message, auth)
    with pytest.raises(AuthError, match="rule 2"):
        check_auth(message, {k: v for k, v in auth.items() if k != (CREATE, "")})
    other = Room("12", creator=BOB)
    with pytest.raises(AuthError, match="rule"):
        check_auth(message, {**auth, (CREATE, ""): other.create})


@pytest.mark.parametrize("version", BEFORE_V12)
def test_create_event_must_be_among_auth_events(version: str) -> None:
    room = Room(version).public()
    message = room.build("m.room.message", ALICE, {"body": "x"})
    auth = room.auth_map(message)
    with pytest.raises(AuthError, match=r"rule 2\.4"):
        check_auth(message, {k: v for k, v in auth.items() if k != (CREATE, "")})


@pytest.mark.parametrize("version", ["1", "10", "12"])
def test_auth_events_from_another_room(version: str) -> None:
    room = Room(version).public()
    message = room.build("m.room.message", ALICE, {"body": "x"})
    member = room.events[room.state[(MEMBER, ALICE)]]
    foreign = altered(member, room_id="!other:a.test")
    with pytest.raises(AuthError, match=r"rule 3\.5"):
        check_auth(message, {**room.auth_map(message), (MEMBER, ALICE): foreign})


@pytest.mark.parametrize("version", ["5", "10", "12"])
def test_cited_auth_events(version: str) -> None:
    room = Room(version).public()
    room.join(BOB)
    message = room.build("m.room.message", BOB, {"body": "x"})
    cited = [room.events[i] for i in message.auth_event_ids]
    keyed = check_cited_auth_events(message, cited)
    assert (MEMBER, BOB) in keyed
    assert ((CREATE, "") in keyed) is not room.version.room_id_from_create_event
    with pytest.raises(AuthError, match=r"rule 3\.1"):
        check_cited_auth_events(message, [*cited, cited[-1]])
    join_rules = room.events[room.state[("m.room.join_rules", "")]]
    with pytest.raises(AuthError, match=r"rule 3\.2"):
        check_cited_auth_events(message, [*cited, join_rules])
    if room.version.room_id_from_create_event:
        # v12: the create event must not be cited.
        with pytest.raises(AuthError, match=r"rule 3\.2"):
            check_cited_auth_events(message, [*cited, room.create])


# The preamble: signatures of the sender's server (and in v1/v2 the event ID's).


@pytest.mark.parametrize("version", ["1", "3", "10", "12"])
def test_sender_server_must_have_signed(version: str) -> None:
    room = Room(version).public()
    message = room.build("m.room.message", ALICE, {"body": "x"}, server="b.test")
    with pytest.raises(AuthError, match="sender's server"):
        room.check(message)


@pytest.mark.parametrize("version", ["1", "2"])
def test_v1_event_id_server_must_have_signed(version: str) -> None:
    room = Room(version).public()
    message = room.build("m.room.message", ALICE, {"body": "x"})
    room.check(message)
    moved = Event(message.to_json(), "$abc:b.test", room.version)
    with pytest.raises(AuthError, match="event ID"):
        room.check(moved)


# Rule 4: m.federate.


@pytest.mark.parametrize("version", ["1", "10", "12"])
def test_m_federate_false(version: str) -> None:
    room = Room(version, create_content={"m.federate": False}).public()
    assert "rule 4" in member_rejected(room, EVE, EVE, "join")
    room.join(BOB)
    open_room = Room(version, create_content={"m.federate": True}).public()
    open_room.join(EVE)


# v1-v5 rule 4: m.room.aliases.


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_aliases(version: str) -> None:
    room = Room(version).public()
    room.join(EVE)
    if room.version.special_case_aliases_auth:
        # A server may set its own aliases whatever its users' levels.
        room.send("m.room.aliases", EVE, {"aliases": ["#a:b.test"]}, state_key="b.test")
        assert "rule 4.2" in rejected(room, "m.room.aliases", EVE, {}, state_key="a.test")
    else:
        # An ordinary state event now: state_default (50) applies.
        assert "rule 8" in rejected(room, "m.room.aliases", EVE, {}, state_key="b.test")
        room.send("m.room.aliases", ALICE, {"aliases": []}, state_key="a.test")


def test_aliases_need_a_state_key_before_v6() -> None:
    room = Room("3").public()
    aliases = room.build("m.room.aliases", ALICE, {"aliases": []}, state_key="a.test")
    with pytest.raises(AuthError, match=r"rule 4\.1"):
        room.check(altered(aliases, state_key=None))


# Rule 5: m.room.member.


@pytest.mark.parametrize("version", ["1", "10"])
def test_member_without_membership(version: str) -> None:
    room = Room(version).public()
    assert "rule 5.1" in rejected(room, MEMBER, BOB, {"displayname": "B"}, state_key=BOB)
    assert "rule 5.8" in member_rejected(room, BOB, BOB, "dance")
    assert "rule 5.8" in rejected(room, MEMBER, BOB, {"membership": 5}, state_key=BOB)


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_first_join_of_the_creator_only(version: str) -> None:
    room = Room(version)
    # No join rules: only the creator's join straight after the create event passes.
    assert "rule 5.3.2" in member_rejected(room, ALICE, BOB, "join")
    assert "rule 5.3.7" in member_rejected(room, BOB, BOB, "join")
    room.join(ALICE)
    assert "rule 5.3.7" in member_rejected(room, BOB, BOB, "join")


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_join_rules(version: str) -> None:
    room = Room(version).public()
    room.join(BOB)
    assert "rule 5.3.2" in member_rejected(room, BOB, CAROL, "join")
    room.member(ALICE, CAROL, "ban")
    assert "rule 5.3.3" in member_rejected(room, CAROL, CAROL, "join")
    room.send("m.room.join_rules", ALICE, {"join_rule": "invite"}, state_key="")
    assert "rule 5.3.4" in member_rejected(room, DAVE, DAVE, "join")
    room.join(BOB)  # already joined: a profile change
    room.member(ALICE, DAVE, "invite")
    room.join(DAVE)


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_knock_join_rule_behaves_as_invite_from_v7(version: str) -> None:
    room = Room(version).public()
    room.send("m.room.join_rules", ALICE, {"join_rule": "knock"}, state_key="")
    room.member(ALICE, BOB, "invite")
    if room.version.knock:
        assert "rule 5.3.4" in member_rejected(room, CAROL, CAROL, "join")
        room.join(BOB)
    else:
        assert "rule 5.3.7" in member_rejected(room, BOB, BOB, "join")


@pytest.mark.parametrize("version", ALL_VERSIONS)
@pytest.mark.parametrize("rule", ["restricted", "knock_restricted"])
def test_restricted_joins(version: str, rule: str) -> None:
    room = Room(version).public({BOB: 0})
    room.join(BOB)
    room.send("m.room.join_rules", ALICE, {"join_rule": rule, "allow": []}, state_key="")
    supported = (
        room.version.restricted_join_rule
        if rule == "restricted"
        else room.version.knock_restricted_join_rule
    )
    if not supported:
        assert "rule 5.3.7" in member_rejected(room, CAROL, CAROL, "join")
        return
    assert "rule 5.3.5.2" in member_rejected(room, CAROL, CAROL, "join")
    # Not a member: cannot authorise.
    assert "5.3.5.2" in member_rejected(
        room, CAROL, CAROL, "join", join_authorised_via_users_server=DAVE
    )
    room.member(CAROL, CAROL, "join", join_authorised_via_users_server=ALICE)
    room.member(ALICE, DAVE, "invite")
    room.join(DAVE)  # rule 5.3.5.1: invited
    room.send("m.room.power_levels", ALICE, room.levels({}, invite=50), state_key="")
    assert "5.3.5.2" in member_rejected(
        room, "@fred:a.test", "@fred:a.test", "join", join_authorised_via_users_server=BOB
    )


@pytest.mark.parametrize("version", ["7", "8", "10", "12"])
def test_authorising_server_must_sign(version: str) -> None:
    room = Room(version).public()
    room.send("m.room.join_rules", ALICE, {"join_rule": "public"}, state_key="")
    content = {"membership": "join", "join_authorised_via_users_server": EVE}
    join = room.build(MEMBER, BOB, content, state_key=BOB)
    if room.version.restricted_join_rule:
        with pytest.raises(AuthError, match=r"5\.2"):
            room.check(join)
    else:
        room.check(join)  # the key means nothing before v8


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_invites(version: str) -> None:
    room = Room(version).public()
    room.join(BOB)
    assert "rule 5.4.2" in member_rejected(room, CAROL, DAVE, "invite")
    assert "rule 5.4.3" in member_rejected(room, ALICE, BOB, "invite")
    room.member(ALICE, DAVE, "ban")
    assert "rule 5.4.3" in member_rejected(room, ALICE, DAVE, "invite")
    room.member(BOB, CAROL, "invite")  # invite level 0
    room.send("m.room.power_levels", ALICE, room.levels({}, invite=50), state_key="")
    assert "rule 5.4.5" in member_rejected(room, BOB, "@fred:a.test", "invite")
    room.member(ALICE, "@fred:a.test", "invite")


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_leave_and_kick(version: str) -> None:
    room = Room(version).public({BOB: 50})
    assert "rule 5.5.1" in member_rejected(room, CAROL, CAROL, "leave")
    room.member(ALICE, CAROL, "invite")
    room.member(CAROL, CAROL, "leave")  # rejecting an invite
    room.join(BOB)
    room.join(CAROL)
    assert "rule 5.5.2" in member_rejected(room, DAVE, CAROL, "leave")
    assert "rule 5.5.5" in member_rejected(room, CAROL, BOB, "leave")
    assert "rule 5.5.5" in member_rejected(room, BOB, ALICE, "leave")
    room.member(BOB, CAROL, "leave")  # rule 5.5.4: kick
    room.member(CAROL, CAROL, "join")
    room.member(CAROL, CAROL, "leave")


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_ban_and_unban(version: str) -> None:
    room = Room(version).public({BOB: 50})
    room.join(BOB)
    room.join(CAROL)
    assert "rule 5.6.1" in member_rejected(room, DAVE, CAROL, "ban")
    assert "rule 5.6.3" in member_rejected(room, CAROL, BOB, "ban")
    assert "rule 5.6.3" in member_rejected(room, BOB, ALICE, "ban")
    room.member(BOB, CAROL, "ban")
    room.member(BOB, DAVE, "ban")  # banning someone never in the room
    room.send("m.room.power_levels", ALICE, room.levels({BOB: 50}, ban=60), state_key="")
    assert "rule 5.5.3" in member_rejected(room, BOB, CAROL, "leave")
    room.member(ALICE, CAROL, "leave")  # unban
    room.join(CAROL)


@pytest.mark.parametrize("version", ALL_VERSIONS)
@pytest.mark.parametrize("rule", ["knock", "knock_restricted", "public"])
def test_knocks(version: str, rule: str) -> None:
    room = Room(version).public()
    room.send("m.room.join_rules", ALICE, {"join_rule": rule}, state_key="")
    allowed = room.version.knock and (
        rule == "knock" or (rule == "knock_restricted" and room.version.knock_restricted_join_rule)
    )
    if not room.version.knock:
        assert "rule 5.8" in member_rejected(room, BOB, BOB, "knock")
        return
    if not allowed:
        assert "rule 5.7.1" in member_rejected(room, BOB, BOB, "knock")
        return
    assert "rule 5.7.2" in member_rejected(room, BOB, CAROL, "knock")
    room.member(BOB, BOB, "knock")
    room.member(BOB, BOB, "leave")  # rescinding the knock
    room.member(BOB, BOB, "knock")
    room.member(ALICE, BOB, "invite")
    assert "rule 5.7.4" in member_rejected(room, BOB, BOB, "knock")
    room.join(BOB)
    assert "rule 5.7.4" in member_rejected(room, BOB, BOB, "knock")


def test_leaving_from_a_knock_needs_v7() -> None:
    """Before v7 a (foreign) knock membership in state does not let its user leave."""
    room = Room("6").public()
    knock = room.build(MEMBER, BOB, {"membership": "knock"}, state_key=BOB)
    room.append(knock)  # as if resolved into state
    assert "rule 5.5.1" in member_rejected(room, BOB, BOB, "leave")


# Rules 6-9.


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_sender_must_be_joined(version: str) -> None:
    room = Room(version).public()
    assert "rule 6" in rejected(room, "m.room.message", BOB, {"body": "hi"})
    room.member(ALICE, BOB, "invite")
    assert "rule 6" in rejected(room, "m.room.message", BOB, {"body": "hi"})


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_third_party_invite_event_needs_invite_level(version: str) -> None:
    room = Room(version).public()
    room.join(BOB)
    room.send("m.room.third_party_invite", BOB, {"public_key": "x"}, state_key="t1")
    room.send("m.room.power_levels", ALICE, room.levels({}, invite=10), state_key="")
    assert "rule 7.1" in rejected(
        room, "m.room.third_party_invite", BOB, {"public_key": "x"}, state_key="t2"
    )


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_required_power_level_and_user_state_keys(version: str) -> None:
    room = Room(version).public()
    room.join(BOB)
    assert "rule 8" in rejected(room, "m.room.topic", BOB, {"topic": "x"}, state_key="")
    room.send("org.example", BOB, {})
    room.send(
        "m.room.power_levels",
        ALICE,
        room.levels({}, events={"org.example": 10, "org.example.state": 0}),
        state_key="",
    )
    assert "rule 8" in rejected(room, "org.example", BOB, {})
    room.send("org.example.state", BOB, {}, state_key="")
    assert "rule 9" in rejected(room, "org.example.state", BOB, {}, state_key=ALICE)
    room.send("org.example.state", BOB, {}, state_key=BOB)
    # Any state key starting with @ is reserved, even one that is no user ID.
    assert "rule 9" in rejected(room, "org.example.state", BOB, {}, state_key="@not-a-user")


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_defaults_without_a_power_levels_event(version: str) -> None:
    """The creator has 100 (v12: infinite), others 0; state_default is still 50."""
    room = Room(version)
    room.join(ALICE)
    room.send("m.room.join_rules", ALICE, {"join_rule": "public"}, state_key="")
    room.join(BOB)
    room.send("m.room.message", BOB, {"body": "messages need 0"})
    assert "rule 8" in rejected(room, "m.room.topic", BOB, {"topic": "x"}, state_key="")
    room.send("m.room.topic", ALICE, {"topic": "x"}, state_key="")
    assert "rule 5.6.3" in member_rejected(room, BOB, ALICE, "ban")
    room.member(ALICE, BOB, "ban")


# Rule 10: m.room.power_levels.


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_power_level_changes(version: str) -> None:
    room = Room(version).public({BOB: 50, CAROL: 50})
    room.join(BOB)
    pl = "m.room.power_levels"
    peers = {BOB: 50, CAROL: 50}
    cases = [
        (room.levels({**peers, DAVE: 60}), "10.10"),  # raising someone above oneself
        (room.levels({BOB: 50, CAROL: 0}), "10.9"),  # demoting a peer
        (room.levels(peers, kick=75), "10.6.2"),
        (room.levels(peers, events={"m.room.name": 80}), "10.8"),
    ]
    for content, rule in cases:
        assert f"rule {rule}" in rejected(room, pl, BOB, content, state_key="")
    room.send(pl, BOB, room.levels(peers, events={"m.room.name": 50}), state_key="")
    room.send(pl, ALICE, room.levels(peers, events={"m.room.name": 80}, ban=80), state_key="")
    assert "rule 10.7" in rejected(room, pl, BOB, room.levels(peers, ban=80), state_key="")
    assert "rule 10.6.1" in rejected(
        room, pl, BOB, room.levels(peers, events={"m.room.name": 80}), state_key=""
    )
    # Lowering oneself is allowed, and so is adding someone at one's own level.
    room.send(
        pl,
        BOB,
        room.levels({BOB: 40, CAROL: 50, DAVE: 40}, events={"m.room.name": 80}, ban=80),
        state_key="",
    )


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_notifications_levels_are_guarded_from_v6(version: str) -> None:
    room = Room(version).public({BOB: 50})
    room.join(BOB)
    pl = "m.room.power_levels"
    room.send(pl, ALICE, room.levels({BOB: 50}, notifications={"room": 90}), state_key="")
    lowered = room.levels({BOB: 50}, notifications={"room": 0})
    if room.version.limit_notifications_power_levels:
        assert "rule 10.7" in rejected(room, pl, BOB, lowered, state_key="")
    else:
        room.send(pl, BOB, lowered, state_key="")


def _level_shapes() -> list[tuple[str, dict[str, Any], str | None]]:
    """(versions, content, rule it breaks or None) for power levels value shapes."""
    return [
        ("1-12", {"ban": 50}, None),
        ("1-9", {"ban": "50"}, None),
        ("10-12", {"ban": "50"}, "10.1"),
        ("1-9", {"ban": " +050 "}, None),
        ("1-12", {"ban": "5O"}, "10.1"),
        ("1-12", {"ban": "1_000"}, "10.1"),
        ("1-12", {"ban": True}, "10.1"),
        ("1-5", {"ban": 50.7}, None),
        ("1-9", {"events": {"m.room.name": "50"}}, None),
        ("10-12", {"events": {"m.room.name": "50"}}, "10.2"),
        ("1-12", {"events": []}, "10.2"),
        ("6-12", {"notifications": {"room": "x"}}, "10.2"),
        ("1-5", {"notifications": {"room": "x"}}, None),
        ("1-12", {"users": []}, "10.3"),
        ("1-12", {"users": {"not-a-user": 0}}, "10.3"),
        ("1-9", {"users": {BOB: "20"}}, None),
        ("10-12", {"users": {BOB: "20"}}, "10.3"),
        ("1-12", {"users": {BOB: None}}, "10.3"),
    ]


def _versions(spec: str) -> list[str]:
    first, last = spec.split("-")
    return [str(v) for v in range(int(first), int(last) + 1)]


@pytest.mark.parametrize(
    ("version", "content", "rule"),
    [(v, content, rule) for spec, content, rule in _level_shapes() for v in _versions(spec)],
)
def test_power_levels_value_shapes(version: str, content: dict[str, Any], rule: str | None) -> None:
    room = Room(version)
    room.join(ALICE)
    full = {**room.levels({}), **content}
    if isinstance(full["users"], dict) and not room.version.privileged_creators:
        full["users"] = {**full["users"], ALICE: 100}
    if rule is None:
        room.send("m.room.power_levels", ALICE, full, state_key="")
    else:
        assert f"rule {rule}" in rejected(room, "m.room.power_levels", ALICE, full, state_key="")


def test_stringy_levels_compare_as_integers() -> None:
    room = Room("9").public({BOB: 50})
    room.join(BOB)
    room.send("m.room.power_levels", ALICE, room.levels({BOB: "50"}, kick=" 40"), state_key="")
    room.join(CAROL)
    room.member(BOB, CAROL, "leave")  # 50 >= "40" and 0 < 50


def test_v12_creators_have_infinite_power() -> None:
    room = Room("12", create_content={"additional_creators": [BOB]}).public({CAROL: 100})
    room.join(BOB)
    room.join(CAROL)
    pl = "m.room.power_levels"
    for creator in (ALICE, BOB):
        assert "rule 10.4" in rejected(
            room, pl, CAROL, {"users": {CAROL: 100, creator: 50}}, state_key=""
        )
    assert "rule 5.5.5" in member_rejected(room, CAROL, BOB, "leave")
    assert "rule 5.6.3" in member_rejected(room, CAROL, ALICE, "ban")
    room.member(BOB, CAROL, "ban")  # an additional creator outranks 100
    room.send(pl, BOB, {"users": {DAVE: 2**53 - 1}, "ban": 2**53 - 1}, state_key="")


def test_creators_are_ordinary_users_in_power_levels_before_v12() -> None:
    room = Room("11").public({BOB: 100})
    room.join(BOB)
    room.send("m.room.power_levels", BOB, {"users": {ALICE: 100, BOB: 100}}, state_key="")
    room.send("m.room.power_levels", BOB, {"users": {ALICE: 100, BOB: 99}}, state_key="")


# v1-v2 rule 11: redactions.


@pytest.mark.parametrize("version", ALL_VERSIONS)
def test_redaction_permission_is_an_auth_rule_in_v1_v2_only(version: str) -> None:
    room = Room(version).public()
    room.join(BOB)
    room.join(EVE)
    target = room.send("m.room.message", ALICE, {"body": "x"})
    same_server = room.build("m.room.redaction", BOB, {}, redacts=target.event_id)
    other_server = room.build("m.room.redaction", EVE, {}, redacts=target.event_id)
    room.check(same_server)
    room.check(room.build("m.room.redaction", ALICE, {}, redacts=target.event_id))
    if room.version.redaction_auth_rule:
        with pytest.raises(AuthError, match="rule 11"):
            room.check(other_server)
    else:
        room.check(other_server)  # decided when the redaction is applied instead


# Rule 5.4.1: third-party invites.


class ThirdPartyInvites:
    """A room with an m.room.third_party_invite whose key an identity server holds."""

    def __init__(self, version: str, key_field: str = "public_key") -> None:
        import nacl.signing
        from unpaddedbase64 import encode_base64

        self.room = Room(version).public()
        self.identity_key = nacl.signing.SigningKey.generate()
        public = encode_base64(self.identity_key.verify_key.encode())
        keys: dict[str, Any] = {"public_key": public}
        if key_field == "public_keys":
            listed = [{"public_key": "junk"}, {"public_key": public}]
            keys = {"public_key": "AAAA", "public_keys": listed}
        self.room.send(
            "m.room.third_party_invite", ALICE, {"display_name": "b...", **keys}, state_key="tok"
        )

    def signed(self, **fields: Any) -> dict[str, Any]:
        from canonicaljson import encode_canonical_json
        from unpaddedbase64 import encode_base64

        block = {"mxid": BOB, "token": "tok", **fields}
        signature = self.identity_key.sign(encode_canonical_json(block)).signature
        return {**block, "signatures": {"id.test": {"ed25519:0": encode_base64(signature)}}}

    def invite(self, sender: str, target: str, third_party: Any) -> str | None:
        event = self.room.build(
            MEMBER,
            sender,
            {"membership": "invite", "third_party_invite": third_party},
            state_key=target,
            server="a.test",
        )
        try:
            self.room.check(event)
        except AuthError as error:
            return str(error)
        return None


@pytest.mark.parametrize("version", ["1", "10", "11", "12"])
@pytest.mark.parametrize("key_field", ["public_key", "public_keys"])
def test_third_party_invite(version: str, key_field: str) -> None:
    case = ThirdPartyInvites(version, key_field)
    assert case.invite(ALICE, BOB, {"display_name": "b", "signed": case.signed()}) is None
    forged = {**case.signed(), "mxid": CAROL}
    assert "5.4.1.8" in str(case.invite(ALICE, CAROL, {"signed": forged}))
    assert "5.4.1.2" in str(case.invite(ALICE, BOB, {"display_name": "b"}))
    assert "5.4.1.2" in str(case.invite(ALICE, BOB, "junk"))
    assert "5.4.1.3" in str(case.invite(ALICE, BOB, {"signed": {"mxid": BOB}}))
    assert "5.4.1.4" in str(case.invite(ALICE, CAROL, {"signed": case.signed()}))
    assert "5.4.1.5" in str(case.invite(ALICE, BOB, {"signed": case.signed(token="other")}))
    case.room.join(CAROL)
    assert "5.4.1.6" in str(case.invite(CAROL, BOB, {"signed": case.signed()}))
    unsigned = {k: v for k, v in case.signed().items() if k != "signatures"}
    assert "5.4.1.8" in str(case.invite(ALICE, BOB, {"signed": unsigned}))
    case.room.member(ALICE, BOB, "ban")
    assert "5.4.1.1" in str(case.invite(ALICE, BOB, {"signed": case.signed()}))


def test_third_party_invite_may_come_from_another_server() -> None:
    """The inviting server need not be the sender's (spec: signature validation)."""
    case = ThirdPartyInvites("10")
    event = case.room.build(
        MEMBER,
        ALICE,
        {"membership": "invite", "third_party_invite": {"signed": case.signed()}},
        state_key=BOB,
        server="b.test",
    )
    case.room.check(event)
