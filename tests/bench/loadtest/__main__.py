"""Command line: `python -m tests.bench.loadtest {run,compare,smoke}`; see README.md here."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from tests.bench.loadtest.client import Api, new_session
from tests.bench.loadtest.measure import load_average
from tests.bench.loadtest.population import PopulationSpec, pick_active, plan_rooms
from tests.bench.loadtest.probes import run_probes
from tests.bench.loadtest.provision import State, provision
from tests.bench.loadtest.report import print_comparison, print_result
from tests.bench.loadtest.servers import (
    ServerProcess,
    drop_database,
    start_ours,
    start_synapse,
)
from tests.bench.loadtest.steady import SteadyState

ADMIN_DSN = os.environ.get(
    "HOMESERVER_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SERVER_CPU, GENERATOR_CPU = 0, 1


def population(args: argparse.Namespace) -> PopulationSpec:
    return PopulationSpec(
        users=args.users,
        dms=args.dms,
        groups=args.groups,
        big_rooms=tuple(args.big_rooms),
        history_pagination=args.history,
        seed=args.seed,
    )


def database_name(name: str, args: argparse.Namespace) -> str:
    # One database per population size, so a small run (or the smoke run, which always
    # starts afresh) never touches the full-scale population.
    return f"loadtest_{name}_{args.users}" + ("_smoke" if args.command == "smoke" else "")


async def start(name: str, args: argparse.Namespace) -> ServerProcess:
    work_dir = Path(args.work_dir)
    database = database_name(name, args)
    log = work_dir / f"{database}.log"
    if name == "ours":
        return await start_ours(work_dir, args.admin_dsn, database, args.fresh, log)
    return await start_synapse(work_dir, args.admin_dsn, database, args.fresh, log)


async def measure_server(server: ServerProcess, args: argparse.Namespace) -> dict[str, Any]:
    """Provision, probe and load one server; the figures as one JSON-able dict."""
    spec = population(args)
    label = "target" if server.process is None else database_name(server.name.split()[0], args)
    state_path = Path(args.work_dir) / f"state-{label}.json"
    if args.fresh and state_path.exists():
        state_path.unlink()
    result: dict[str, Any] = {
        "server": server.name,
        "settings": server.settings,
        "population": spec.as_json(),
        "active": args.active,
        "load_average_before": load_average(),
    }
    async with new_session() as session:
        api = Api(session, server.base_url)
        await api.wait_until_up(180)
        if args.pin:
            server.pin(SERVER_CPU)
        state = State.load(state_path, server.name, spec)
        started = time.monotonic()
        await provision(api, state, spec, args.concurrency)
        result["provision_seconds"] = round(time.monotonic() - started, 1)
        if args.command == "provision":
            return result
        print("probes ...", flush=True)
        result["probes"] = await run_probes(api, state, args.probe_registrations, args.repeats)
        plans = plan_rooms(spec)
        active = pick_active(plans, spec.users, args.active, spec.seed)
        steady = SteadyState(api, state, plans, active, server.pid)
        print(f"opening {len(active)} long-polls ...", flush=True)
        try:
            result["long_polls_open_seconds"] = round(await steady.start(), 1)
            print(f"idle for {args.idle_seconds:g} s ...", flush=True)
            result["idle"] = await steady.idle(args.idle_seconds)
            if args.ramp:
                rates = [float(r) for r in args.ramp.split(",")]
                print(f"ramp over {rates} msg/s, {args.seconds:g} s each ...", flush=True)
                result["ramp"] = await steady.ramp(rates, args.seconds, args.drain_seconds)
            else:
                print(f"sending {args.rate:g} msg/s for {args.seconds:g} s ...", flush=True)
                result["steady"] = await steady.send_phase(
                    args.rate, args.seconds, args.drain_seconds
                )
        finally:
            await steady.stop()
        result["errors_total"] = dict(api.errors)
    result["load_average_after"] = load_average()
    return result


async def run_one(name: str, args: argparse.Namespace) -> dict[str, Any]:
    server = await start(name, args)
    try:
        return await measure_server(server, args)
    finally:
        await server.stop()
        if args.command == "smoke":
            await drop_database(args.admin_dsn, database_name(name, args))


def pin_generator(args: argparse.Namespace) -> None:
    if args.pin and len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(0, {GENERATOR_CPU})
    else:
        args.pin = False


def save(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    path = Path(args.json) if args.json else Path(args.work_dir) / f"result-{int(time.time())}.json"
    path.write_text(json.dumps(results, indent=2))
    print(f"\nfull figures: {path}")


async def main(args: argparse.Namespace) -> int:
    # Stopping the tool (also as a background job, where SIGINT is ignored) must still stop
    # the server it started: cancelling unwinds through each server's `finally`.
    task = asyncio.current_task()
    assert task is not None
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, task.cancel)
    pin_generator(args)
    if args.command == "compare":
        results = [await run_one("ours", args), await run_one("synapse", args)]
        for result in results:
            print_result(result)
        print_comparison(results[0], results[1])
    elif args.command == "provision":
        results = [await run_one(args.server, args)]
    elif args.target:
        server = ServerProcess("target", args.target, None)
        results = [await measure_server(server, args)]
        print_result(results[0])
    else:
        results = [await run_one(args.server, args)]
        print_result(results[0])
    save(results, args)
    if args.command == "smoke":
        steady = results[0]["steady"]
        if steady["missing"] or steady["failed_sends"] or not steady["deliveries"]:
            print("smoke run FAILED: deliveries missing or sends failed", file=sys.stderr)
            return 1
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m tests.bench.loadtest", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True)
    for name, text in (
        ("run", "load one server: ours or Synapse (started here), or --target URL"),
        ("compare", "the same scenario against ours and Synapse, then the ratio table"),
        ("smoke", "a seconds-long run against ours on a tiny population (CI)"),
        ("provision", "only create the population (resumable), for a later run"),
    ):
        command = commands.add_parser(name, help=text, description=text)
        tiny = name == "smoke"
        command.add_argument("--server", choices=["ours", "synapse"], default="ours")
        command.add_argument("--target", help="base URL of a server already running (loopback)")
        command.add_argument("--users", type=int, default=40 if tiny else 30_000)
        command.add_argument("--dms", type=int, default=10 if tiny else 5_000)
        command.add_argument("--groups", type=int, default=3 if tiny else 300)
        command.add_argument(
            "--big-rooms", type=int, nargs="*", default=[15] if tiny else [1_000, 750, 500]
        )
        command.add_argument(
            "--history",
            type=int,
            default=60 if tiny else 1_000,
            help="messages in the first big room (pagination probe)",
        )
        command.add_argument("--active", type=int, default=20 if tiny else 5_000)
        command.add_argument(
            "--rate", type=float, default=5 if tiny else 100, help="messages per second"
        )
        command.add_argument(
            "--seconds",
            type=float,
            default=3 if tiny else 60,
            help="length of the send phase (of each ramp step)",
        )
        command.add_argument(
            "--idle-seconds",
            type=float,
            default=1 if tiny else 65,
            help="long-polls open and no messages (over 30 s: all time out)",
        )
        command.add_argument("--drain-seconds", type=float, default=15)
        command.add_argument("--ramp", default="", help="comma-separated rates, e.g. 25,50,100,150")
        command.add_argument("--repeats", type=int, default=2 if tiny else 5)
        command.add_argument("--probe-registrations", type=int, default=10 if tiny else 200)
        command.add_argument("--concurrency", type=int, default=16)
        command.add_argument("--seed", type=int, default=1)
        command.add_argument(
            "--fresh",
            action="store_true",
            default=tiny,
            help="drop the server's database and the saved state first",
        )
        command.add_argument(
            "--no-pin",
            dest="pin",
            action="store_false",
            help="do not pin the server and this generator to separate cores",
        )
        command.add_argument("--work-dir", default=".loadtest")
        command.add_argument("--admin-dsn", default=ADMIN_DSN)
        command.add_argument("--json", help="where to write the figures (JSON)")
    return top


def run() -> None:
    args = parser().parse_args()
    Path(args.work_dir).mkdir(parents=True, exist_ok=True)
    try:
        import uvloop  # the generator's own CPU counts against the machine: keep it light
    except ImportError:
        sys.exit(asyncio.run(main(args)))
    sys.exit(uvloop.run(main(args)))


if __name__ == "__main__":
    run()
