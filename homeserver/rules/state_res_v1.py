"""State resolution for room version 1 (spec: rooms/v1 "State resolution").

Where the text is silent this follows Synapse: the keys of one event type are resolved
against the same R and then added together (so the order of keys does not matter), and a
conflict none of whose events pass auth goes to the one of least depth.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from homeserver.rules.state_res_common import (
    IdStateMap,
    StateResolutionSource,
    auth_events_from_state,
    is_allowed,
)
from homeserver.types.event import JOIN_RULES, MEMBER, POWER_LEVELS, Event, StateKey
from homeserver.types.state import StateMap

# The event types that affect authorisation, resolved first and in this order.
_AUTH_TYPES_IN_ORDER = (POWER_LEVELS, JOIN_RULES, MEMBER)


def split_conflicts_v1(
    state_sets: Sequence[IdStateMap],
) -> tuple[dict[StateKey, str], dict[StateKey, set[str]]]:
    """A conflict is two states naming different events for one key; a key only some
    states have is not a conflict in v1 (unlike v2)."""
    unconflicted: dict[StateKey, str] = {}
    conflicted: dict[StateKey, set[str]] = {}
    for state in state_sets:
        for key, event_id in state.items():
            if key in conflicted:
                conflicted[key].add(event_id)
            elif key not in unconflicted:
                unconflicted[key] = event_id
            elif unconflicted[key] != event_id:
                conflicted[key] = {unconflicted.pop(key), event_id}
    return unconflicted, conflicted


def _sha1(event_id: str) -> str:
    return hashlib.sha1(event_id.encode(), usedforsecurity=False).hexdigest()


def _allowed_in(event: Event, resolved: IdStateMap, source: StateResolutionSource) -> bool:
    return is_allowed(
        event, auth_events_from_state(event, resolved, source, fall_back_to_cited=False)
    )


def _resolve_auth_conflict(
    candidates: list[Event], resolved: IdStateMap, source: StateResolutionSource
) -> str:
    """Ascending depth then descending sha1(event_id): take the first, then each next one
    while it is allowed in R with the previous one applied."""
    candidates.sort(key=lambda e: _sha1(e.event_id), reverse=True)
    candidates.sort(key=lambda e: e.depth)
    chosen = candidates[0]
    for event in candidates[1:]:
        if not _allowed_in(event, {**resolved, chosen.state_pair: chosen.event_id}, source):
            break
        chosen = event
    return chosen.event_id


def _resolve_other_conflict(
    candidates: list[Event], resolved: IdStateMap, source: StateResolutionSource
) -> str:
    """Highest depth then lowest sha1(event_id) among those allowed in R."""
    candidates.sort(key=lambda e: (-e.depth, _sha1(e.event_id)))
    for event in candidates:
        if _allowed_in(event, resolved, source):
            return event.event_id
    return candidates[-1].event_id


def resolve_state_v1(
    state_sets: Sequence[IdStateMap], source: StateResolutionSource
) -> StateMap[str]:
    unconflicted, conflicted = split_conflicts_v1(state_sets)
    resolved = dict(unconflicted)
    candidates = {
        key: [e for e in map(source.get_event, ids) if e is not None]
        for key, ids in conflicted.items()
    }
    candidates = {key: events for key, events in candidates.items() if events}
    ordered_keys = sorted(candidates)
    for event_type in _AUTH_TYPES_IN_ORDER:
        passed = {
            key: _resolve_auth_conflict(candidates[key], resolved, source)
            for key in ordered_keys
            if key[0] == event_type
        }
        resolved.update(passed)
    others = {
        key: _resolve_other_conflict(candidates[key], resolved, source)
        for key in ordered_keys
        if key[0] not in _AUTH_TYPES_IN_ORDER
    }
    resolved.update(others)
    return StateMap(resolved)
