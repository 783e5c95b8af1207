"""Config loading: validation messages name the key; environment overrides apply."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from homeserver.config import (
    ConfigError,
    build_config,
    development_config,
    load_config,
    production_config,
    render_config,
)


def test_minimal_config_gets_production_defaults() -> None:
    config = build_config({"server_name": "example.org"}, "test", {})
    assert config.registration.enabled is False
    assert config.rate_limiting.enabled is True
    assert config.http.port == 8008
    assert config.database.url is None


def test_unknown_key_names_its_path() -> None:
    with pytest.raises(ConfigError, match=r"http\.prot: unknown key"):
        build_config({"server_name": "example.org", "http": {"prot": 1}}, "test", {})


def test_invalid_value_names_its_path() -> None:
    with pytest.raises(ConfigError, match=r"rate_limiting\.login_per_ip\.per_second"):
        build_config(
            {
                "server_name": "example.org",
                "rate_limiting": {"login_per_ip": {"per_second": -1, "burst_count": 2}},
            },
            "test",
            {},
        )


def test_invalid_server_name_is_refused() -> None:
    with pytest.raises(ConfigError, match="server_name"):
        build_config({"server_name": "not a name"}, "test", {})


def test_missing_server_name_is_refused() -> None:
    with pytest.raises(ConfigError, match="server_name: Field required"):
        build_config({}, "test", {})


def test_top_level_must_be_a_mapping() -> None:
    with pytest.raises(ConfigError, match="mapping"):
        build_config(["x"], "test", {})  # type: ignore[arg-type]


def test_environment_overrides() -> None:
    config = build_config(
        {"server_name": "example.org"},
        "test",
        {
            "HOMESERVER_DATABASE_URL": "postgresql://u@h/db",
            "HOMESERVER_RATE_LIMITING_ENABLED": "false",
            "HOMESERVER_HTTP_PORT": "9000",
            "HOMESERVER_SERVER_NAME": "other.org",
            "HOMESERVER_TEST_DATABASE_URL": "ignored: names no key",
            "UNRELATED": "x",
        },
    )
    assert config.database.url == "postgresql://u@h/db"
    assert config.rate_limiting.enabled is False
    assert config.http.port == 9000
    assert config.server_name == "other.org"


def test_environment_override_is_validated() -> None:
    with pytest.raises(ConfigError, match=r"http\.port"):
        build_config({"server_name": "example.org"}, "test", {"HOMESERVER_HTTP_PORT": "abc"})


def test_generated_configs_load(tmp_path: Path) -> None:
    dev = tmp_path / "dev.yaml"
    dev.write_text(render_config(development_config("localhost:8008", "127.0.0.1", 8008)))
    config = load_config(dev, environ={})
    assert config.registration.enabled is True
    assert config.http.bind_address == "127.0.0.1"
    assert config.data_dir == str(tmp_path)
    assert config.resolve_path(config.signing_key_path) == tmp_path / "signing.key"

    prod = tmp_path / "prod.yaml"
    prod.write_text(render_config(production_config("example.org")))
    config = load_config(prod, environ={})
    assert config.registration.enabled is False
    assert config.rate_limiting.enabled is True
    assert config.registration.registration_tokens  # a generated secret


def test_bad_yaml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("server_name: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(path, environ={})


def test_relative_data_dir_is_relative_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "hs.yaml"
    path.parent.mkdir()
    path.write_text(yaml.safe_dump({"server_name": "example.org", "data_dir": "../state"}))
    config = load_config(path, environ={})
    assert Path(config.data_dir) == tmp_path / "state"
