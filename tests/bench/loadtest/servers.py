"""Starting and stopping the servers under test on loopback: this homeserver, and Synapse
installed from PyPI into a virtualenv of its own. Both keep their database between runs so
the saved population can be reused; `--fresh` drops it."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import yaml

SERVER_NAME = "loadtest.local"
SYNAPSE_VERSION = "1.163.2"
LOG_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ServerProcess:
    name: str
    base_url: str
    process: asyncio.subprocess.Process | None
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def pin(self, cpu: int | None) -> None:
        """Keep the server on one core (with its threads), away from the generator."""
        if cpu is None or self.process is None:
            return
        for task in Path(f"/proc/{self.process.pid}/task").iterdir():
            os.sched_setaffinity(int(task.name), {cpu})

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), 60)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


async def drop_database(admin_dsn: str, name: str) -> None:
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def ensure_database(admin_dsn: str, name: str, fresh: bool) -> str:
    """The DSN of database `name`, created if absent (C collation, as Synapse requires)."""
    if fresh:
        await drop_database(admin_dsn, name)
    admin = await asyncpg.connect(admin_dsn)
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await admin.execute(
                f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C' "
                "TEMPLATE template0"
            )
    finally:
        await admin.close()
    return admin_dsn.rsplit("/", 1)[0] + "/" + name


async def start_ours(
    work_dir: Path, admin_dsn: str, database: str, fresh: bool, log: Path
) -> ServerProcess:
    dsn = await ensure_database(admin_dsn, database, fresh)
    data_dir = work_dir / database
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = {
        "server_name": SERVER_NAME,
        "data_dir": str(data_dir),
        "http": {"bind_address": "127.0.0.1", "port": port},
        "registration": {"enabled": True},
        "logging": {"level": "warning", "format": "json"},
        "password": {"hash_cost": "min"},
        "rate_limiting": {"enabled": False},
        "database": {"url": dsn, "pool_min_size": 5, "pool_max_size": 50},
    }
    config_path = data_dir / "homeserver.yaml"
    config_path.write_text(yaml.safe_dump(config))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "homeserver",
        "run",
        "--config",
        str(config_path),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    # What the run used, read from what was written and from HOMESERVER_* overrides in the
    # environment (which the server applies over its config file).
    settings: dict[str, Any] = {
        key: config[key] for key in ("password", "rate_limiting") if key in config
    }
    settings["database_pool"] = config["database"]["pool_max_size"]
    settings["environment_overrides"] = {
        name: value for name, value in os.environ.items() if name.startswith("HOMESERVER_")
    }
    return ServerProcess("ours", f"http://127.0.0.1:{port}", process, settings)


def synapse_python(work_dir: Path) -> Path:
    """The Synapse virtualenv's interpreter, installing Synapse from PyPI the first time."""
    venv = work_dir / "synapse-venv"
    python = venv / "bin" / "python"
    marker = venv / f".synapse-{SYNAPSE_VERSION}"
    if marker.exists():
        return python
    print(f"installing Synapse {SYNAPSE_VERSION} into {venv} (once) ...", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [
            str(python),
            "-m",
            "pip",
            "install",
            "--quiet",
            f"matrix-synapse[postgres]=={SYNAPSE_VERSION}",
        ],
        check=True,
    )
    marker.touch()
    return python


# Relaxed far beyond any rate the load test reaches, so Synapse is measured, not throttled.
_UNLIMITED = {"per_second": 100_000, "burst_count": 100_000}
SYNAPSE_SETTINGS: dict[str, Any] = {
    "bcrypt_rounds": 4,
    "rc_message": _UNLIMITED,
    "rc_registration": _UNLIMITED,
    "rc_login": {"address": _UNLIMITED, "account": _UNLIMITED, "failed_attempts": _UNLIMITED},
    "rc_joins": {"local": _UNLIMITED, "remote": _UNLIMITED},
    "rc_joins_per_room": _UNLIMITED,
    "rc_invites": {"per_room": _UNLIMITED, "per_user": _UNLIMITED, "per_issuer": _UNLIMITED},
    "rc_room_creation": _UNLIMITED,
    "rc_presence": {"per_user": _UNLIMITED},
    "rc_3pid_validation": _UNLIMITED,
}


async def start_synapse(
    work_dir: Path, admin_dsn: str, database: str, fresh: bool, log: Path
) -> ServerProcess:
    python = await asyncio.to_thread(synapse_python, work_dir)
    dsn = await ensure_database(admin_dsn, database, fresh)
    parts = urlsplit(dsn)
    data_dir = work_dir / database
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_config = data_dir / "log.yaml"
    log_config.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "formatters": {
                    "plain": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}
                },
                "handlers": {
                    "file": {
                        "class": "logging.FileHandler",
                        "filename": str(log),
                        "formatter": "plain",
                    }
                },
                "root": {"level": "WARNING", "handlers": ["file"]},
                "disable_existing_loggers": False,
            }
        )
    )
    config = {
        "server_name": SERVER_NAME,
        "pid_file": str(data_dir / "homeserver.pid"),
        "listeners": [
            {
                "port": port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }
        ],
        "database": {
            "name": "psycopg2",
            "args": {
                "user": parts.username or "postgres",
                "host": parts.hostname or "127.0.0.1",
                "port": parts.port or 5432,
                "database": database,
                "cp_min": 5,
                "cp_max": 10,
            },
        },
        "log_config": str(log_config),
        "media_store_path": str(data_dir / "media"),
        "signing_key_path": str(data_dir / "signing.key"),
        "report_stats": False,
        "enable_registration": True,
        "enable_registration_without_verification": True,
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "enable_metrics": False,
        **SYNAPSE_SETTINGS,
    }
    config_path = data_dir / "homeserver.yaml"
    config_path.write_text(yaml.safe_dump(config))
    app = [str(python), "-m", "synapse.app.homeserver", "--config-path", str(config_path)]
    if not (data_dir / "signing.key").exists():
        keys = await asyncio.create_subprocess_exec(*app, "--generate-keys")
        if await keys.wait() != 0:
            raise RuntimeError("Synapse could not generate its signing key")
    process = await asyncio.create_subprocess_exec(
        *app, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )
    settings = {
        "bcrypt_rounds": SYNAPSE_SETTINGS["bcrypt_rounds"],
        "rate_limits": f"every rc_* at {_UNLIMITED['per_second']}/s",
        "database_pool": config["database"]["args"]["cp_max"],
        "presence": "enabled (Synapse's default)",
    }
    return ServerProcess(
        f"synapse {SYNAPSE_VERSION}", f"http://127.0.0.1:{port}", process, settings
    )
