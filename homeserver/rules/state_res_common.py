"""What both state resolution algorithms need: where events and auth chains come from,
and authorising an event against a state map."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from typing import Protocol

from homeserver.rules.auth_events import auth_types_for_event
from homeserver.rules.auth_rules import check_auth
from homeserver.rules.types import AuthError
from homeserver.types.event import CREATE, Event, StateKey
from homeserver.types.ids import create_event_id_for_room

IdStateMap = Mapping[StateKey, str]


class StateResolutionSource(Protocol):
    """Events and auth chains for state resolution, supplied by the caller (from storage
    or memory). Every event named in the state sets, and their auth chains, must be
    available."""

    def get_event(self, event_id: str) -> Event | None: ...

    def auth_chain(self, event_ids: Iterable[str]) -> set[str]:
        """The union of the auth chains of these events: every event reachable through
        `auth_events` links, not counting the starting events themselves."""
        ...

    def is_rejected(self, event_id: str) -> bool: ...


class InMemoryEventSource:
    """A StateResolutionSource over events held in a mapping; auth chains are memoised."""

    def __init__(self, events: Mapping[str, Event], rejected: Set[str] = frozenset()) -> None:
        self._events = events
        self._rejected = rejected
        self._chains: dict[str, frozenset[str]] = {}

    def get_event(self, event_id: str) -> Event | None:
        return self._events.get(event_id)

    def is_rejected(self, event_id: str) -> bool:
        return event_id in self._rejected

    def auth_chain(self, event_ids: Iterable[str]) -> set[str]:
        result: set[str] = set()
        for event_id in event_ids:
            result |= self._chain_of(event_id)
        return result

    def _chain_of(self, event_id: str) -> frozenset[str]:
        # An iterative post-order walk: auth chains can be deeper than Python's stack.
        stack: list[tuple[str, bool]] = [(event_id, False)]
        while stack:
            current, expanded = stack.pop()
            if current in self._chains:
                continue
            event = self._events.get(current)
            parents = event.auth_event_ids if event is not None else ()
            if not expanded:
                stack.append((current, True))
                stack.extend((p, False) for p in parents if p not in self._chains)
                continue
            chain: set[str] = set(parents)
            for parent in parents:
                chain |= self._chains.get(parent, frozenset())
            self._chains[current] = frozenset(chain)
        return self._chains[event_id]


def auth_events_from_state(
    event: Event, state: IdStateMap, source: StateResolutionSource, *, fall_back_to_cited: bool
) -> dict[StateKey, Event]:
    """The events to authorise `event` against: the state's event for each key auth
    selection asks for, and (v2's iterative auth checks) for keys the state lacks, the
    event's own non-rejected auth event."""
    room_version = event.room_version
    result: dict[StateKey, Event] = {}
    if fall_back_to_cited:
        for auth_id in event.auth_event_ids:
            auth_event = source.get_event(auth_id)
            if (
                auth_event is not None
                and auth_event.state_key is not None
                and not source.is_rejected(auth_id)
            ):
                result[auth_event.state_pair] = auth_event
    needed = auth_types_for_event(
        room_version, event.type, event.sender, event.state_key, event.content
    )
    if room_version.room_id_from_create_event:
        # v12: the create event is the one the room ID names; it is never cited.
        create_id = create_event_id_for_room(event.room_id)
        create = source.get_event(create_id)
        if create is not None and not source.is_rejected(create_id):
            result[(CREATE, "")] = create
    for key in needed:
        chosen = state.get(key)
        chosen_event = source.get_event(chosen) if chosen is not None else None
        if chosen_event is not None and not source.is_rejected(chosen_event.event_id):
            result[key] = chosen_event
    return result


def is_allowed(event: Event, auth_events: Mapping[StateKey, Event]) -> bool:
    try:
        check_auth(event, auth_events)
    except AuthError:
        return False
    return True
