"""The `homeserver` command as a user runs it: real processes, signals and files."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml

from tests.api.harness import make_config

PYTHON = sys.executable


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("HOMESERVER_")}


def _homeserver(*args: str, cwd: Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "homeserver", *args],
        cwd=cwd,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
        **kwargs,  # type: ignore[call-overload]
    )


def _wait_for_versions(port: int, process: subprocess.Popen[str], timeout_s: float = 60) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early: {process.stderr.read()}")  # type: ignore[union-attr]
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/_matrix/client/versions", timeout=2
            ) as response:
                return yaml.safe_load(response.read())
        except OSError:
            time.sleep(0.2)
    raise AssertionError("server did not answer /versions in time")


def _start(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [PYTHON, "-m", "homeserver", *args],
        cwd=cwd,
        env=_clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _stop(process: subprocess.Popen[str], sig: int = signal.SIGTERM) -> str:
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    return stderr


def _write_config(database_url: str, tmp_path: Path, port: int) -> Path:
    config = make_config(database_url, tmp_path, http={"port": port}, logging={"level": "info"})
    path = tmp_path / "homeserver.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json")))
    return path


def test_bare_run_creates_data_dir_with_embedded_postgres(tmp_path: Path) -> None:
    port = _free_port()
    process = _start(["run", "--port", str(port)], tmp_path)
    try:
        versions = _wait_for_versions(port, process)
    finally:
        stderr = _stop(process, signal.SIGINT)
    assert "v1.1" in versions["versions"]
    data = tmp_path / "data"
    config = yaml.safe_load((data / "homeserver.yaml").read_text())
    assert config["server_name"] == f"localhost:{port}"
    assert config["registration"]["enabled"] is True
    assert (data / "signing.key").read_text().startswith("ed25519 a_")
    assert (data / "postgres" / "PG_VERSION").exists()
    assert "homeserver stopped" in stderr
    assert "embedded postgres stopped" in stderr

    key = (data / "signing.key").read_text()
    process = _start(["run", "--port", str(port)], tmp_path)
    try:
        _wait_for_versions(port, process)
    finally:
        _stop(process)
    assert (data / "signing.key").read_text() == key


def test_run_with_config_and_graceful_sigterm(database_url: str, tmp_path: Path) -> None:
    port = _free_port()
    path = _write_config(database_url, tmp_path, port)
    process = _start(["run", "--config", str(path)], tmp_path)
    try:
        _wait_for_versions(port, process)
    finally:
        stderr = _stop(process)
    assert "homeserver started" in stderr
    assert "homeserver stopped" in stderr


def test_register_user_then_login(database_url: str, tmp_path: Path) -> None:
    port = _free_port()
    path = _write_config(database_url, tmp_path, port)
    done = _homeserver(
        "register-user",
        "root",
        "--admin",
        "--password",
        "hunter22",
        "--config",
        str(path),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "@root:test.local"
    process = _start(["run", "--config", str(path)], tmp_path)
    try:
        _wait_for_versions(port, process)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/_matrix/client/v3/login",
            data=b'{"type":"m.login.password","user":"root","password":"hunter22"}',
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert yaml.safe_load(response.read())["user_id"] == "@root:test.local"
    finally:
        _stop(process)


def test_migrate_is_idempotent(database_url: str, tmp_path: Path) -> None:
    path = _write_config(database_url, tmp_path, _free_port())
    for _ in range(2):
        done = _homeserver("migrate", "--config", str(path), cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "database is up to date" in done.stderr


def test_generate_config_writes_production_config(tmp_path: Path) -> None:
    done = _homeserver("generate-config", "--server-name", "example.org", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    config = yaml.safe_load((tmp_path / "homeserver.yaml").read_text())
    assert config["server_name"] == "example.org"
    assert config["registration"]["enabled"] is False
    assert config["rate_limiting"]["enabled"] is True
    again = _homeserver("generate-config", "--server-name", "example.org", cwd=tmp_path)
    assert again.returncode == 1


def test_invalid_config_stops_start_up_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("server_name: example.org\nhttp:\n  prot: 1\n")
    done = _homeserver("run", "--config", str(path), cwd=tmp_path)
    assert done.returncode == 2
    assert "http.prot: unknown key" in done.stderr
