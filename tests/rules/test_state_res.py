"""State resolution scenarios written from the spec's description of the algorithms."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from homeserver.rules.state_res_v2 import conflicted_subgraph
from homeserver.rules.state_resolution import resolve_state
from homeserver.types.event import Event, StateKey
from tests.rules.builder import ALICE, BOB, CAROL, Room

V2_VERSIONS = ["2", "10", "11", "12"]


class Fork:
    """A branch of the DAG from a point of the main line, with its own state."""

    def __init__(self, room: Room) -> None:
        self.room = room
        self.state = dict(room.state)
        self.head = list(room.head)

    def send(self, event_type: str, sender: str, content: Mapping[str, Any], **kw: Any) -> Event:
        event = self.room.build(event_type, sender, content, prev=self.head, state=self.state, **kw)
        self.room.check(event, self.state)
        self.room.add(event)
        self.head = [event.event_id]
        if event.state_key is not None:
            self.state[event.state_pair] = event.event_id
        return event


def resolve(room: Room, *forks: Fork) -> dict[StateKey, str]:
    return resolve_state(room.version, [f.state for f in forks], room.events)


def base(version: str, **levels: int) -> Room:
    room = Room(version).public(levels)
    room.join(BOB)
    return room


@pytest.mark.parametrize("version", V2_VERSIONS)
def test_ban_beats_concurrent_actions_of_the_banned(version: str) -> None:
    room = base(version, **{BOB: 50})
    a, b = Fork(room), Fork(room)
    ban = a.send("m.room.member", ALICE, {"membership": "ban"}, state_key=BOB)
    topic = b.send("m.room.topic", BOB, {"topic": "mine"}, state_key="")
    resolved = resolve(room, a, b)
    assert resolved[("m.room.member", BOB)] == ban.event_id
    assert resolved.get(("m.room.topic", "")) != topic.event_id


@pytest.mark.parametrize("version", V2_VERSIONS)
def test_power_level_race_goes_to_the_more_powerful(version: str) -> None:
    room = base(version, **{BOB: 50})
    a, b = Fork(room), Fork(room)
    demote = a.send("m.room.power_levels", ALICE, _users(room, {BOB: 0}), state_key="")
    b.send("m.room.power_levels", BOB, _users(room, {BOB: 50, CAROL: 50}), state_key="")
    assert resolve(room, a, b)[("m.room.power_levels", "")] == demote.event_id


def _users(room: Room, users: dict[str, int]) -> dict[str, Any]:
    levels = {ALICE: 100, **users}
    if room.version.additional_creators:
        levels.pop(ALICE)
    return {"users": levels}


@pytest.mark.parametrize("version", V2_VERSIONS)
def test_topic_conflict_goes_to_the_later_timestamp(version: str) -> None:
    room = base(version)
    a, b = Fork(room), Fork(room)
    later = a.send("m.room.topic", ALICE, {"topic": "a"}, state_key="", ts=50_000)
    b.send("m.room.topic", ALICE, {"topic": "b"}, state_key="", ts=40_000)
    assert resolve(room, a, b)[("m.room.topic", "")] == later.event_id
    assert resolve(room, b, a)[("m.room.topic", "")] == later.event_id


@pytest.mark.parametrize("version", V2_VERSIONS)
def test_join_rule_change_rejects_a_concurrent_join(version: str) -> None:
    room = base(version)
    a, b = Fork(room), Fork(room)
    rules = a.send("m.room.join_rules", ALICE, {"join_rule": "invite"}, state_key="")
    b.send("m.room.member", CAROL, {"membership": "join"}, state_key=CAROL)
    resolved = resolve(room, a, b)
    assert resolved[("m.room.join_rules", "")] == rules.event_id
    assert ("m.room.member", CAROL) not in resolved


@pytest.mark.parametrize("version", V2_VERSIONS)
def test_mainline_position_outranks_timestamp(version: str) -> None:
    room = base(version)
    a, b = Fork(room), Fork(room)
    a.send("m.room.power_levels", ALICE, {**_users(room, {}), "state_default": 40}, state_key="")
    newer_mainline = a.send("m.room.topic", ALICE, {"topic": "a"}, state_key="", ts=10)
    b.send("m.room.topic", ALICE, {"topic": "b"}, state_key="", ts=99_999)
    # b's topic cites the older power levels, so it sorts first and a's applies last.
    assert resolve(room, a, b)[("m.room.topic", "")] == newer_mainline.event_id


@pytest.mark.parametrize("version", V2_VERSIONS)
def test_three_forks(version: str) -> None:
    room = base(version)
    a, b, c = Fork(room), Fork(room), Fork(room)
    a.send("m.room.name", ALICE, {"name": "A"}, state_key="", ts=10)
    b.send("m.room.name", ALICE, {"name": "B"}, state_key="", ts=30)
    c_join = c.send("m.room.member", CAROL, {"membership": "join"}, state_key=CAROL)
    resolved = resolve(room, a, b, c)
    assert room.events[resolved[("m.room.name", "")]].content["name"] == "B"
    assert resolved[("m.room.member", CAROL)] == c_join.event_id


def test_unconflicted_state_passes_through() -> None:
    room = base("10")
    assert resolve(room, Fork(room), Fork(room)) == room.state


def test_v12_conflicted_subgraph_includes_paths_between_conflicts() -> None:
    room = base("12")
    a = Fork(room)
    p1 = a.send("m.room.power_levels", ALICE, _users(room, {BOB: 10}), state_key="")
    middle = a.send("m.room.join_rules", ALICE, {"join_rule": "public"}, state_key="")
    p2 = a.send("m.room.power_levels", ALICE, _users(room, {BOB: 20}), state_key="")
    subgraph = conflicted_subgraph({p1.event_id, p2.event_id}, room.events)
    assert p1.event_id in subgraph and p2.event_id in subgraph
    # The join rules event is not cited by p2, so it is not on an auth path.
    assert middle.event_id not in subgraph


def test_v1_resolution_prefers_depth_among_allowed() -> None:
    room = base("1")
    a, b = Fork(room), Fork(room)
    a.send("m.room.topic", ALICE, {"topic": "a"}, state_key="")
    deeper = b.send("m.room.message", ALICE, {"body": "x"})
    deeper = b.send("m.room.topic", ALICE, {"topic": "b"}, state_key="")
    assert resolve(room, a, b)[("m.room.topic", "")] == deeper.event_id


def _three_way_scenario(version: str) -> tuple[Room, list[Fork]]:
    room = base(version, **{BOB: 50})
    forks = [Fork(room), Fork(room), Fork(room)]
    forks[0].send("m.room.member", ALICE, {"membership": "ban"}, state_key=BOB)
    forks[1].send("m.room.topic", BOB, {"topic": "bob"}, state_key="", ts=5000)
    forks[2].send("m.room.topic", ALICE, {"topic": "alice"}, state_key="", ts=4000)
    forks[2].send("m.room.member", CAROL, {"membership": "join"}, state_key=CAROL)
    return room, forks


SCENARIOS = {v: _three_way_scenario(v) for v in V2_VERSIONS}


@settings(max_examples=30, deadline=None)
@given(version=st.sampled_from(V2_VERSIONS), order=st.permutations([0, 1, 2]))
def test_resolution_is_independent_of_input_order(version: str, order: list[int]) -> None:
    room, forks = SCENARIOS[version]
    expected = resolve(room, *forks)
    assert resolve(room, *(forks[i] for i in order)) == expected
