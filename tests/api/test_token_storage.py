"""Tokens never reach the database in the clear."""

from __future__ import annotations

import asyncpg

from tests.api.harness import Client


async def test_tokens_are_stored_only_as_hashes(client: Client, database_url: str) -> None:
    registered = await client.register("alice", refresh_token=True)
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch("SELECT * FROM access_tokens")
        rows += await conn.fetch("SELECT * FROM refresh_tokens")
        dump = " ".join(str(row) for row in rows)
    finally:
        await conn.close()
    assert registered["access_token"] not in dump
    assert registered["refresh_token"] not in dump
    assert dump  # the rows exist
