"""How a server process runs Python's cycle collector.

A collection of the oldest generation walks every object that has lived a while: with the
event caches and thousands of requests waiting for a change, that is 100 ms or more during
which no request moves, and under load the collector started one every few seconds. Here
the oldest generation is collected only on a timer, so that pause comes once every few
minutes; the young generations, which are cheap, are still collected as usual. What exists
once start-up is done (modules, classes, configuration) is frozen and never walked again.
Cyclic garbage that grew old waits for the timer.
"""

from __future__ import annotations

import gc
import time

import structlog

from homeserver.services.common.periodic import PeriodicTask

log = structlog.get_logger(__name__)

FULL_COLLECTION_EVERY_S = 300.0
# Far beyond what a process reaches between two timed collections.
_OLDEST_GENERATION_THRESHOLD = 1_000_000


async def _full_collection() -> None:
    started = time.perf_counter()
    collected = gc.collect()
    log.debug(
        "full garbage collection",
        collected=collected,
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )


def start_gc_policy() -> PeriodicTask:
    """Freeze what start-up made; from now on the oldest generation is collected on a timer."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, _OLDEST_GENERATION_THRESHOLD)
    task = PeriodicTask("full-gc", FULL_COLLECTION_EVERY_S, _full_collection)
    task.start()
    return task
