from __future__ import annotations

import asyncio

from homeserver.services.common.keyed_lock import KeyedLock


async def test_same_key_serialises_and_locks_are_dropped() -> None:
    locks = KeyedLock()
    order: list[str] = []

    async def work(key: str, name: str, delay: float) -> None:
        async with locks.hold(key):
            order.append(f"{name} in")
            await asyncio.sleep(delay)
            order.append(f"{name} out")

    await asyncio.gather(work("a", "1", 0.02), work("a", "2", 0), work("b", "3", 0))
    assert order.index("1 out") < order.index("2 in")
    assert order.index("3 in") < order.index("1 out")
    assert len(locks) == 0


async def test_lock_released_on_error() -> None:
    locks = KeyedLock()
    try:
        async with locks.hold("a"):
            raise ValueError
    except ValueError:
        pass
    assert len(locks) == 0
    async with locks.hold("a"):
        pass
