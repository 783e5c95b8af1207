"""matrix-js-sdk (what Element Web is built on) as a real client, run by Node 22.

Node 22 (the npm package `node`, which ships the binary) and matrix-js-sdk are installed
with `npm ci` into tests/api/js_sdk/node_modules (gitignored) the first time this runs on a
machine, from the committed package.json and package-lock.json; later runs reuse them.
Without npm on PATH the test is skipped. tests/api/js_sdk/client.mjs is the client.

matrix-js-sdk fetches GET /pushrules/ before its first /sync and retries it forever when it
fails, so a server without push rules leaves every js-sdk client (Element Web included)
hanging on start-up: this test reports that as "no PREPARED sync state".
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import json
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from homeserver.app import Homeserver
from tests.api.harness import Client, make_config, start_server
from tests.api.rooms_helpers import User

JS_DIR = Path(__file__).resolve().parent / "js_sdk"
NODE_MODULES = JS_DIR / "node_modules"
NODE = NODE_MODULES / "node" / "bin" / "node"
STAMP = NODE_MODULES / ".installed-from"
INSTALL_TIMEOUT_S = 600
# client.mjs bounds each of its own waits (20 s to start, 15 s for the counts, 15 s after the
# receipt); these are the outer limits on top of that.
STEP_TIMEOUT_S = 45
EXIT_TIMEOUT_S = 15


def _wanted_install() -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update((JS_DIR / name).read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="session")
def node() -> Path:
    """Node 22 with matrix-js-sdk beside it, installed once per machine (per lockfile)."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not on PATH: cannot install Node 22 and matrix-js-sdk")
    wanted = _wanted_install()
    # One installer at a time (e.g. two test runs on one machine).
    with (JS_DIR / "package-lock.json").open("rb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        installed = (
            NODE.exists()
            and (NODE_MODULES / "matrix-js-sdk" / "package.json").exists()
            and STAMP.exists()
            and STAMP.read_text() == wanted
        )
        if not installed:
            done = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"],
                cwd=JS_DIR,
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT_S,
                check=False,
            )
            if done.returncode != 0 or not NODE.exists():
                pytest.fail(
                    f"npm ci in {JS_DIR} failed ({done.returncode}):\n"
                    f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
                )
            STAMP.write_text(wanted)
    version = subprocess.run(
        [str(NODE), "--version"], capture_output=True, text=True, timeout=30, check=True
    ).stdout.strip()
    assert version.startswith("v22."), f"{NODE} is {version}, not Node 22"
    return NODE


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[Homeserver]:
    """As in conftest.py, with a short shutdown grace period: stopClient() drops the js
    client's long-poll /sync, whose handler would otherwise hold the server's stop for the
    default 10 s."""
    homeserver = await start_server(
        make_config(database_url, tmp_path, http={"shutdown_grace_period_ms": 500})
    )
    yield homeserver
    await homeserver.stop()


@pytest.fixture
async def client(server: Homeserver) -> AsyncIterator[Client]:
    async with aiohttp.ClientSession() as session:
        yield Client(session, f"http://127.0.0.1:{server.port}")


async def _register(client: Client, name: str) -> tuple[User, dict[str, Any]]:
    body = await client.register(name)
    return User(client, body), body


async def _server_counts(user: User, room_id: str) -> Any:
    """unread_notifications of the room in a fresh /sync, as the server has them."""
    response = await user.call("GET", "/sync", params={"timeout": "0"})
    assert response.status == 200, response.body
    room = response.body.get("rooms", {}).get("join", {}).get(room_id, {})
    return room.get("unread_notifications")


class JsClient:
    """client.mjs as a subprocess: JSON lines out, one JSON line in."""

    def __init__(self, process: asyncio.subprocess.Process, log: Path) -> None:
        self.process = process
        self.log = log

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    async def step(self, name: str) -> dict[str, Any]:
        assert self.process.stdout is not None
        try:
            raw = await asyncio.wait_for(self.process.stdout.readline(), STEP_TIMEOUT_S)
        except TimeoutError:
            pytest.fail(
                f"client.mjs wrote no {name!r} step within {STEP_TIMEOUT_S} s\n"
                f"--- js-sdk log (tail) ---\n{self.log_tail()}"
            )
        if not raw:
            await self.process.wait()
            pytest.fail(
                f"client.mjs exited ({self.process.returncode}) before its {name!r} step\n"
                f"--- js-sdk log (tail) ---\n{self.log_tail()}"
            )
        message: dict[str, Any] = json.loads(raw)
        if message.get("step") != name:
            pytest.fail(
                f"expected step {name!r}, got {message}\n--- js-sdk log (tail) ---\n"
                f"{self.log_tail()}"
            )
        return message

    async def send(self, message: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(message).encode() + b"\n")
        await self.process.stdin.drain()

    async def close(self) -> int | None:
        if self.process.returncode is None:
            try:
                await asyncio.wait_for(self.process.wait(), EXIT_TIMEOUT_S)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
                return None
        return self.process.returncode


async def test_js_sdk_starts_and_follows_notification_counts(
    node: Path, client: Client, tmp_path: Path
) -> None:
    # Three members, so that the group-message rule applies (one-to-one is for two).
    alice, alice_body = await _register(client, "alice")
    bob, _ = await _register(client, "bob")
    carol, _ = await _register(client, "carol")
    room_id = await bob.create_room(preset="public_chat", name="js-sdk")
    for user in (alice, carol):
        joined = await user.join(room_id)
        assert joined.status == 200, joined.body

    config = {
        "baseUrl": client.base_url,
        "userId": alice.user_id,
        "accessToken": alice.token,
        "deviceId": alice_body["device_id"],
    }
    log = tmp_path / "js-sdk.log"
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            str(node),
            str(JS_DIR / "client.mjs"),
            json.dumps(config),
            cwd=JS_DIR,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )
    js = JsClient(process, log)
    try:
        started = await js.step("prepared")
        if not started["ok"]:
            pytest.fail(
                f"matrix-js-sdk did not start: {started['error']}\n"
                f"sync states: {started['sync_states']}\n"
                f"failed requests: {started['failed_requests']}\n"
                f"--- js-sdk log (tail) ---\n{js.log_tail()}"
            )
        rules = started["push_rules"] or {}
        assert ".m.rule.master" in rules.get("override", []), rules
        assert room_id in started["rooms"], started

        # Two plain messages notify; the one that mentions alice also highlights.
        for body, content in (
            ("hello everyone", {}),
            ("how is it going?", {}),
            ("alice: have a look", {"m.mentions": {"user_ids": [alice.user_id]}}),
        ):
            sent = await bob.send(room_id, body, **content)
            assert sent.status == 200, sent.body
        last_event_id = sent.body["event_id"]
        await js.send(
            {
                "room_id": room_id,
                "last_event_id": last_event_id,
                "expect": {"total": 3, "highlight": 1},
            }
        )
        counted = await js.step("counts")
        server_before = await _server_counts(alice, room_id)
        if not counted.get("saw_last_event"):
            pytest.fail(
                f"the js client never saw the last message: {counted}\n"
                f"server /sync: {server_before}\n--- js-sdk log (tail) ---\n{js.log_tail()}"
            )
        await js.send({"read": True})
        after_receipt = await js.step("after_receipt")
        server_after = await _server_counts(alice, room_id)
        await js.step("stopped")
        code = await js.close()
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()

    seen = {
        "counts": counted,
        "server /sync before the receipt": server_before,
        "after_receipt": after_receipt,
        "server /sync after the receipt": server_after,
    }
    assert (counted["total"], counted["highlight"]) == (3, 1), seen
    assert server_before == {"notification_count": 3, "highlight_count": 1}, seen
    assert "error" not in after_receipt, seen
    assert (after_receipt["total"], after_receipt["highlight"]) == (0, 0), seen
    assert after_receipt["syncs_since_receipt"] >= 1, seen
    assert server_after == {"notification_count": 0, "highlight_count": 0}, seen
    assert code == 0, f"client.mjs exited with {code}\n{js.log_tail()}"
