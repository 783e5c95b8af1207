"""What /health reports: whether this process can reach its database."""

from __future__ import annotations

import asyncio

from storage.stores import Stores

_TIMEOUT_S = 2.0


class HealthService:
    def __init__(self, stores: Stores) -> None:
        self.stores = stores

    async def database_reachable(self) -> bool:
        try:
            async with asyncio.timeout(_TIMEOUT_S):
                await self.stores.db.ping()
        except Exception:  # timeouts, network errors, a closed pool: unreachable all the same
            return False
        return True
