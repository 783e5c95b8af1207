"""State resolution v2 (room versions 2-11) and its v12 variant (spec: rooms/v2, rooms/v12).

`resolve_state_v2` follows the spec's algorithm step by step; each step is a function.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping, Sequence

from homeserver.rules.power_levels import PowerLevels
from homeserver.rules.state_res_common import (
    AuthChains,
    StateMap,
    iterative_auth_checks,
    split_conflicts,
)
from homeserver.types.event import CREATE, JOIN_RULES, MEMBER, POWER_LEVELS, Event, StateKey
from homeserver.types.room_versions import StateResAlgorithm


def is_power_event(event: Event) -> bool:
    """Power levels, join rules, or a kick/ban (leave or ban of someone else)."""
    if event.state_key is None:
        return False
    if event.type in (POWER_LEVELS, JOIN_RULES) and event.state_key == "":
        return True
    return (
        event.type == MEMBER
        and event.membership in ("leave", "ban")
        and event.sender != event.state_key
    )


def auth_difference(state_sets: Sequence[StateMap], chains: AuthChains) -> set[str]:
    """Union minus intersection of the full auth chains of the state sets."""
    full = [chains.of_all(s.values()) for s in state_sets]
    if not full:
        return set()
    return set().union(*full) - set.intersection(*full)


def conflicted_subgraph(conflicted: set[str], events: Mapping[str, Event]) -> set[str]:
    """v12: every event on an auth_events path between two conflicted events (inclusive):
    those reachable from a conflicted event that can also reach one."""
    reachable: set[str] = set()
    citers: dict[str, list[str]] = {}
    stack = list(conflicted)
    while stack:
        current = stack.pop()
        if current in reachable:
            continue
        reachable.add(current)
        event = events.get(current)
        for parent in event.auth_event_ids if event is not None else ():
            citers.setdefault(parent, []).append(current)
            stack.append(parent)
    leads_to_conflict: set[str] = set()
    stack = list(conflicted)
    while stack:
        current = stack.pop()
        if current in leads_to_conflict:
            continue
        leads_to_conflict.add(current)
        stack.extend(citers.get(current, ()))
    return reachable & leads_to_conflict


def _sender_power(event: Event, events: Mapping[str, Event]) -> float:
    """The sender's power level according to the event's own auth events."""
    cited = {
        e.state_pair: e
        for e in (events.get(i) for i in event.auth_event_ids)
        if e is not None and e.state_key is not None
    }
    create = cited.get((CREATE, ""))
    if create is None and event.room_version.room_id_from_create_event:
        create = events.get("$" + event.room_id[1:])
    if event.type == CREATE:
        create = event
    return PowerLevels(event.room_version, cited.get((POWER_LEVELS, "")), create).user_level(
        event.sender
    )


def reverse_topological_power_order(
    event_ids: Iterable[str], events: Mapping[str, Event]
) -> list[Event]:
    """Kahn's algorithm over auth edges, taking the smallest candidate each step:
    higher sender power first, then earlier origin_server_ts, then lower event ID."""
    selected = {e for e in event_ids if e in events}
    children: dict[str, list[str]] = {e: [] for e in selected}
    waiting: dict[str, int] = {}
    for event_id in selected:
        parents = [p for p in events[event_id].auth_event_ids if p in selected]
        waiting[event_id] = len(parents)
        for parent in parents:
            children[parent].append(event_id)

    def rank(event_id: str) -> tuple[float, int, str]:
        event = events[event_id]
        return (-_sender_power(event, events), event.origin_server_ts, event_id)

    ready = [(rank(e), e) for e, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    ordered: list[Event] = []
    while ready:
        _, event_id = heapq.heappop(ready)
        ordered.append(events[event_id])
        for child in children[event_id]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, (rank(child), child))
    return ordered


def _cited_power_levels(event: Event, events: Mapping[str, Event]) -> str | None:
    for auth_id in event.auth_event_ids:
        auth_event = events.get(auth_id)
        if (
            auth_event is not None
            and auth_event.type == POWER_LEVELS
            and auth_event.state_key == ""
        ):
            return auth_id
    return None


def mainline_order(
    event_ids: Iterable[str], power_levels_id: str | None, events: Mapping[str, Event]
) -> list[Event]:
    """Sort by mainline position (based on the resolved power levels) from the earliest
    mainline event, then origin_server_ts, then event ID."""
    mainline: dict[str, int] = {}
    current = power_levels_id
    index = 0
    while current is not None and current in events and current not in mainline:
        mainline[current] = index
        index += 1
        current = _cited_power_levels(events[current], events)

    def position(event: Event) -> float:
        seen: set[str] = set()
        current = _cited_power_levels(event, events)
        while current is not None and current not in seen:
            if current in mainline:
                return mainline[current]
            seen.add(current)
            parent = events.get(current)
            current = _cited_power_levels(parent, events) if parent is not None else None
        return math.inf

    selected = [events[e] for e in event_ids if e in events]
    # A greater mainline position means based on an earlier power levels event: first.
    return sorted(selected, key=lambda e: (-position(e), e.origin_server_ts, e.event_id))


def resolve_state_v2(
    state_sets: Sequence[StateMap], events: Mapping[str, Event], algorithm: StateResAlgorithm
) -> dict[StateKey, str]:
    """Resolve any number of state sets. `events` must hold every event named in them and
    every event of their auth chains."""
    unconflicted, conflicted = split_conflicts(state_sets)
    if not conflicted:
        return unconflicted
    chains = AuthChains(events)
    conflicted_ids = set().union(*conflicted.values())
    full_conflicted = conflicted_ids | auth_difference(state_sets, chains)
    if algorithm is StateResAlgorithm.V2_1:
        full_conflicted |= conflicted_subgraph(conflicted_ids, events)
    full_conflicted = {e for e in full_conflicted if e in events}

    # Step 1: power events and the parts of their auth chains in the full conflicted set.
    power = {e for e in full_conflicted if is_power_event(events[e])}
    for event_id in list(power):
        power |= chains.of(event_id) & full_conflicted
    ordered_power = reverse_topological_power_order(power, events)

    # Step 2: from the unconflicted state (v2) or an empty one (v12).
    initial = {} if algorithm is StateResAlgorithm.V2_1 else unconflicted
    partial = iterative_auth_checks(ordered_power, initial, events)

    # Steps 3 and 4: the rest, in mainline order of the resolved power levels.
    others = full_conflicted - power
    ordered_others = mainline_order(others, partial.get((POWER_LEVELS, "")), events)
    resolved = iterative_auth_checks(ordered_others, partial, events)

    # Step 5: the unconflicted state map wins.
    resolved.update(unconflicted)
    return resolved
