"""State resolution scenarios written from the spec's description of the algorithms."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from homeserver.rules.state_res_common import InMemoryEventSource
from homeserver.rules.state_res_v2 import (
    auth_difference,
    conflicted_subgraph,
    mainline_order,
    resolve_state_v2,
    reverse_topological_power_order,
    split_conflicts,
)
from homeserver.rules.state_resolution import resolve_state
from homeserver.rules.types import AuthError
from homeserver.types.event import JOIN_RULES, MEMBER, POWER_LEVELS, Event, StateKey
from homeserver.types.room_versions import KNOWN_ROOM_VERSIONS, StateResAlgorithm
from homeserver.types.state import StateMap
from tests.rules.builder import ALICE, BOB, CAROL, DAVE, Room

V2_VERSIONS = ["2", "10", "11", "12"]
TOPIC = ("m.room.topic", "")


class Fork:
    """A branch of the DAG from the main line's head, with its own state."""

    def __init__(self, room: Room) -> None:
        self.room = room
        self.state = dict(room.state)
        self.head = list(room.head)

    def send(self, event_type: str, sender: str, content: Mapping[str, Any], **kw: Any) -> Event:
        event = self.room.build(event_type, sender, content, prev=self.head, state=self.state, **kw)
        self.room.check(event)
        self.room.events[event.event_id] = event
        self.head = [event.event_id]
        if event.state_key is not None:
            self.state[event.state_pair] = event.event_id
        return event

    def member(self, sender: str, target: str, membership: str) -> Event:
        return self.send(MEMBER, sender, {"membership": membership}, state_key=target)


def resolve(room: Room, *forks: Fork) -> StateMap[str]:
    return resolve_state(room.version, [f.state for f in forks], room.source())


def base(version: str, **levels: int) -> Room:
    room = Room(version).public(levels)
    room.join(BOB)
    return room


# Scenarios for every version with state resolution v2 (and its v12 variant).


@pytest.mark.parametrize("version", V2_VERSIONS)
def test_ban_beats_concurrent_actions_of_the_banned(version: str) -> None:
    room = base(version, **{BOB: 50})
    a, b = Fork(room), Fork(room)
    ban = a.member(ALICE, BOB, "ban")
    topic = b.send("m.room.topic", BOB, {"topic": "mine"}, state_key="")
    resolved = resolve(room, a, b)
    assert resolved[(MEMBER, BOB)] == ban.event_id
    assert TOPIC not in resolved
    assert topic.event_id not in resolved.values()


@pytest.mark.parametrize("version", V2_VERSIONS)
def test_ban_beats_a_concurrent_join(version: str) -> None:
    room = base(version)
    a, b = Fork(room), Fork(room)
    ban = a.member(ALICE, CAROL, "ban")
    b.member(CAROL, CAROL, "join")
    b.send("m.room.message", CAROL, {"body": "hi"})
    assert resolve(room, a, b)[(MEMBER, CAROL)] == ban.event_id
    assert resolve(room, b, a)[(MEMBER, CAROL)] == ban.event_id


@pytest.mark.parametrize("version", V2_VERSIONS)
def test_power_level_race_goes_to_the_more_powerful(version: str) -> None:
    room = base(version, **{BOB: 50})
    a, b = Fork(room), Fork(room)
    demote = a.send(POWER_LEVELS, ALICE, room.levels({BOB: 0}), state_key="")
    b.send(POWER_LEVELS, BOB, room.levels({BOB: 50, CAROL: 50}), state_key="")
    # Bob's change sorts after Alice's, and Alice's demotion has taken his power.
    assert resolve(room, a, b)[(POWER_LEVELS, "")] == demote.event_id


@pytest.mark.parametrize("version", V2_VERSIONS)
def test_demoted_moderator_loses_a_concurrent_kick(version: str) -> None:
    room = base(version, **{BOB: 50})
    room.join(CAROL)
    a, b = Fork(room), Fork(room)
    a.send(POWER_LEVELS, ALICE, room.levels({BOB: 0}), state_key="")
    b.member(BOB, CAROL, "leave")
    resolved = resolve(room, a, b)
    assert resolved[(MEMBER, CAROL)] == room.state[(MEMBER, CAROL)]


@pytest.mark.parametrize("version", V2_VERSIONS)
def test_topic_conflict_goes_to_the_later_timestamp(version: str) -> None:
    room = base(version)
    a, b = Fork(room), Fork(room)
    later = a.send("m.room.topic", ALICE, {"topic": "a"}, state_key="", ts=50_000)
    b.send("m.room.topic", ALICE, {"topic": "b"}, state_key="", ts=40_000)
    assert resolve(room, a, b)[TOPIC] == later.event_id
    assert resolve(room, b, a)[TOPIC] == later.event_id


@pytest.mark.parametrize("version", V2_VERSIONS)
def test_same_timestamp_ties_go_to_the_greater_event_id(version: str) -> None:
    room = base(version)
    a, b = Fork(room), Fork(room)
    one = a.send("m.room.topic", ALICE, {"topic": "a"}, state_key="", ts=7)
    two = b.send("m.room.topic", ALICE, {"topic": "b"}, state_key="", ts=7)
    # Sorted ascending by event ID, the last applied wins.
    assert resolve(room, a, b)[TOPIC] == max(one.event_id, two.event_id)


@pytest.mark.parametrize("version", V2_VERSIONS)
def test_join_rule_change_rejects_a_concurrent_join(version: str) -> None:
    room = base(version)
    a, b = Fork(room), Fork(room)
    rules = a.send(JOIN_RULES, ALICE, {"join_rule": "invite"}, state_key="")
    b.member(CAROL, CAROL, "join")
    resolved = resolve(room, a, b)
    assert resolved[(JOIN_RULES, "")] == rules.event_id
    assert (MEMBER, CAROL) not in resolved


@pytest.mark.parametrize("version", V2_VERSIONS)
def test_mainline_position_outranks_timestamp(version: str) -> None:
    room = base(version)
    a, b = Fork(room), Fork(room)
    a.send(POWER_LEVELS, ALICE, room.levels({}, state_default=40), state_key="")
    newer_mainline = a.send("m.room.topic", ALICE, {"topic": "a"}, state_key="", ts=10)
    b.send("m.room.topic", ALICE, {"topic": "b"}, state_key="", ts=99_999)
    # b's topic cites the older power levels, so it sorts first and a's applies last.
    assert resolve(room, a, b)[TOPIC] == newer_mainline.event_id


@pytest.mark.parametrize("version", V2_VERSIONS)
def test_key_missing_from_one_fork_is_conflicted_and_reauthorised(version: str) -> None:
    room = base(version, **{BOB: 50})
    a, b = Fork(room), Fork(room)
    name = a.send("m.room.name", BOB, {"name": "by bob"}, state_key="")
    assert resolve(room, a, b)[("m.room.name", "")] == name.event_id
    b.send(POWER_LEVELS, ALICE, room.levels({BOB: 0}), state_key="")
    assert ("m.room.name", "") not in resolve(room, a, b)


@pytest.mark.parametrize("version", V2_VERSIONS)
def test_three_and_four_forks(version: str) -> None:
    room = base(version)
    a, b, c, d = Fork(room), Fork(room), Fork(room), Fork(room)
    a.send("m.room.name", ALICE, {"name": "A"}, state_key="", ts=10)
    b.send("m.room.name", ALICE, {"name": "B"}, state_key="", ts=30)
    c_join = c.member(CAROL, CAROL, "join")
    d.member(ALICE, DAVE, "ban")
    resolved = resolve(room, a, b, c)
    assert room.events[resolved[("m.room.name", "")]].content["name"] == "B"
    assert resolved[(MEMBER, CAROL)] == c_join.event_id
    with_d = resolve(room, d, c, b, a)
    assert room.events[with_d[(MEMBER, DAVE)]].membership == "ban"
    assert with_d[(MEMBER, CAROL)] == c_join.event_id


@pytest.mark.parametrize("version", ["1", *V2_VERSIONS])
def test_trivial_inputs(version: str) -> None:
    room = base(version)
    assert resolve(room, Fork(room), Fork(room)) == room.state
    assert resolve(room, Fork(room)) == room.state
    assert resolve_state(room.version, [], room.source()) == {}


def test_v12_starts_from_an_empty_state() -> None:
    """With Bob banned in every state set, v2 checks his concurrent power levels change
    against that ban; v12 checks it against its own auth events and keeps it."""
    room = base("12", **{BOB: 50})
    a, b = Fork(room), Fork(room)
    change = a.send(POWER_LEVELS, BOB, room.levels({BOB: 50}, state_default=50), state_key="")
    ban = b.member(ALICE, BOB, "ban")
    state_sets = [{**a.state, (MEMBER, BOB): ban.event_id}, b.state]
    source = room.source()
    v12 = resolve_state_v2(state_sets, source, StateResAlgorithm.V2_1)
    v2 = resolve_state_v2(state_sets, source, StateResAlgorithm.V2)
    assert v12[(POWER_LEVELS, "")] == change.event_id
    assert v2[(POWER_LEVELS, "")] == room.state[(POWER_LEVELS, "")]
    assert v12[(MEMBER, BOB)] == v2[(MEMBER, BOB)] == ban.event_id


def test_rejected_auth_events_are_not_used() -> None:
    """Iterative auth checks fall back to an event's own auth events only if those were
    not rejected."""
    room = base("12", **{BOB: 50})
    a, b = Fork(room), Fork(room)
    change = a.send(POWER_LEVELS, BOB, room.levels({BOB: 50}, state_default=50), state_key="")
    ban = b.member(ALICE, BOB, "ban")
    state_sets = [{**a.state, (MEMBER, BOB): ban.event_id}, b.state]
    bob_join = room.state[(MEMBER, BOB)]
    assert bob_join in change.auth_event_ids
    source = InMemoryEventSource(room.events, rejected={bob_join})
    resolved = resolve_state_v2(state_sets, source, StateResAlgorithm.V2_1)
    assert resolved[(POWER_LEVELS, "")] == room.state[(POWER_LEVELS, "")]


# The definitions, on hand-made auth DAGs.


def dag(edges: dict[str, list[str]], version: str = "12") -> InMemoryEventSource:
    """Events named by their IDs, citing the listed auth events; enough for the
    definitions that only walk auth_events."""
    events = {
        event_id: Event(
            {"type": "t", "sender": ALICE, "state_key": event_id, "auth_events": auth},
            event_id,
            KNOWN_ROOM_VERSIONS[version],
        )
        for event_id, auth in edges.items()
    }
    return InMemoryEventSource(events)


def test_conflicted_subgraph_is_the_paths_between_conflicted_events() -> None:
    #   $a -> $x -> $y -> $b -> $root ;  $c -> $root ;  $a -> $z (a dead end)
    source = dag(
        {
            "$root": [],
            "$b": ["$root"],
            "$y": ["$b"],
            "$x": ["$y"],
            "$a": ["$x", "$z"],
            "$z": [],
            "$c": ["$root"],
        }
    )
    assert conflicted_subgraph({"$a", "$b"}, source) == {"$a", "$x", "$y", "$b"}
    # $c shares only an ancestor: no path joins it to the others.
    assert conflicted_subgraph({"$a", "$b", "$c"}, source) == {"$a", "$x", "$y", "$b"}
    assert conflicted_subgraph({"$a", "$c"}, source) == set()
    assert conflicted_subgraph({"$x", "$root"}, source) == {"$x", "$y", "$b", "$root"}


def test_auth_chains_and_auth_difference() -> None:
    source = dag({"$1": [], "$2": ["$1"], "$3": ["$2"], "$4": ["$2"], "$5": ["$4", "$1"]})
    assert source.auth_chain(["$5"]) == {"$4", "$2", "$1"}
    assert source.auth_chain(["$3", "$1"]) == {"$2", "$1"}
    sets = [{("t", "a"): "$3"}, {("t", "a"): "$5"}]
    assert auth_difference(sets, source) == {"$4"}


def test_split_conflicts_treats_a_missing_key_as_conflicted() -> None:
    unconflicted, conflicted = split_conflicts(
        [{("a", ""): "$1", ("b", ""): "$2"}, {("a", ""): "$1", ("b", ""): "$3", ("c", ""): "$4"}]
    )
    assert unconflicted == {("a", ""): "$1"}
    assert conflicted == {"$2", "$3", "$4"}


def test_reverse_topological_power_order() -> None:
    room = base("10", **{BOB: 50})
    a = Fork(room)
    bob_change = a.send(POWER_LEVELS, BOB, room.levels({BOB: 50}, ban=40), state_key="", ts=1)
    alice_rules = a.send(JOIN_RULES, ALICE, {"join_rule": "invite"}, state_key="", ts=2)
    b = Fork(room)
    alice_topic = b.send(JOIN_RULES, ALICE, {"join_rule": "public"}, state_key="", ts=3)
    ordered = reverse_topological_power_order(
        {bob_change.event_id, alice_rules.event_id, alice_topic.event_id}, room.source()
    )
    # Alice (100) outranks Bob (50) despite the later timestamp; the auth edge from
    # alice_rules to bob_change (its power levels) keeps them in order.
    assert [e.event_id for e in ordered] == [
        alice_topic.event_id,
        bob_change.event_id,
        alice_rules.event_id,
    ]


def test_mainline_order_uses_the_power_levels_each_event_cites() -> None:
    room = base("10")
    old_topic = room.send("m.room.topic", ALICE, {"topic": "1"}, state_key="", ts=900)
    room.send(POWER_LEVELS, ALICE, room.levels({}, kick=51), state_key="")
    new_topic = room.send("m.room.topic", ALICE, {"topic": "2"}, state_key="", ts=800)
    unrelated = room.send("m.room.topic", ALICE, {"topic": "3"}, state_key="", ts=700)
    ordered = mainline_order(
        [new_topic.event_id, old_topic.event_id, unrelated.event_id],
        room.state[(POWER_LEVELS, "")],
        room.source(),
    )
    assert [e.event_id for e in ordered] == [
        old_topic.event_id,
        unrelated.event_id,
        new_topic.event_id,
    ]


# Room version 1.


def test_v1_other_conflicts_go_to_the_deepest_allowed() -> None:
    room = base("1")
    a, b = Fork(room), Fork(room)
    a.send("m.room.topic", ALICE, {"topic": "a"}, state_key="")
    b.send("m.room.message", ALICE, {"body": "x"})
    deeper = b.send("m.room.topic", ALICE, {"topic": "b"}, state_key="")
    assert resolve(room, a, b)[TOPIC] == deeper.event_id


def test_v1_a_key_only_one_fork_has_is_not_a_conflict() -> None:
    room = base("1", **{BOB: 50})
    a, b = Fork(room), Fork(room)
    name = a.send("m.room.name", BOB, {"name": "by bob"}, state_key="")
    b.send(POWER_LEVELS, ALICE, room.levels({BOB: 0}), state_key="")
    # Unlike v2, Bob's name is kept without re-authorisation.
    assert resolve(room, a, b)[("m.room.name", "")] == name.event_id


def test_v1_power_levels_from_the_shallowest_on() -> None:
    room = base("1", **{BOB: 50})
    a, b = Fork(room), Fork(room)
    shallow = a.send(POWER_LEVELS, ALICE, room.levels({BOB: 0}), state_key="")
    b.send("m.room.message", BOB, {"body": "deeper"})
    b.send(POWER_LEVELS, BOB, room.levels({BOB: 50, CAROL: 50}), state_key="")
    # The shallow one goes in first; Bob's deeper change is then not allowed.
    assert resolve(room, a, b)[(POWER_LEVELS, "")] == shallow.event_id


def test_v1_ban_against_join() -> None:
    room = base("1")
    a, b = Fork(room), Fork(room)
    b.member(CAROL, CAROL, "join")
    b.send("m.room.message", CAROL, {"body": "deeper"})
    ban = b.member(ALICE, CAROL, "ban")
    a.member(ALICE, CAROL, "ban")
    resolved = resolve(room, a, b)
    assert room.events[resolved[(MEMBER, CAROL)]].membership == "ban"
    assert resolved[(MEMBER, CAROL)] in (ban.event_id, a.state[(MEMBER, CAROL)])


# Order independence, on generated histories.

ACTIONS = [
    ("ban", BOB),
    ("kick", CAROL),
    ("join", CAROL),
    ("join", DAVE),
    ("topic", ALICE),
    ("topic", BOB),
    ("demote", BOB),
    ("promote", CAROL),
    ("invite_only", ALICE),
    ("public", BOB),
]


def _act(room: Room, fork: Fork, action: str, user: str) -> None:
    if action == "ban":
        fork.member(ALICE, user, "ban")
    elif action == "kick":
        fork.member(BOB, user, "leave")
    elif action == "join":
        fork.member(user, user, "join")
    elif action == "topic":
        fork.send("m.room.topic", user, {"topic": user}, state_key="")
    elif action == "demote":
        fork.send(POWER_LEVELS, ALICE, room.levels({user: 0}), state_key="")
    elif action == "promote":
        fork.send(POWER_LEVELS, BOB, room.levels({BOB: 50, user: 50}), state_key="")
    elif action == "invite_only":
        fork.send(JOIN_RULES, user, {"join_rule": "invite"}, state_key="")
    else:
        fork.send(JOIN_RULES, user, {"join_rule": "public"}, state_key="")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    version=st.sampled_from(["1", *V2_VERSIONS]),
    steps=st.lists(
        st.tuples(st.integers(0, 3), st.sampled_from(ACTIONS)),
        min_size=1,
        max_size=10,
    ),
    order=st.permutations([0, 1, 2, 3]),
)
def test_resolution_is_independent_of_input_order(
    version: str, steps: list[tuple[int, tuple[str, str]]], order: list[int]
) -> None:
    room = base(version, **{BOB: 50})
    forks = [Fork(room) for _ in range(4)]
    for index, (action, user) in steps:
        try:
            _act(room, forks[index], action, user)
        except AuthError:
            continue
    expected = resolve(room, *forks)
    assert resolve(room, *(forks[i] for i in order)) == expected
    # Resolving a state with itself changes nothing.
    assert resolve(room, forks[0], forks[0]) == forks[0].state


def test_state_maps_are_immutable() -> None:
    room = base("10")
    resolved: Any = resolve(room, Fork(room), Fork(room))
    with pytest.raises(TypeError):
        resolved[("x", "")] = "$y"
    key: StateKey = (MEMBER, BOB)
    assert resolved[key] == room.state[key]
    assert hash(resolved) == hash(StateMap(room.state))


def test_v1_conflict_with_nothing_allowed_goes_to_the_shallowest() -> None:
    room = base("1", **{BOB: 50})
    a, b = Fork(room), Fork(room)
    shallow = a.send("m.room.name", BOB, {"name": "a"}, state_key="")
    a.send(POWER_LEVELS, ALICE, room.levels({BOB: 0}), state_key="")
    b.send("m.room.message", BOB, {"body": "x"})
    b.send("m.room.name", BOB, {"name": "b"}, state_key="")
    # Bob may no longer name the room; as Synapse does, the shallowest name stays.
    resolved = resolve(room, a, b)
    assert resolved[(POWER_LEVELS, "")] == a.state[(POWER_LEVELS, "")]
    assert resolved[("m.room.name", "")] == shallow.event_id
