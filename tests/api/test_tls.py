"""The listener serves HTTPS when a certificate and key are configured."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import aiohttp
import pytest

from homeserver.config import ConfigError
from tests.api.harness import make_config, start_server


def self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "tls.crt", directory / "tls.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_https_listener(database_url: str, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    config = make_config(
        database_url,
        tmp_path,
        # The key by a path relative to the data dir.
        http={"tls_certificate_path": str(cert), "tls_private_key_path": key.name},
    )
    server = await start_server(config)
    try:
        trusting = ssl.create_default_context(cafile=str(cert))
        trusting.check_hostname = False
        async with aiohttp.ClientSession() as session:
            url = f"https://127.0.0.1:{server.port}/_matrix/client/versions"
            async with session.get(url, ssl=trusting) as response:
                assert response.status == 200
                assert "versions" in await response.json()
    finally:
        await server.stop()


def test_certificate_without_key_is_refused(database_url: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="tls_certificate_path"):
        make_config(database_url, tmp_path, http={"tls_certificate_path": "tls.crt"})
