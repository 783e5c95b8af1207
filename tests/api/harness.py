"""A live server on a real socket, and a small HTTP client for driving it in tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy

from homeserver.app import Homeserver
from homeserver.config import HomeserverConfig, build_config

SERVER_NAME = "test.local"
PASSWORD = "correct horse battery staple"


def make_config(database_url: str, data_dir: Path, **sections: dict[str, Any]) -> HomeserverConfig:
    raw: dict[str, Any] = {
        "server_name": SERVER_NAME,
        "data_dir": str(data_dir),
        "http": {"bind_address": "127.0.0.1", "port": 0},
        "database": {"url": database_url, "pool_min_size": 1, "pool_max_size": 5},
        "registration": {"enabled": True},
        "password": {"hash_cost": "min"},
        "rate_limiting": {"enabled": False},
        # Short, so that a presence change right after another (common in a test's set-up)
        # does not wait out the production interval; tests/unit/test_notifier.py covers it.
        "presence": {"wake_interval_ms": 300},
        "logging": {"level": "warning", "format": "console"},
    }
    for section, values in sections.items():
        if isinstance(raw.get(section), dict):
            raw[section] = {**raw[section], **values}
        else:
            raw[section] = values
    return build_config(raw, "test", {})


@dataclass
class Response:
    status: int
    body: Any
    headers: CIMultiDictProxy[str]

    @property
    def errcode(self) -> str | None:
        return self.body.get("errcode") if isinstance(self.body, dict) else None


class Client:
    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session = session
        self.base_url = base_url

    async def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> Response:
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            all_headers.setdefault("Content-Type", "application/json")
        async with self.session.request(
            method, self.base_url + path, data=data, headers=all_headers, params=params
        ) as response:
            text = await response.text()
            try:
                parsed = json.loads(text) if text else None
            except ValueError:
                parsed = text
            return Response(response.status, parsed, response.headers)

    async def register(
        self, username: str, password: str = PASSWORD, **extra: Any
    ) -> dict[str, Any]:
        """Register through the dummy-auth flow; returns the 200 body."""
        body = {"username": username, "password": password, **extra}
        first = await self.request("POST", "/_matrix/client/v3/register", body)
        assert first.status == 401, first.body
        body["auth"] = {"type": "m.login.dummy", "session": first.body["session"]}
        done = await self.request("POST", "/_matrix/client/v3/register", body)
        assert done.status == 200, done.body
        return done.body

    async def login(self, username: str, password: str = PASSWORD, **extra: Any) -> Response:
        return await self.request(
            "POST",
            "/_matrix/client/v3/login",
            {
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": username},
                "password": password,
                **extra,
            },
        )


async def start_server(config: HomeserverConfig) -> Homeserver:
    server = Homeserver(config)
    await server.start()
    return server
