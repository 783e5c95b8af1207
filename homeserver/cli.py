"""The `homeserver` command: run, generate-config, register-user, migrate."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

import structlog

from homeserver.config import (
    ConfigError,
    HomeserverConfig,
    development_config,
    load_config,
    production_config,
    render_config,
)
from homeserver.gc_policy import start_gc_policy
from homeserver.logging_setup import configure_logging

CONFIG_FILE_NAME = "homeserver.yaml"
log = structlog.get_logger("homeserver")


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, help="YAML config file (default: <data dir>/homeserver.yaml)"
    )
    parser.add_argument("--data-dir", type=Path, default=Path("data"), help="default: ./data")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="homeserver", description="A Matrix homeserver.")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run the server (creates ./data on first start)")
    _add_config_options(run)
    run.add_argument(
        "--server-name", help="server name for a new data dir (default: localhost:<port>)"
    )
    run.add_argument("--bind", help="address to listen on (default 127.0.0.1)")
    run.add_argument("--port", type=int, help="port to listen on (default 8008)")

    generate = commands.add_parser("generate-config", help="write a production config")
    generate.add_argument("--server-name", required=True)
    generate.add_argument("--output", type=Path, default=Path(CONFIG_FILE_NAME))

    register = commands.add_parser("register-user", help="create an account in the database")
    _add_config_options(register)
    register.add_argument("name", help="localpart of the new user")
    register.add_argument("--admin", action="store_true")
    register.add_argument("--password", help="prompted for when not given")

    migrate = commands.add_parser("migrate", help="apply database migrations and exit")
    _add_config_options(migrate)
    return parser


def _load(args: argparse.Namespace, create: bool) -> HomeserverConfig:
    """Read the config; a bare `run` writes a development config into the data dir first."""
    path: Path = args.config or args.data_dir / CONFIG_FILE_NAME
    if args.config is None and not path.exists():
        if not create:
            raise ConfigError(f"no config at {path}: run `homeserver run` once, or pass --config")
        port = args.port or 8008
        server_name = args.server_name or f"localhost:{port}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            render_config(development_config(server_name, args.bind or "127.0.0.1", port))
        )
        print(f"wrote a development config to {path}", file=sys.stderr)
    config = load_config(path)
    if getattr(args, "bind", None):
        config.http.bind_address = args.bind
    if getattr(args, "port", None) is not None:
        config.http.port = args.port
    return config


async def _serve(config: HomeserverConfig) -> None:
    from homeserver.app import Homeserver

    server = Homeserver(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await server.start()
    gc_policy = start_gc_policy()
    try:
        await stop.wait()
    finally:
        await gc_policy.stop()
        await server.stop()


async def _migrate(config: HomeserverConfig) -> None:
    from homeserver.app import open_database

    database, embedded = await open_database(config)
    await database.close()
    if embedded is not None:
        await embedded.stop()
    log.info("database is up to date")


async def _register_user(config: HomeserverConfig, name: str, password: str, admin: bool) -> str:
    from homeserver.app import build_services, open_database
    from homeserver.services.common.clock import Clock
    from homeserver.signing_key import load_or_create_signing_key
    from storage.stores import Stores

    signing_key = load_or_create_signing_key(config.resolve_path(config.signing_key_path))
    database, embedded = await open_database(config)
    try:
        services = await build_services(config, Stores.build(database), Clock(), signing_key)
        return await services.registration.create_admin_or_user(name, password, admin=admin)
    finally:
        await database.close()
        if embedded is not None:
            await embedded.stop()


def _run_server(serve: Coroutine[Any, Any, None]) -> None:
    """The server's loop is uvloop where it exists (not on Windows): socket reads, writes
    and timers cost a fraction of the standard loop's, and with thousands of open
    long-polls they are much of the work."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve)
        return
    uvloop.run(serve)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "generate-config":
            if args.output.exists():
                print(f"{args.output} exists; not overwriting it", file=sys.stderr)
                return 1
            text = render_config(production_config(args.server_name))
            args.output.write_text(text)
            print(f"wrote {args.output}", file=sys.stderr)
            return 0
        config = _load(args, create=args.command == "run")
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    configure_logging(config.logging.level, config.logging.format)
    try:
        if args.command == "run":
            _run_server(_serve(config))
        elif args.command == "migrate":
            asyncio.run(_migrate(config))
        elif args.command == "register-user":
            password = args.password or getpass.getpass("Password: ")
            user_id = asyncio.run(_register_user(config, args.name, password, args.admin))
            print(user_id)
    except Exception as error:
        log.error("fatal error", error=str(error), kind=type(error).__name__)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
