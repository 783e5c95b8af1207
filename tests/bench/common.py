"""What every benchmark needs: a scratch database, a live server, figures."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from homeserver.app import Homeserver
from homeserver.logging_setup import configure_logging
from tests.api.harness import Client, make_config

ADMIN_DSN = os.environ.get(
    "HOMESERVER_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@asynccontextmanager
async def scratch_database() -> AsyncIterator[str]:
    """The DSN of a new, empty database, dropped afterwards."""
    name = f"hs_bench_{os.getpid()}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield ADMIN_DSN.rsplit("/", 1)[0] + "/" + name
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@asynccontextmanager
async def scratch_server() -> AsyncIterator[tuple[Homeserver, Client]]:
    """A server in this process on its own new database."""
    configure_logging("warning", "console")
    async with scratch_database() as dsn:
        server = Homeserver(
            make_config(dsn, Path(tempfile.mkdtemp()), database={"url": dsn, "pool_max_size": 20})
        )
        await server.start()
        try:
            async with aiohttp.ClientSession() as session:
                yield server, Client(session, f"http://127.0.0.1:{server.port}")
        finally:
            await server.stop()


def summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)

    def percentile(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return (
        f"{name:<38} n={len(ordered):<6} p50={percentile(0.50):7.2f} ms  "
        f"p95={percentile(0.95):7.2f} ms  p99={percentile(0.99):7.2f} ms  "
        f"mean={statistics.fmean(ordered) * 1000:7.2f} ms"
    )


async def timed(samples: list[float], coro: Any) -> Any:
    started = time.perf_counter()
    result = await coro
    samples.append(time.perf_counter() - started)
    return result
