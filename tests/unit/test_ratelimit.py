from __future__ import annotations

import pytest

from homeserver.services.common.clock import Clock
from homeserver.services.common.ratelimit import Bucket, RateLimiter
from homeserver.types.errors import LimitExceeded


class FakeClock(Clock):
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


def test_burst_then_refill() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock, True, {"login": Bucket(per_second=0.5, burst_count=3)})
    for _ in range(3):
        limiter.check("login", "1.2.3.4")
    with pytest.raises(LimitExceeded) as raised:
        limiter.check("login", "1.2.3.4")
    assert raised.value.retry_after_ms == 2000
    assert raised.value.to_json()["retry_after_ms"] == 2000
    limiter.check("login", "5.6.7.8")  # another key has its own bucket
    clock.now += 2.0
    limiter.check("login", "1.2.3.4")
    with pytest.raises(LimitExceeded):
        limiter.check("login", "1.2.3.4")


def test_disabled_limiter_never_limits() -> None:
    limiter = RateLimiter(FakeClock(), False, {"login": Bucket(per_second=0.1, burst_count=1)})
    for _ in range(100):
        limiter.check("login", "k")
