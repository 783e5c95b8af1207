"""The server's configuration: one pydantic model, loaded from YAML, with environment overrides.

Every section is its own model with units in field names. Unknown or invalid keys stop
start-up with a message naming the key path.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from homeserver.types.ids import is_valid_server_name
from homeserver.types.room_versions import DEFAULT_ROOM_VERSION, ROOM_VERSIONS

ENV_PREFIX = "HOMESERVER_"


class ConfigError(Exception):
    """The configuration cannot be used; the message names the offending key."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class HttpConfig(Section):
    bind_address: str = Field("127.0.0.1", description="Address the HTTP listener binds to.")
    port: int = Field(8008, ge=0, le=65535, description="Port of the HTTP listener.")
    max_request_body_bytes: int = Field(
        50 * 1024 * 1024, gt=0, description="Larger request bodies get 413 M_TOO_LARGE."
    )
    shutdown_grace_period_ms: int = Field(
        10_000, ge=0, description="How long in-flight requests may run on after SIGTERM."
    )
    listen_backlog: int = Field(
        4096,
        gt=0,
        description="Connections the kernel queues until the server accepts them (capped by"
        " net.core.somaxconn). Thousands of clients reconnecting at once overflow a short"
        " queue, and each dropped connection attempt costs its client 1 s or more.",
    )
    x_forwarded: bool = Field(
        False, description="Trust X-Forwarded-For from a reverse proxy for client IPs."
    )
    tls_certificate_path: str | None = Field(
        None, description="PEM certificate (chain): the listener serves HTTPS when set."
    )
    tls_private_key_path: str | None = Field(
        None, description="PEM private key of the certificate."
    )

    @model_validator(mode="after")
    def _tls_pair(self) -> HttpConfig:
        if (self.tls_certificate_path is None) != (self.tls_private_key_path is None):
            raise ValueError("tls_certificate_path and tls_private_key_path go together")
        return self


class DatabaseConfig(Section):
    url: str | None = Field(
        None,
        description="postgresql:// URL. Unset: an embedded Postgres under <data dir>/postgres.",
    )
    embedded_data_dir: str = Field(
        "postgres", description="Embedded Postgres directory, relative to the data dir."
    )
    pool_min_size: int = Field(2, ge=0)
    pool_max_size: int = Field(
        50,
        ge=1,
        description="At most this many connections. A message in a large room wakes hundreds"
        " of syncs at once, and each holds a connection until its task runs again; a short"
        " pool then makes every other request (sends too) wait seconds for one. Keep it"
        " within Postgres's max_connections (100 by default), counting every process.",
    )
    command_timeout_ms: int = Field(60_000, gt=0)


class RegistrationConfig(Section):
    enabled: bool = Field(False, description="Whether anyone may register an account.")
    require_registration_token: bool = Field(
        False, description="Registration needs an m.login.registration_token stage."
    )
    registration_tokens: list[str] = Field(
        default_factory=list, description="Tokens accepted by m.login.registration_token."
    )
    allow_guests: bool = Field(False, description="Whether guests may register (kind=guest).")
    reserved_localparts: list[str] = Field(
        default_factory=list,
        description="Localparts nobody may register (M_EXCLUSIVE), e.g. for bridges.",
    )


class PasswordConfig(Section):
    hash_cost: Literal["min", "interactive", "moderate", "sensitive"] = Field(
        "interactive",
        description="argon2id cost; 'min' is for test suites only.",
    )
    min_length: int = Field(0, ge=0, description="Shorter passwords get M_WEAK_PASSWORD.")
    login_enabled: bool = Field(True, description="Whether m.login.password is offered.")


class AuthConfig(Section):
    refreshable_access_token_lifetime_ms: int = Field(
        5 * 60 * 1000,
        gt=0,
        description="Lifetime of access tokens issued together with a refresh token.",
    )
    refresh_token_lifetime_ms: int | None = Field(
        None, gt=0, description="Lifetime of refresh tokens; unset: until used."
    )
    uia_session_timeout_ms: int = Field(
        15 * 60 * 1000, gt=0, description="How long a user-interactive auth session lives."
    )
    token_cache_size: int = Field(100_000, ge=0, description="Access tokens cached in memory.")


class RateLimit(Section):
    per_second: float = Field(gt=0)
    burst_count: int = Field(ge=1)


class RateLimitingConfig(Section):
    enabled: bool = Field(True, description="Set false for test suites and benchmarks.")
    login_per_ip: RateLimit = RateLimit(per_second=0.17, burst_count=3)
    login_per_account: RateLimit = RateLimit(per_second=0.17, burst_count=3)
    login_failures_per_account: RateLimit = RateLimit(per_second=0.17, burst_count=3)
    registration_per_ip: RateLimit = RateLimit(per_second=0.17, burst_count=3)
    message_per_user: RateLimit = RateLimit(per_second=0.2, burst_count=10)


class RoomsConfig(Section):
    default_room_version: str = Field(
        DEFAULT_ROOM_VERSION, description="Room version of new rooms when the client names none."
    )

    @field_validator("default_room_version")
    @classmethod
    def _check_room_version(cls, value: str) -> str:
        if value not in ROOM_VERSIONS:
            raise ValueError(f"unknown room version {value!r}")
        return value


class PresenceConfig(Section):
    enabled: bool = Field(True, description="Track and share presence at all.")
    wake_interval_ms: int = Field(
        5000,
        ge=0,
        description="At most one wake-up per user per interval for others' presence changes"
        " (the first comes at once); bounds the syncs a wave of changes in large rooms causes.",
    )
    wake_room_waiting_limit: int = Field(
        100,
        ge=0,
        description="Presence changes wake the long-polls waiting in a room only where at most"
        " this many wait; in busier rooms each gets them with its next sync (at the latest"
        " when its long-poll times out), so a wave of changes in a large room costs no extra"
        " syncs.",
    )


class CachesConfig(Section):
    event_cache_entries: int = Field(
        10_000,
        ge=0,
        description="Parsed events kept in memory (about 3.5 KB each): recent messages and the"
        " state events every sync and send reads.",
    )
    unread_count_entries: int = Field(
        100_000,
        ge=0,
        description="Unread notification counts kept per (user, room) (about 300 bytes"
        " each), so that a sync woken by a message does not count them again in Postgres.",
    )


class OutboundConfig(Section):
    allowed_private_ranges: list[str] = Field(
        default_factory=list,
        description="CIDRs that outbound requests (push gateways, and later federation and"
        " URL previews) may reach although they are private, loopback, link-local or"
        " otherwise internal, e.g. ['10.1.0.0/16'] for a push gateway on the LAN. Everything"
        " else in those ranges is refused.",
    )
    request_timeout_ms: int = Field(
        20_000, gt=0, description="Total time an outbound request may take, answer included."
    )
    connect_timeout_ms: int = Field(
        5_000, gt=0, description="Time to establish an outbound connection (TLS included)."
    )
    extra_ca_certificates_path: str | None = Field(
        None,
        description="A PEM file of CA certificates trusted for outbound HTTPS besides the"
        " system's (a private CA of a push gateway; SyTest's). Relative to data_dir.",
    )

    @field_validator("allowed_private_ranges")
    @classmethod
    def _check_ranges(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                ipaddress.ip_network(value.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{value!r} is not an IP network in CIDR notation") from None
        return values


class PushConfig(Section):
    enabled: bool = Field(True, description="Send notifications to users' push gateways.")
    notification_retention_ms: int = Field(
        30 * 24 * 60 * 60 * 1000,
        gt=0,
        description="How long notifications are kept (GET /notifications, unread counts):"
        " read ones go after a day, highlights and unread ones after this.",
    )
    legacy_mention_rules: bool = Field(
        True,
        description="Keep the default rules that spec v1.17 removed (.m.rule.contains_display"
        "_name, .m.rule.roomnotif, .m.rule.contains_user_name), as Synapse does: a message"
        " naming a user or @room in its body highlights unless it carries m.mentions. Many"
        " clients and bots send no m.mentions yet.",
    )
    include_content: bool = Field(
        True,
        description="Whether notifications carry the event's content. False keeps message"
        " bodies away from push gateways and the push providers behind them (other details,"
        " such as the sender and the room name, are still sent, as in Synapse).",
    )
    group_unread_count_by_room: bool = Field(
        True,
        description="The badge (counts.unread) is the number of rooms with unread"
        " notifications (plus pending invites); false: the total of unread notifications.",
    )
    max_concurrent_deliveries: int = Field(
        50, ge=1, description="Requests to push gateways in flight at once (across pushers)."
    )
    retry_initial_backoff_ms: int = Field(
        1_000, gt=0, description="Wait before retrying a pusher whose gateway failed; doubles."
    )
    retry_max_backoff_ms: int = Field(
        3_600_000, gt=0, description="The longest wait between retries of a failing pusher."
    )

    @model_validator(mode="after")
    def _backoff_order(self) -> PushConfig:
        if self.retry_max_backoff_ms < self.retry_initial_backoff_ms:
            raise ValueError("retry_max_backoff_ms is below retry_initial_backoff_ms")
        return self


class LoggingConfig(Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["json", "console"] = Field("json", description="json for production.")


class MetricsConfig(Section):
    enabled: bool = Field(True, description="Serve Prometheus metrics at /metrics.")


class WellKnownConfig(Section):
    client_base_url: str | None = Field(
        None, description="Served in /.well-known/matrix/client; default http://<bind>:<port>."
    )
    server_delegation: str | None = Field(
        None, description="Served as m.server in /.well-known/matrix/server."
    )


class HomeserverConfig(Section):
    server_name: str = Field(description="The domain in every user ID; never change it later.")
    signing_key_path: str = Field(
        "signing.key", description="ed25519 signing key, relative to the data dir."
    )
    data_dir: str = Field(".", description="Base for relative paths in this file.")
    http: HttpConfig = HttpConfig()
    database: DatabaseConfig = DatabaseConfig()
    registration: RegistrationConfig = RegistrationConfig()
    password: PasswordConfig = PasswordConfig()
    auth: AuthConfig = AuthConfig()
    rate_limiting: RateLimitingConfig = RateLimitingConfig()
    rooms: RoomsConfig = RoomsConfig()
    presence: PresenceConfig = PresenceConfig()
    caches: CachesConfig = CachesConfig()
    outbound: OutboundConfig = OutboundConfig()
    push: PushConfig = PushConfig()
    logging: LoggingConfig = LoggingConfig()
    metrics: MetricsConfig = MetricsConfig()
    well_known: WellKnownConfig = WellKnownConfig()

    @field_validator("server_name")
    @classmethod
    def _check_server_name(cls, value: str) -> str:
        if not is_valid_server_name(value):
            raise ValueError(f"{value!r} is not a valid Matrix server name")
        return value

    def resolve_path(self, relative: str) -> Path:
        return (Path(self.data_dir) / relative).resolve()

    @property
    def client_base_url(self) -> str:
        if self.well_known.client_base_url:
            return self.well_known.client_base_url
        return f"http://{self.http.bind_address}:{self.http.port}"


def _format_validation_error(error: ValidationError, source: str) -> str:
    lines = [f"invalid configuration in {source} (with HOMESERVER_* overrides):"]
    for item in error.errors():
        key = ".".join(str(part) for part in item["loc"]) or "(top level)"
        message = "unknown key" if item["type"] == "extra_forbidden" else item["msg"]
        lines.append(f"  {key}: {message}")
    return "\n".join(lines)


def _env_overrides(environ: dict[str, str]) -> list[tuple[tuple[str, ...], Any]]:
    """Map `HOMESERVER_<SECTION>_<KEY>` variables onto key paths.

    Section and key names contain underscores, so the split is found by matching known
    section names rather than by a separator.
    """
    sections = {
        name: field.annotation
        for name, field in HomeserverConfig.model_fields.items()
        if isinstance(field.annotation, type) and issubclass(field.annotation, Section)
    }
    overrides: list[tuple[tuple[str, ...], Any]] = []
    for variable, raw in environ.items():
        if not variable.startswith(ENV_PREFIX):
            continue
        name = variable[len(ENV_PREFIX) :].lower()
        value = yaml.safe_load(raw) if raw != "" else None
        if name in HomeserverConfig.model_fields and name not in sections:
            overrides.append(((name,), value))
            continue
        for section, model in sections.items():
            key = name.removeprefix(section + "_")
            if key != name and key in model.model_fields:
                overrides.append(((section, key), value))
                break
    return overrides


def build_config(raw: dict[str, Any], source: str, environ: dict[str, str]) -> HomeserverConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping of keys")
    merged: dict[str, Any] = {key: value for key, value in raw.items()}
    for path, value in _env_overrides(environ):
        target = merged
        for part in path[:-1]:
            current = target.get(part)
            if not isinstance(current, dict):
                current = {}
                target[part] = current
            target = current
        target[path[-1]] = value
    try:
        return HomeserverConfig.model_validate(merged)
    except ValidationError as error:
        raise ConfigError(_format_validation_error(error, source)) from None


def load_config(path: Path, environ: dict[str, str] | None = None) -> HomeserverConfig:
    """Load a YAML config file; relative paths in it are relative to its `data_dir`."""
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except OSError as error:
        raise ConfigError(f"cannot read config {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from None
    if isinstance(raw, dict):
        data_dir = raw.setdefault("data_dir", ".")
        if isinstance(data_dir, str) and not Path(data_dir).is_absolute():
            raw["data_dir"] = str((path.parent / data_dir).resolve())
    return build_config(raw, str(path), dict(os.environ if environ is None else environ))


def development_config(server_name: str, bind_address: str, port: int) -> dict[str, Any]:
    """What a bare `homeserver run` writes: open registration on loopback, else production."""
    return {
        "server_name": server_name,
        "signing_key_path": "signing.key",
        "http": {"bind_address": bind_address, "port": port},
        "database": {"url": None},
        "registration": {"enabled": True},
        "logging": {"format": "console"},
    }


def production_config(server_name: str) -> dict[str, Any]:
    """What `homeserver generate-config` writes: closed registration, rate limits on."""
    return {
        "server_name": server_name,
        "signing_key_path": "signing.key",
        "http": {"bind_address": "127.0.0.1", "port": 8008},
        "database": {"url": "postgresql://homeserver@localhost/homeserver"},
        "registration": {"enabled": False, "registration_tokens": [secrets.token_urlsafe(16)]},
        "rate_limiting": {"enabled": True},
        "password": {"hash_cost": "interactive", "min_length": 8},
        "logging": {"format": "json"},
    }


def render_config(values: dict[str, Any]) -> str:
    header = (
        "# Homeserver configuration. Every key is documented in README.md;\n"
        "# environment variables HOMESERVER_<SECTION>_<KEY> override keys here.\n"
    )
    return header + yaml.safe_dump(values, sort_keys=False)
