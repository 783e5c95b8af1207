"""Resolve the state of a room at a fork with its version's algorithm."""

from __future__ import annotations

from collections.abc import Sequence

from homeserver.rules.state_res_common import IdStateMap, StateResolutionSource
from homeserver.rules.state_res_v1 import resolve_state_v1
from homeserver.rules.state_res_v2 import resolve_state_v2
from homeserver.types.room_versions import RoomVersion, StateResAlgorithm
from homeserver.types.state import StateMap


def resolve_state(
    room_version: RoomVersion, state_sets: Sequence[IdStateMap], source: StateResolutionSource
) -> StateMap[str]:
    """The resolution of any number of state sets (maps of (type, state_key) to event ID).

    `source` must supply every event named in them and all their auth chains.
    """
    if len(state_sets) == 1:
        return StateMap(state_sets[0])
    if room_version.state_res is StateResAlgorithm.V1:
        return resolve_state_v1(state_sets, source)
    return resolve_state_v2(state_sets, source, room_version.state_res)
