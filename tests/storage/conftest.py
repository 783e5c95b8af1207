from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from storage.database import Database
from storage.stores import Stores


@pytest.fixture
async def stores(database_url: str) -> AsyncIterator[Stores]:
    db = await Database.connect(database_url, min_size=1, max_size=4)
    yield Stores.build(db)
    await db.close()
