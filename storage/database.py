"""The asyncpg pool, with every query named so its duration reaches logs and metrics."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import structlog
from prometheus_client import Gauge, Histogram

from homeserver.types.errors import BadRequest, Codes

log = structlog.get_logger(__name__)

QUERY_SECONDS = Histogram(
    "homeserver_db_query_seconds",
    "Duration of database queries by name",
    ["query"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
POOL_ACQUIRE_SECONDS = Histogram(
    "homeserver_db_pool_acquire_seconds",
    "Time spent waiting for a database connection",
    buckets=(0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5),
)
POOL_SIZE = Gauge("homeserver_db_pool_size", "Open database connections")
POOL_IDLE = Gauge("homeserver_db_pool_idle", "Idle database connections")

SLOW_QUERY_SECONDS = 1.0
_UNSTORABLE_TEXT = (
    asyncpg.exceptions.CharacterNotInRepertoireError,
    asyncpg.exceptions.UntranslatableCharacterError,
)


class Connection:
    """A connection (maybe inside a transaction) whose queries are named and timed."""

    def __init__(self, raw: asyncpg.Connection) -> None:
        self.raw = raw
        self.after_commit: list[Callable[[], None]] = []

    async def _timed(self, name: str, method: str, sql: str, args: tuple[Any, ...]) -> Any:
        started = time.perf_counter()
        try:
            return await getattr(self.raw, method)(sql, *args)
        except _UNSTORABLE_TEXT:
            # Postgres stores no NUL in text and no \u0000 in jsonb: a client's string that
            # holds one is bad input wherever it is stored, not a server error.
            raise BadRequest("Strings may not contain NUL characters", Codes.BAD_JSON) from None
        finally:
            elapsed = time.perf_counter() - started
            QUERY_SECONDS.labels(name).observe(elapsed)
            if elapsed > SLOW_QUERY_SECONDS:
                log.warning("slow query", query=name, duration_ms=round(elapsed * 1000, 1))

    async def execute(self, name: str, sql: str, *args: Any) -> str:
        return await self._timed(name, "execute", sql, args)

    async def fetch(self, name: str, sql: str, *args: Any) -> list[asyncpg.Record]:
        return await self._timed(name, "fetch", sql, args)

    async def fetchrow(self, name: str, sql: str, *args: Any) -> asyncpg.Record | None:
        return await self._timed(name, "fetchrow", sql, args)

    async def fetchval(self, name: str, sql: str, *args: Any) -> Any:
        return await self._timed(name, "fetchval", sql, args)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Released connections are not reset with a round trip to the server: nothing here
    keeps session state (no LISTEN, no session settings, session advisory locks are always
    released by their holder), and the reset doubled the cost of every short query."""


def after_commit(conn: Connection | None, callback: Callable[[], None]) -> None:
    """Run `callback` once the work on `conn` is durable: at once outside a transaction.

    Cache invalidations and notifications go here, so nobody can observe (and re-cache)
    a state that is about to change but not yet committed.
    """
    if conn is None:
        callback()
    else:
        conn.after_commit.append(callback)


class Database:
    """Owns the pool. Stores take an optional `Connection` so a service can span a transaction."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @classmethod
    async def connect(
        cls, dsn: str, min_size: int = 2, max_size: int = 20, command_timeout_s: float = 60
    ) -> Database:
        pool = await asyncpg.create_pool(
            dsn,
            min_size=min_size,
            max_size=max_size,
            command_timeout=command_timeout_s,
            reset=_keep_session,
        )
        POOL_SIZE.set_function(pool.get_size)
        POOL_IDLE.set_function(pool.get_idle_size)
        return cls(pool)

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Connection]:
        started = time.perf_counter()
        async with self.pool.acquire() as raw:
            POOL_ACQUIRE_SECONDS.observe(time.perf_counter() - started)
            yield Connection(raw)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        """A transaction; callbacks registered with `after_commit` run once it committed."""
        async with self.connection() as conn:
            async with conn.raw.transaction():
                yield conn
            for callback in conn.after_commit:
                callback()

    @asynccontextmanager
    async def _use(self, conn: Connection | None) -> AsyncIterator[Connection]:
        if conn is not None:
            yield conn
        else:
            async with self.connection() as fresh:
                yield fresh

    async def execute(self, name: str, sql: str, *args: Any, conn: Connection | None = None) -> str:
        async with self._use(conn) as c:
            return await c.execute(name, sql, *args)

    async def fetch(
        self, name: str, sql: str, *args: Any, conn: Connection | None = None
    ) -> list[asyncpg.Record]:
        async with self._use(conn) as c:
            return await c.fetch(name, sql, *args)

    async def fetchrow(
        self, name: str, sql: str, *args: Any, conn: Connection | None = None
    ) -> asyncpg.Record | None:
        async with self._use(conn) as c:
            return await c.fetchrow(name, sql, *args)

    async def fetchval(
        self, name: str, sql: str, *args: Any, conn: Connection | None = None
    ) -> Any:
        async with self._use(conn) as c:
            return await c.fetchval(name, sql, *args)

    async def sequence_values(self, sequence: str, count: int) -> list[int]:
        """`count` new values of a sequence, ascending, in one round trip."""
        rows = await self.fetch(
            "sequence_values",
            "SELECT nextval($1::regclass) AS value FROM generate_series(1, $2) ORDER BY 1",
            sequence,
            count,
        )
        return [int(row["value"]) for row in rows]

    async def ping(self) -> None:
        """One round trip to the server; raises when it cannot be made."""
        await self.fetchval("ping", "SELECT 1")

    async def close(self) -> None:
        await self.pool.close()
