"""The middleware on its own: an unexpected exception becomes a bare 500 M_UNKNOWN."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from homeserver.http.middleware import matrix_middleware


async def _explode(request: web.Request) -> web.Response:
    raise RuntimeError("secret internal detail")


@pytest.fixture
async def client() -> AsyncIterator[TestClient]:
    app = web.Application(middlewares=[matrix_middleware])
    app.router.add_get("/explode", _explode)
    test_client = TestClient(TestServer(app))
    await test_client.start_server()
    yield test_client
    await test_client.close()


async def test_uncaught_exception_is_500_without_details(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    response = await client.get("/explode")
    body = await response.text()
    assert response.status == 500
    assert json.loads(body) == {"errcode": "M_UNKNOWN", "error": "Internal server error"}
    assert "secret internal detail" not in body
    request_id = response.headers["X-Request-Id"]
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    logged = capsys.readouterr()
    assert request_id in logged.out + logged.err
    assert "secret internal detail" in logged.out + logged.err


async def test_access_token_is_redacted_from_logs(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    await client.get("/nowhere?access_token=sekrit&x=1")
    logged = capsys.readouterr()
    assert "sekrit" not in logged.out + logged.err
    assert "access_token=<redacted>" in logged.out + logged.err
