"""State resolution for room version 1 (spec: rooms/v1 "State resolution")."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from homeserver.rules.state_res_common import StateMap, is_allowed, split_conflicts
from homeserver.types.event import JOIN_RULES, MEMBER, POWER_LEVELS, Event, StateKey


def _sha1(event_id: str) -> str:
    return hashlib.sha1(event_id.encode(), usedforsecurity=False).hexdigest()


def resolve_state_v1(
    state_sets: Sequence[StateMap], events: Mapping[str, Event]
) -> dict[StateKey, str]:
    """`events` must hold every event named in the state sets and their auth events."""
    resolved, conflicted = split_conflicts(state_sets)

    def auth_ordered_pass(key: StateKey) -> None:
        candidates = [events[e] for e in conflicted[key] if e in events]
        # Ascending depth, then descending sha1(event_id).
        candidates.sort(key=lambda e: _sha1(e.event_id), reverse=True)
        candidates.sort(key=lambda e: e.depth)
        if not candidates:
            return
        resolved[key] = candidates[0].event_id
        for event in candidates[1:]:
            if not is_allowed(event, resolved, events):
                break
            resolved[key] = event.event_id

    ordered_keys = sorted(conflicted)
    for event_type in (POWER_LEVELS, JOIN_RULES, MEMBER):
        for key in ordered_keys:
            if key[0] == event_type:
                auth_ordered_pass(key)
    for key in ordered_keys:
        if key[0] in (POWER_LEVELS, JOIN_RULES, MEMBER):
            continue
        candidates = [events[e] for e in conflicted[key] if e in events]
        # Highest depth, then lowest sha1(event_id), among those R allows.
        candidates.sort(key=lambda e: (-e.depth, _sha1(e.event_id)))
        for event in candidates:
            if is_allowed(event, resolved, events):
                resolved[key] = event.event_id
                break
    return resolved
