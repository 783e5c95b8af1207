"""Token-bucket rate limiting per action and key (user, device or IP)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from homeserver.services.common.clock import Clock
from homeserver.types.errors import LimitExceeded

# Buckets untouched this long are full again, so they can be forgotten.
_PRUNE_EVERY = 10_000


@dataclass(frozen=True, slots=True)
class Bucket:
    per_second: float
    burst_count: int


@dataclass(slots=True)
class _State:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, clock: Clock, enabled: bool, buckets: dict[str, Bucket]) -> None:
        self.clock = clock
        self.enabled = enabled
        self.buckets = buckets
        self._state: dict[tuple[str, str], _State] = {}
        self._calls = 0

    def check(self, action: str, key: str, cost: float = 1.0) -> None:
        """Take `cost` tokens from the bucket or raise 429 with the wait until it refills."""
        if not self.enabled:
            return
        bucket = self.buckets[action]
        now = self.clock.monotonic()
        state = self._state.get((action, key))
        if state is None:
            state = _State(tokens=bucket.burst_count, updated=now)
            self._state[(action, key)] = state
        else:
            refill = (now - state.updated) * bucket.per_second
            state.tokens = min(bucket.burst_count, state.tokens + refill)
            state.updated = now
        if state.tokens < cost:
            wait_s = (cost - state.tokens) / bucket.per_second
            raise LimitExceeded(retry_after_ms=max(1, math.ceil(wait_s * 1000)))
        state.tokens -= cost
        self._calls += 1
        if self._calls % _PRUNE_EVERY == 0:
            self._prune(now)

    def _prune(self, now: float) -> None:
        full = [
            key
            for key, state in self._state.items()
            if state.tokens + (now - state.updated) * self.buckets[key[0]].per_second
            >= self.buckets[key[0]].burst_count
        ]
        for key in full:
            del self._state[key]
