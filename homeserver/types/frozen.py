"""Deeply immutable JSON values, so an event cannot change once built (design rule 3).

`FrozenDict` and `FrozenList` subclass `dict` and `list`, so JSON encoders, `isinstance`
checks and read-only code treat them as ordinary JSON; every mutating method raises.
Copies (`copy.copy`, `copy.deepcopy`, `thaw`) give back plain, mutable JSON.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Any, NoReturn


def _refuse(self: object, *args: object, **kwargs: object) -> NoReturn:
    raise TypeError(f"{type(self).__name__} is immutable")


class FrozenDict(dict[str, Any]):
    __slots__ = ()
    __setitem__ = __delitem__ = _refuse
    clear = pop = popitem = setdefault = update = __ior__ = _refuse

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items(), key=lambda item: item[0])))

    def __copy__(self) -> dict[str, Any]:
        return thaw(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return thaw(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (freeze, (thaw(self),))


class FrozenList(list[Any]):
    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(self))

    def __copy__(self) -> list[Any]:
        return thaw(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return thaw(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (freeze, (thaw(self),))


# Strings up to this length are interned: every event repeats the same keys and mostly the
# same room IDs, senders and types, and the JSON decoder makes a new copy of each for every
# event. Interned strings are freed with their last user, so unique ones cost nothing.
_INTERNED_MAX_LENGTH = 80


def freeze(value: Any) -> Any:
    """The same JSON value with every object and array made immutable.

    Held events are the bulk of the server's memory; interning their keys and short values
    makes a cached event about a third smaller.
    """
    if isinstance(value, FrozenDict | FrozenList):
        return value
    if isinstance(value, Mapping):
        frozen_dict = FrozenDict()
        # dict.__init__ fills the mapping without going through the refused __setitem__.
        dict.__init__(frozen_dict, ((_intern(k), freeze(v)) for k, v in value.items()))
        return frozen_dict
    if isinstance(value, list | tuple):
        frozen_list = FrozenList()
        list.__init__(frozen_list, (freeze(v) for v in value))
        return frozen_list
    if type(value) is str and len(value) <= _INTERNED_MAX_LENGTH:
        return sys.intern(value)
    return value


def _intern(key: Any) -> Any:
    return sys.intern(key) if type(key) is str else key


def thaw(value: Any) -> Any:
    """A plain, mutable deep copy of a JSON value (frozen or not)."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [thaw(v) for v in value]
    return value
