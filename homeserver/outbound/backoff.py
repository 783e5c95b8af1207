"""Exponential backoff per destination (a server, a push gateway, a pusher).

A destination that fails waits `initial_s`, then twice as long after each further
failure, up to `max_s`; a success forgets it. Only failing destinations are held, and at
most `max_keys` of them (the one failing longest ago is forgotten first), so a flood of
distinct dead destinations cannot grow memory without bound.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(slots=True)
class _State:
    next_delay_s: float
    retry_at: float


class Backoff(Generic[K]):
    def __init__(
        self,
        initial_s: float,
        max_s: float,
        *,
        max_keys: int = 100_000,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        if initial_s <= 0 or max_s < initial_s:
            raise ValueError("backoff needs 0 < initial_s <= max_s")
        self.initial_s = initial_s
        self.max_s = max_s
        self.max_keys = max_keys
        self._now = now
        self._failing: OrderedDict[K, _State] = OrderedDict()

    def __len__(self) -> int:
        return len(self._failing)

    def __contains__(self, key: K) -> bool:
        return key in self._failing

    def failed(self, key: K) -> float:
        """Record a failure; returns how long to wait before trying the key again."""
        state = self._failing.pop(key, None)
        delay = self.initial_s if state is None else state.next_delay_s
        self._failing[key] = _State(min(delay * 2, self.max_s), self._now() + delay)
        if len(self._failing) > self.max_keys:
            self._failing.popitem(last=False)
        return delay

    def succeeded(self, key: K) -> None:
        self._failing.pop(key, None)

    def wait_s(self, key: K) -> float:
        """Seconds left before the key may be tried again (0 when it may be now)."""
        state = self._failing.get(key)
        if state is None:
            return 0.0
        return max(0.0, state.retry_at - self._now())
