"""Equal things built once and shared by every rule set and event that needs them."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SharedObjects(Generic[K, V]):
    """A bounded map of shared objects. When full, the oldest goes first: the defaults'
    objects are made early and, while in use, are made again at once."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self._objects: dict[K, V] = {}

    def get(self, key: K, make: Callable[[], V]) -> V:
        found = self._objects.get(key)
        if found is None:
            found = self.put(key, make())
        return found

    def peek(self, key: K) -> V | None:
        return self._objects.get(key)

    def put(self, key: K, value: V) -> V:
        if key not in self._objects and len(self._objects) >= self.max_size:
            del self._objects[next(iter(self._objects))]
        self._objects[key] = value
        return value
