"""Bring a server to the planned population, resuming from a state file so that a second
run against the same database starts in seconds."""

from __future__ import annotations

import asyncio
import json
import os
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tests.bench.loadtest.client import Api, ApiError, path_part
from tests.bench.loadtest.population import PlannedRoom, PopulationSpec, plan_rooms

T = TypeVar("T")
PASSWORD = "loadtest-password"
PROBE_ROOMS = 50
_SAVE_EVERY_S = 10.0


async def bounded(calls: Iterable[Callable[[], Awaitable[T]]], limit: int) -> list[T]:
    """Run the calls with at most `limit` in flight, keeping their order."""
    gate = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[T]]) -> T:
        async with gate:
            return await call()

    return list(await asyncio.gather(*(one(call) for call in calls)))


@dataclass
class Account:
    user_id: str
    access_token: str


@dataclass
class State:
    """What exists on the server: the file is only valid for the database it was made on."""

    path: Path
    server: str
    spec: dict[str, Any]
    users: dict[int, Account] = field(default_factory=dict)
    rooms: dict[int, str] = field(default_factory=dict)
    probe: Account | None = None
    probe_rooms: list[str] = field(default_factory=list)
    _saved_at: float = 0.0

    @classmethod
    def load(cls, path: Path, server: str, spec: PopulationSpec) -> State:
        fresh = cls(path, server, spec.as_json())
        if not path.exists():
            return fresh
        raw = json.loads(path.read_text())
        if raw.get("server") != server or raw.get("spec") != spec.as_json():
            print(f"state file {path} was made for another server or population; starting over")
            return fresh
        state = cls(path, server, raw["spec"])
        state.users = {int(k): Account(**v) for k, v in raw["users"].items()}
        state.rooms = {int(k): v for k, v in raw["rooms"].items()}
        state.probe = Account(**raw["probe"]) if raw.get("probe") else None
        state.probe_rooms = list(raw.get("probe_rooms", []))
        return state

    def save(self, force: bool = True) -> None:
        now = time.monotonic()
        if not force and now - self._saved_at < _SAVE_EVERY_S:
            return
        self._saved_at = now
        raw = {
            "server": self.server,
            "spec": self.spec,
            "users": {str(k): vars(v) for k, v in self.users.items()},
            "rooms": {str(k): v for k, v in self.rooms.items()},
            "probe": vars(self.probe) if self.probe else None,
            "probe_rooms": self.probe_rooms,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(raw))
        os.replace(temporary, self.path)


async def register(api: Api, username: str) -> Account:
    """Register with m.login.dummy (answering the UIA round when asked), or log in if the
    account exists from an earlier run whose state was lost."""
    body: dict[str, Any] = {
        "username": username,
        "password": PASSWORD,
        "auth": {"type": "m.login.dummy"},
        "initial_device_display_name": "loadtest",
    }
    for _ in range(2):
        try:
            reply = await api.call("POST", "/register", None, body)
            return Account(reply["user_id"], reply["access_token"])
        except ApiError as error:
            if error.errcode == "M_USER_IN_USE":
                return await login(api, username)
            if error.status == 401 and isinstance(error.body, dict) and "session" in error.body:
                body["auth"]["session"] = error.body["session"]
                continue
            raise
    raise RuntimeError(f"could not register {username}")


async def login(api: Api, username: str) -> Account:
    body = {
        "type": "m.login.password",
        "identifier": {"type": "m.id.user", "user": username},
        "password": PASSWORD,
    }
    reply = await api.call("POST", "/login", None, body)
    return Account(reply["user_id"], reply["access_token"])


async def send_text(api: Api, room_id: str, token: str, body: str) -> str:
    txn = f"lt{time.time_ns()}{random.randrange(1 << 30)}"
    path = f"/rooms/{path_part(room_id)}/send/m.room.message/{txn}"
    reply = await api.call("PUT", path, token, {"msgtype": "m.text", "body": body})
    return str(reply["event_id"])


async def join(api: Api, room_id: str, token: str) -> None:
    await api.call("POST", f"/join/{path_part(room_id)}", token, {})


async def create_room(api: Api, state: State, plan: PlannedRoom, index: int) -> str:
    creator = state.users[plan.members[0]]
    others = [state.users[m] for m in plan.members[1:]]
    if plan.kind == "dm":
        body: dict[str, Any] = {
            "preset": "trusted_private_chat",
            "is_direct": True,
            "invite": [other.user_id for other in others],
        }
    else:
        body = {"preset": "public_chat", "name": f"{plan.kind} {index}"}
    room_id = str((await api.call("POST", "/createRoom", creator.access_token, body))["room_id"])
    # Joins to one room queue behind each other on any server; a few at once keep it busy.
    await bounded([lambda o=o: join(api, room_id, o.access_token) for o in others], 4)
    rng = random.Random(index)
    members = [creator, *others]
    for n in range(plan.history):
        await send_text(api, room_id, rng.choice(members).access_token, f"history {n}")
    return room_id


async def provision(api: Api, state: State, spec: PopulationSpec, concurrency: int) -> None:
    started = time.monotonic()
    missing = [n for n in range(spec.users) if n not in state.users]
    if missing:
        print(f"registering {len(missing)} users ...", flush=True)

        async def one_user(n: int) -> None:
            state.users[n] = await register(api, f"lt{spec.seed}_{n}")
            state.save(force=False)

        await bounded([lambda n=n: one_user(n) for n in missing], concurrency)
        state.save()
        print(f"  users done in {time.monotonic() - started:.0f} s", flush=True)
    plans = plan_rooms(spec)
    todo = [n for n in range(len(plans)) if n not in state.rooms]
    if todo:
        rooms_started = time.monotonic()
        print(f"creating {len(todo)} rooms with members and history ...", flush=True)

        async def one_room(n: int) -> None:
            state.rooms[n] = await create_room(api, state, plans[n], n)
            state.save(force=False)

        # Big rooms take longest: they start first, the small ones fill in around them.
        await bounded([lambda n=n: one_room(n) for n in todo], concurrency)
        state.save()
        print(f"  rooms done in {time.monotonic() - rooms_started:.0f} s", flush=True)
    if state.probe is None:
        state.probe = await register(api, f"lt{spec.seed}_probe")
        state.save()
    if len(state.probe_rooms) < PROBE_ROOMS:
        # The probe user (initial sync of a user in 50 rooms) joins the big rooms and groups.
        candidates = [state.rooms[n] for n, p in enumerate(plans) if p.kind != "dm"]
        wanted = [r for r in candidates[:PROBE_ROOMS] if r not in state.probe_rooms]
        token = state.probe.access_token
        await bounded([lambda r=r: join(api, r, token) for r in wanted], concurrency)
        state.probe_rooms.extend(wanted)
        state.save()
    print(f"population ready ({time.monotonic() - started:.0f} s)", flush=True)
