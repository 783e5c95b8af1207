"""Room state as data: keys are (event type, state key); values are event IDs or events."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Generic, TypeVar

StateKey = tuple[str, str]

V = TypeVar("V")


class StateMap(Mapping[StateKey, V], Generic[V]):
    """An immutable, hashable state map (a copy of what it was built from)."""

    __slots__ = ("_entries",)

    def __init__(self, entries: Mapping[StateKey, V] | Iterable[tuple[StateKey, V]] = ()) -> None:
        self._entries: dict[StateKey, V] = dict(entries)

    def __getitem__(self, key: StateKey) -> V:
        return self._entries[key]

    def __iter__(self) -> Iterator[StateKey]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"StateMap({self._entries!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, StateMap):
            return self._entries == other._entries
        if isinstance(other, Mapping):
            return self._entries == dict(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(frozenset(self._entries.items()))
