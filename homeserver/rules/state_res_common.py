"""Pieces shared by the state resolution algorithms: conflicts, auth chains, auth checks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from homeserver.rules.auth_events import auth_types_for_event
from homeserver.rules.auth_rules import check_auth
from homeserver.rules.types import AuthError
from homeserver.types.event import CREATE, Event, StateKey

StateMap = Mapping[StateKey, str]


def split_conflicts(
    state_sets: Sequence[StateMap],
) -> tuple[dict[StateKey, str], dict[StateKey, set[str]]]:
    """The unconflicted state map, and for each conflicted key the competing event IDs.

    A key missing from some state set is conflicted too (its value is not in every set).
    """
    unconflicted: dict[StateKey, str] = {}
    conflicted: dict[StateKey, set[str]] = {}
    keys = set().union(*(s.keys() for s in state_sets)) if state_sets else set()
    for key in keys:
        values = {s.get(key) for s in state_sets}
        if len(values) == 1 and None not in values:
            unconflicted[key] = next(iter(values))  # type: ignore[arg-type]
        else:
            conflicted[key] = {v for v in values if v is not None}
    return unconflicted, conflicted


class AuthChains:
    """Auth chains over a map of events, memoised (the chain excludes the event itself)."""

    def __init__(self, events: Mapping[str, Event]) -> None:
        self.events = events
        self._chains: dict[str, frozenset[str]] = {}

    def of(self, event_id: str) -> frozenset[str]:
        cached = self._chains.get(event_id)
        if cached is not None:
            return cached
        # Iterative post-order walk: auth chains can be deep.
        stack: list[tuple[str, bool]] = [(event_id, False)]
        while stack:
            current, expanded = stack.pop()
            if current in self._chains:
                continue
            event = self.events.get(current)
            parents = event.auth_event_ids if event is not None else ()
            if not expanded:
                stack.append((current, True))
                stack.extend((p, False) for p in parents if p not in self._chains)
                continue
            chain: set[str] = set()
            for parent in parents:
                chain.add(parent)
                chain |= self._chains.get(parent, frozenset())
            self._chains[current] = frozenset(chain)
        return self._chains[event_id]

    def of_all(self, event_ids: Iterable[str]) -> set[str]:
        result: set[str] = set()
        for event_id in event_ids:
            result |= self.of(event_id)
        return result


def auth_events_for(
    event: Event, state: Mapping[StateKey, str], events: Mapping[str, Event]
) -> dict[StateKey, Event]:
    """The events to authorise `event` against during resolution: what the (partial) state
    holds for each needed key, else the event's own cited auth event."""
    result: dict[StateKey, Event] = {}
    for auth_id in event.auth_event_ids:
        auth_event = events.get(auth_id)
        if auth_event is not None and auth_event.state_key is not None:
            result[auth_event.state_pair] = auth_event
    needed = auth_types_for_event(
        event.room_version, event.type, event.sender, event.state_key, event.content
    )
    if event.room_version.room_id_from_create_event:
        needed.append((CREATE, ""))
    for key in needed:
        chosen = state.get(key)
        if chosen is not None and chosen in events:
            result[key] = events[chosen]
    if event.room_version.room_id_from_create_event and (CREATE, "") not in result:
        create_id = "$" + event.room_id[1:]
        if create_id in events:
            result[(CREATE, "")] = events[create_id]
    return result


def is_allowed(event: Event, state: Mapping[StateKey, str], events: Mapping[str, Event]) -> bool:
    try:
        check_auth(event, auth_events_for(event, state, events))
    except AuthError:
        return False
    return True


def iterative_auth_checks(
    ordered: Iterable[Event], initial: Mapping[StateKey, str], events: Mapping[str, Event]
) -> dict[StateKey, str]:
    """Apply each state event in turn if the state so far allows it (spec: iterative auth
    checks)."""
    state = dict(initial)
    for event in ordered:
        if event.state_key is None:
            continue
        if is_allowed(event, state, events):
            state[event.state_pair] = event.event_id
    return state
