"""Forward-only numbered SQL migrations, each applied in its own transaction.

Files are `storage/migrations/NNNN_name.sql`. The applied ones are recorded in
`schema_migrations`; a database holding a version newer than this code knows is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import structlog

log = structlog.get_logger(__name__)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")
# Serialises concurrent migrators (several workers starting at once).
_ADVISORY_LOCK_ID = 0x4D5852_0001


class SchemaTooNew(Exception):
    """The database was migrated by newer code than this; running would risk corruption."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path


def available_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations = []
    for path in directory.iterdir():
        match = _FILE_NAME.match(path.name)
        if match:
            migrations.append(Migration(int(match["version"]), match["name"], path))
    migrations.sort(key=lambda m: m.version)
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise RuntimeError("two migrations share a version number")
    return migrations


async def migrate(conn: asyncpg.Connection) -> list[int]:
    """Apply every pending migration; returns the versions applied (empty when up to date)."""
    known = available_migrations()
    latest = known[-1].version if known else 0
    await conn.execute("SELECT pg_advisory_lock($1)", _ADVISORY_LOCK_ID)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   version     INTEGER PRIMARY KEY,
                   name        TEXT NOT NULL,
                   applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
               )"""
        )
        applied = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")}
        newest = max(applied, default=0)
        if newest > latest:
            raise SchemaTooNew(
                f"the database is at schema version {newest} but this code only knows up to "
                f"{latest}: upgrade the server instead of running an older one against it"
            )
        done = []
        for migration in known:
            if migration.version in applied:
                continue
            async with conn.transaction():
                await conn.execute(migration.path.read_text())
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    migration.version,
                    migration.name,
                )
            log.info("applied migration", version=migration.version, name=migration.name)
            done.append(migration.version)
        return done
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _ADVISORY_LOCK_ID)
