"""State resolution v2 (room versions 2-11) and its v12 variant (spec: rooms/v2 and
rooms/v12 "State resolution"). `resolve_state_v2` follows the algorithm step by step;
each definition is a function."""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Sequence

from homeserver.rules.power_levels import PowerLevels
from homeserver.rules.state_res_common import (
    IdStateMap,
    StateResolutionSource,
    auth_events_from_state,
    is_allowed,
)
from homeserver.types.event import CREATE, JOIN_RULES, MEMBER, POWER_LEVELS, Event, StateKey
from homeserver.types.ids import create_event_id_for_room
from homeserver.types.room_versions import StateResAlgorithm
from homeserver.types.state import StateMap


def split_conflicts(
    state_sets: Sequence[IdStateMap],
) -> tuple[dict[StateKey, str], set[str]]:
    """The unconflicted state map (keys every state set maps to the same event) and the
    conflicted state set (every other event named)."""
    unconflicted: dict[StateKey, str] = {}
    conflicted: set[str] = set()
    keys: set[StateKey] = set().union(*(s.keys() for s in state_sets))
    for key in keys:
        values = {s.get(key) for s in state_sets}
        only = next(iter(values))
        if len(values) == 1 and only is not None:
            unconflicted[key] = only
        else:
            conflicted |= {v for v in values if v is not None}
    return unconflicted, conflicted


def is_power_event(event: Event) -> bool:
    """Power levels, join rules, or a member event removing someone else (kick or ban)."""
    if event.state_key is None:
        return False
    if event.type in (POWER_LEVELS, JOIN_RULES) and event.state_key == "":
        return True
    return (
        event.type == MEMBER
        and event.membership in ("leave", "ban")
        and event.sender != event.state_key
    )


def auth_difference(state_sets: Sequence[IdStateMap], source: StateResolutionSource) -> set[str]:
    """union(C_i) - intersection(C_i), where C_i is the union of the auth chains of the
    events of the state set S_i."""
    chains = [source.auth_chain(s.values()) for s in state_sets]
    return set().union(*chains) - set.intersection(*chains)


def conflicted_subgraph(conflicted: set[str], source: StateResolutionSource) -> set[str]:
    """v12: the events on auth_events paths from one conflicted event to another,
    endpoints included."""
    below: set[str] = set()  # reachable from a conflicted event by at least one edge
    citers: dict[str, set[str]] = {}
    visited: set[str] = set()
    stack = list(conflicted)
    while stack:
        current = stack.pop()
        if current in visited:
            continue
        visited.add(current)
        event = source.get_event(current)
        for parent in event.auth_event_ids if event is not None else ():
            citers.setdefault(parent, set()).add(current)
            below.add(parent)
            stack.append(parent)
    # Paths between conflicted events lie within what they reach, so the citing edges
    # seen on the way down are enough to walk back up.
    above: set[str] = set()  # reaches a conflicted event by at least one edge
    stack = [citer for event_id in conflicted for citer in citers.get(event_id, ())]
    while stack:
        current = stack.pop()
        if current in above:
            continue
        above.add(current)
        stack.extend(citers.get(current, ()))
    return (below & above) | {e for e in conflicted if e in below or e in above}


def full_conflicted_set(
    state_sets: Sequence[IdStateMap],
    conflicted: set[str],
    source: StateResolutionSource,
    algorithm: StateResAlgorithm,
) -> set[str]:
    """The conflicted state set, the auth difference and (v12) the conflicted subgraph,
    limited to events the source has."""
    full = conflicted | auth_difference(state_sets, source)
    if algorithm is StateResAlgorithm.V2_1:
        full |= conflicted_subgraph(conflicted, source)
    return {e for e in full if source.get_event(e) is not None}


def _cited(event: Event, source: StateResolutionSource) -> dict[StateKey, Event]:
    cited: dict[StateKey, Event] = {}
    for auth_id in event.auth_event_ids:
        auth_event = source.get_event(auth_id)
        if auth_event is not None and auth_event.state_key is not None:
            cited[auth_event.state_pair] = auth_event
    return cited


def sender_power(event: Event, source: StateResolutionSource) -> float:
    """The sender's power level according to the event's own auth events (with the
    defaults for a room without power levels; v12: infinite for creators)."""
    cited = _cited(event, source)
    if event.type == CREATE and event.state_key == "":
        create: Event | None = event
    elif event.room_version.room_id_from_create_event:
        create = source.get_event(create_event_id_for_room(event.room_id))
    else:
        create = cited.get((CREATE, ""))
    power = PowerLevels(event.room_version, cited.get((POWER_LEVELS, "")), create)
    return power.user_level(event.sender)


def reverse_topological_power_order(
    event_ids: Iterable[str], source: StateResolutionSource
) -> list[Event]:
    """Kahn's algorithm over the auth_events edges within the set, taking the smallest
    ready event each step: greater sender power, then earlier origin_server_ts, then the
    lower event ID."""
    events = {e.event_id: e for e in map(source.get_event, set(event_ids)) if e is not None}
    children: dict[str, list[str]] = {e: [] for e in events}
    waiting: dict[str, int] = {}
    for event_id, event in events.items():
        parents = {p for p in event.auth_event_ids if p in events}
        waiting[event_id] = len(parents)
        for parent in parents:
            children[parent].append(event_id)

    def rank(event: Event) -> tuple[float, int, str]:
        return (-sender_power(event, source), event.origin_server_ts, event.event_id)

    ready = [(rank(events[e]), e) for e, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    ordered: list[Event] = []
    while ready:
        _, event_id = heapq.heappop(ready)
        ordered.append(events[event_id])
        for child in children[event_id]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, (rank(events[child]), child))
    return ordered


def _cited_power_levels(event: Event, source: StateResolutionSource) -> Event | None:
    for auth_id in event.auth_event_ids:
        auth_event = source.get_event(auth_id)
        if (
            auth_event is not None
            and auth_event.type == POWER_LEVELS
            and auth_event.state_key == ""
        ):
            return auth_event
    return None


def mainline(power_levels_id: str | None, source: StateResolutionSource) -> dict[str, int]:
    """The mainline of P_0 as {event ID: i}: P_0, the power levels event P_0 cites, ..."""
    positions: dict[str, int] = {}
    current = source.get_event(power_levels_id) if power_levels_id is not None else None
    while current is not None and current.event_id not in positions:
        positions[current.event_id] = len(positions)
        current = _cited_power_levels(current, source)
    return positions


def mainline_position(
    event: Event, positions: dict[str, int], source: StateResolutionSource
) -> float:
    """i for the first e_j (j ≥ 1) on the mainline, e_1 being the power levels event `event`
    cites, e_2 the one e_1 cites, ...; infinity if none is on it."""
    seen: set[str] = set()
    current = _cited_power_levels(event, source)
    while current is not None and current.event_id not in seen:
        if current.event_id in positions:
            return positions[current.event_id]
        seen.add(current.event_id)
        current = _cited_power_levels(current, source)
    return math.inf


def mainline_order(
    event_ids: Iterable[str], power_levels_id: str | None, source: StateResolutionSource
) -> list[Event]:
    """Greater mainline position (based on an earlier power levels event) first, then
    earlier origin_server_ts, then the lower event ID."""
    positions = mainline(power_levels_id, source)
    events = [e for e in map(source.get_event, set(event_ids)) if e is not None]
    return sorted(
        events,
        key=lambda e: (-mainline_position(e, positions, source), e.origin_server_ts, e.event_id),
    )


def iterative_auth_checks(
    ordered: Iterable[Event], initial: IdStateMap, source: StateResolutionSource
) -> dict[StateKey, str]:
    """Apply each state event in turn if the state so far allows it; for keys the state
    lacks, the event's own (non-rejected) auth events are used."""
    state = dict(initial)
    for event in ordered:
        if event.state_key is None:
            continue
        auth_events = auth_events_from_state(event, state, source, fall_back_to_cited=True)
        if is_allowed(event, auth_events):
            state[event.state_pair] = event.event_id
    return state


def resolve_state_v2(
    state_sets: Sequence[IdStateMap], source: StateResolutionSource, algorithm: StateResAlgorithm
) -> StateMap[str]:
    """Resolve any number of state sets (`algorithm` V2, or V2_1 for v12)."""
    unconflicted, conflicted = split_conflicts(state_sets)
    if not conflicted:
        return StateMap(unconflicted)
    full = full_conflicted_set(state_sets, conflicted, source, algorithm)

    # Step 1: the power events of the full conflicted set, with the parts of their auth
    # chains inside it, in reverse topological power order.
    power = {e.event_id for e in map(source.get_event, full) if e is not None and is_power_event(e)}
    power |= source.auth_chain(power) & full
    ordered_power = reverse_topological_power_order(power, source)

    # Step 2: iterative auth checks from the unconflicted state (v12: from nothing).
    initial: IdStateMap = {} if algorithm is StateResAlgorithm.V2_1 else unconflicted
    partial = iterative_auth_checks(ordered_power, initial, source)

    # Steps 3 and 4: the other events in mainline order of the partial power levels.
    ordered_others = mainline_order(full - power, partial.get((POWER_LEVELS, "")), source)
    resolved = iterative_auth_checks(ordered_others, partial, source)

    # Step 5: the unconflicted state map wins.
    resolved.update(unconflicted)
    return StateMap(resolved)
