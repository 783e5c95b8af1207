"""Resolve the state of a room at a fork with its version's algorithm."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from homeserver.rules.state_res_common import StateMap
from homeserver.rules.state_res_v1 import resolve_state_v1
from homeserver.rules.state_res_v2 import resolve_state_v2
from homeserver.types.event import Event, StateKey
from homeserver.types.room_versions import RoomVersion, StateResAlgorithm


def resolve_state(
    room_version: RoomVersion, state_sets: Sequence[StateMap], events: Mapping[str, Event]
) -> dict[StateKey, str]:
    """`events` must hold every event named in the state sets and all their auth chains."""
    if len(state_sets) == 1:
        return dict(state_sets[0])
    if room_version.state_res is StateResAlgorithm.V1:
        return resolve_state_v1(state_sets, events)
    return resolve_state_v2(state_sets, events, room_version.state_res)
