"""The load-test tool (tests/bench/loadtest): its population plan, its loopback guard, and a
seconds-long smoke run against this server in its own process."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from tests.bench.loadtest.client import require_loopback
from tests.bench.loadtest.population import PopulationSpec, pick_active, plan_rooms

ROOT = Path(__file__).resolve().parent.parent.parent


def test_plan_is_the_same_for_the_same_seed_and_has_the_asked_mix() -> None:
    spec = PopulationSpec(users=200, dms=30, groups=5, group_size=10, big_rooms=(50, 20))
    rooms = plan_rooms(spec)
    assert rooms == plan_rooms(spec)
    assert [room.kind for room in rooms] == ["big"] * 2 + ["group"] * 5 + ["dm"] * 30
    assert [len(room.members) for room in rooms[:2]] == [50, 20]
    assert all(len(set(room.members)) == len(room.members) for room in rooms)
    assert rooms[0].history == spec.history_pagination


def test_active_users_are_drawn_from_room_members_first() -> None:
    spec = PopulationSpec(users=1000, dms=10, groups=2, big_rooms=())
    rooms = plan_rooms(spec)
    members = {m for room in rooms for m in room.members}
    active = pick_active(rooms, spec.users, 20, spec.seed)
    assert len(active) == 20 and set(active) <= members
    everyone_listening = pick_active(rooms, spec.users, len(members) + 5, spec.seed)
    assert members < set(everyone_listening) and len(everyone_listening) == len(members) + 5


@pytest.mark.parametrize("url", ["http://example.org:8008", "http://10.0.0.1:8008"])
def test_only_loopback_targets_are_accepted(url: str) -> None:
    with pytest.raises(SystemExit):
        require_loopback(url)
    require_loopback("http://127.0.0.1:8008")


async def test_smoke_run_delivers_every_message(admin_dsn: str, tmp_path: Path) -> None:
    result_path = tmp_path / "result.json"
    command = [sys.executable, "-m", "tests.bench.loadtest", "smoke", "--no-pin"]
    command += ["--admin-dsn", admin_dsn, "--work-dir", str(tmp_path), "--json", str(result_path)]
    process = await asyncio.create_subprocess_exec(
        *command, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await asyncio.wait_for(process.communicate(), 240)
    assert process.returncode == 0, output.decode()
    [result] = json.loads(result_path.read_text())
    steady = result["steady"]
    assert steady["missing"] == 0 and steady["failed_sends"] == 0
    assert steady["deliveries"] > 0 and steady["delivery_ms"]["p99"] is not None
    assert result["probes"]["initial_sync_50_rooms"]["rooms"] > 0
    assert result["errors_total"] == {}
