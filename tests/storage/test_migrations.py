"""The migration runner against a real Postgres."""

from __future__ import annotations

import asyncpg
import pytest

from storage.migrator import SchemaTooNew, available_migrations, migrate


async def test_template_is_fully_migrated_and_rerun_is_a_no_op(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        versions = [r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")]
        assert versions == [m.version for m in available_migrations()]
        assert await migrate(conn) == []
        for table in ("users", "devices", "access_tokens", "refresh_tokens", "uia_sessions"):
            assert await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", table)
    finally:
        await conn.close()


async def test_refuses_a_database_migrated_by_newer_code(database_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("INSERT INTO schema_migrations (version, name) VALUES (9999, 'future')")
        with pytest.raises(SchemaTooNew):
            await migrate(conn)
    finally:
        await conn.close()
