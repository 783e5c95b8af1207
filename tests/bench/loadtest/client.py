"""The load generator's HTTP client: one aiohttp session, every outcome counted."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp

V3 = "/_matrix/client/v3"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}
_RETRIES = 8


class ApiError(Exception):
    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        super().__init__(f"{method} {path}: {status} {body}")
        self.status = status
        self.body = body

    @property
    def errcode(self) -> str | None:
        return self.body.get("errcode") if isinstance(self.body, dict) else None


def require_loopback(base_url: str) -> None:
    """The tool only ever loads a server on this machine."""
    host = urlsplit(base_url).hostname
    if host not in LOOPBACK_HOSTS:
        raise SystemExit(f"refusing to target {base_url}: only loopback addresses are allowed")


def path_part(value: str) -> str:
    return quote(value, safe="")


class Api:
    """Client-server calls against one base URL; `errors` counts failures by status."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        require_loopback(base_url)
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.errors: Counter[str] = Counter()

    async def request(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        params: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        try:
            async with self.session.request(
                method, self.base_url + V3 + path, json=body, headers=headers, params=params
            ) as response:
                try:
                    payload = await response.json(content_type=None)
                except ValueError:
                    payload = None
                if response.status != 200:
                    self.errors[str(response.status)] += 1
                return response.status, payload
        except TimeoutError:
            self.errors["timeout"] += 1
            raise
        except aiohttp.ClientError:
            self.errors["connection"] += 1
            raise

    async def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        body: Any = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        """The 200 response's body; a rate-limited call waits as told and tries again."""
        for _ in range(_RETRIES):
            status, payload = await self.request(method, path, token, body, params)
            if status == 200:
                return payload
            if status == 429 and isinstance(payload, dict):
                await asyncio.sleep(min(int(payload.get("retry_after_ms", 1000)), 10_000) / 1000)
                continue
            raise ApiError(method, path, status, payload)
        raise ApiError(method, path, 429, "still rate limited")

    async def db_queries(self) -> Counter[str]:
        """Our server's database queries so far, by name, from its Prometheus metrics (empty
        for a server that does not publish them on the client port, as Synapse here)."""
        counts: Counter[str] = Counter()
        try:
            async with self.session.get(self.base_url + "/metrics") as response:
                if response.status != 200:
                    return counts
                text = await response.text()
        except aiohttp.ClientError:
            return counts
        prefix = 'homeserver_db_query_seconds_count{query="'
        for line in text.splitlines():
            if line.startswith(prefix):
                name, _, value = line[len(prefix) :].partition('"} ')
                counts[name] = int(float(value))
        return counts

    async def wait_until_up(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                async with self.session.get(self.base_url + "/_matrix/client/versions") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.25)
        raise RuntimeError(f"{self.base_url} did not come up within {timeout_s:.0f} s")


def new_session(read_timeout_s: float = 120) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0, ttl_dns_cache=None),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=read_timeout_s),
    )
