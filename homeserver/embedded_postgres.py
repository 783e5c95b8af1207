"""An embedded Postgres (pgserver) for a laptop start with no database to set up."""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path
from typing import Any

import asyncpg
import structlog

log = structlog.get_logger(__name__)

DATABASE_NAME = "homeserver"


class EmbeddedPostgres:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._server: Any = None

    async def start(self) -> str:
        """Start (or attach to) the server and return a DSN for our database in it."""
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); harmless here.
            warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
            import pgserver  # Imported here: only the embedded mode needs it.

        self.directory.mkdir(parents=True, exist_ok=True)
        self._server = await asyncio.to_thread(
            pgserver.get_server, str(self.directory), cleanup_mode="stop"
        )
        admin_dsn = self._server.get_uri()
        conn = await asyncpg.connect(admin_dsn)
        try:
            exists = await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", DATABASE_NAME
            )
            if not exists:
                await conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
        finally:
            await conn.close()
        log.info("embedded postgres running", directory=str(self.directory))
        return self.dsn_for(DATABASE_NAME)

    def dsn_for(self, database: str) -> str:
        uri: str = self._server.get_uri(database)
        return uri

    async def stop(self) -> None:
        if self._server is not None:
            await asyncio.to_thread(self._server.cleanup)
            self._server = None
            log.info("embedded postgres stopped")
