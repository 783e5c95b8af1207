"""How a server process runs Python's cycle collector.

A full (generation 2) collection walks every tracked object: with the event caches and
thousands of waiting requests that is 100-150 ms during which no request moves, and it
happened every few seconds under load. Instead, whatever survives a generation 2
collection is frozen (left out of later collections), so each one only walks what is new
since the last; a collection over everything runs on a timer, so the long pause comes
once every few minutes. Cyclic garbage among frozen objects waits for that timer.
"""

from __future__ import annotations

import gc
import time

import structlog

from homeserver.services.periodic import PeriodicTask

log = structlog.get_logger(__name__)

FULL_COLLECTION_EVERY_S = 300.0


def _full_collection() -> None:
    started = time.perf_counter()
    gc.unfreeze()
    collected = gc.collect()
    gc.freeze()
    log.debug(
        "full garbage collection",
        collected=collected,
        frozen=gc.get_freeze_count(),
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )


async def _collect() -> None:
    _full_collection()


def _freeze_survivors(phase: str, info: dict[str, int]) -> None:
    if phase == "stop" and info["generation"] == 2:
        gc.freeze()


def start_gc_policy() -> PeriodicTask:
    """Freeze what exists after start-up and collect fully on a timer from now on."""
    _full_collection()
    if _freeze_survivors not in gc.callbacks:
        gc.callbacks.append(_freeze_survivors)
    task = PeriodicTask("full-gc", FULL_COLLECTION_EVERY_S, _collect)
    task.start()
    return task
