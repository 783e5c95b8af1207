from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from homeserver.app import Homeserver
from tests.api.harness import Client, make_config, start_server


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[Homeserver]:
    homeserver = await start_server(make_config(database_url, tmp_path))
    yield homeserver
    await homeserver.stop()


@pytest.fixture
async def client(server: Homeserver) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as session:
        yield Client(session, f"http://127.0.0.1:{server.port}")
