"""The composition root: builds the pool, stores, services and HTTP app of one process."""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import structlog
from aiohttp import web
from signedjson.key import SigningKey

from client_api import install_client_api
from homeserver.config import HomeserverConfig
from homeserver.embedded_postgres import EmbeddedPostgres
from homeserver.http import observability
from homeserver.http.middleware import matrix_middleware
from homeserver.http.routing import SERVICES_KEY, TRUST_X_FORWARDED_KEY
from homeserver.outbound import OutboundClient, OutboundSettings, parse_networks
from homeserver.rules.push.defaults import DEFAULT_RULES, LEGACY_DEFAULT_RULES
from homeserver.services.accounts.account import AccountService
from homeserver.services.accounts.account_data import AccountDataService
from homeserver.services.accounts.auth import AuthService
from homeserver.services.accounts.capabilities import CapabilitiesService
from homeserver.services.accounts.devices import DeviceService
from homeserver.services.accounts.discovery import Discovery
from homeserver.services.accounts.ignored_users import IgnoredUsers
from homeserver.services.accounts.login import LoginService
from homeserver.services.accounts.passwords import PasswordHasher
from homeserver.services.accounts.profiles import ProfileService
from homeserver.services.accounts.registration import RegistrationPolicy, RegistrationService
from homeserver.services.accounts.uia import UiaService
from homeserver.services.common.clock import Clock
from homeserver.services.common.health import HealthService
from homeserver.services.common.periodic import PeriodicTask
from homeserver.services.common.ratelimit import Bucket, RateLimiter
from homeserver.services.container import Services
from homeserver.services.push.notifications import NotificationService
from homeserver.services.push.push_delivery import DeliverySettings, PushDelivery
from homeserver.services.push.push_evaluator import PushEvaluator
from homeserver.services.push.push_rules import PUSH_RULES, PushRuleService
from homeserver.services.push.pushers import PusherService
from homeserver.services.push.unread_counts import UnreadCountCache
from homeserver.services.rooms.aliases import AliasService
from homeserver.services.rooms.directory import DirectoryService
from homeserver.services.rooms.event_creation import EventCreationService
from homeserver.services.rooms.event_loader import EventLoader
from homeserver.services.rooms.event_persistence import EventPersister
from homeserver.services.rooms.membership import MembershipService
from homeserver.services.rooms.public_rooms import PublicRoomsService
from homeserver.services.rooms.recent_room_events import RecentRoomEvents
from homeserver.services.rooms.room_creation import RoomCreationService
from homeserver.services.rooms.room_events import RoomEventsService
from homeserver.services.rooms.room_history import RoomHistoryService
from homeserver.services.rooms.room_upgrade import RoomUpgradeService
from homeserver.services.rooms.user_memberships import UserMemberships
from homeserver.services.sync.event_stream import EventStreamService
from homeserver.services.sync.filters import FilterService
from homeserver.services.sync.presence import PresenceService
from homeserver.services.sync.receipts import ReceiptService
from homeserver.services.sync.sync import SyncService
from homeserver.services.sync.to_device import ToDeviceService
from homeserver.services.sync.typing import TypingService
from homeserver.signing_key import load_or_create_signing_key
from homeserver.streams.notifier import LocalNotifier
from homeserver.streams.writer import StreamWriter
from homeserver.types.room_versions import KNOWN_ROOM_VERSIONS
from homeserver.types.stream_token import Stream, StreamToken
from storage.database import Database
from storage.migrator import migrate
from storage.stores import Stores

log = structlog.get_logger(__name__)

_HOUSEKEEPING_INTERVAL_S = 300


async def open_database(config: HomeserverConfig) -> tuple[Database, EmbeddedPostgres | None]:
    """Connect to the configured Postgres, or start the embedded one, and migrate."""
    embedded = None
    dsn = config.database.url
    if dsn is None:
        embedded = EmbeddedPostgres(config.resolve_path(config.database.embedded_data_dir))
        dsn = await embedded.start()
    try:
        database = await Database.connect(
            dsn,
            min_size=config.database.pool_min_size,
            max_size=config.database.pool_max_size,
            command_timeout_s=config.database.command_timeout_ms / 1000,
        )
        try:
            async with database.pool.acquire() as conn:
                await migrate(conn)
        except BaseException:
            await database.close()
            raise
    except BaseException:
        if embedded is not None:
            await embedded.stop()
        raise
    return database, embedded


async def current_stream_token(stores: Stores) -> StreamToken:
    """Where every stream stands in the database: the notifier starts from here."""
    return StreamToken(
        events=await stores.events.max_stream_ordering(),
        account_data=await stores.account_data.max_position(),
        to_device=await stores.to_device.max_position(),
        receipts=await stores.receipts.max_position(),
        presence=await stores.presence.max_position(),
        push_rules=await stores.push_rules.max_position(),
    )


def outbound_settings(config: HomeserverConfig) -> OutboundSettings:
    return OutboundSettings(
        allowed_private_ranges=parse_networks(config.outbound.allowed_private_ranges),
        request_timeout_s=config.outbound.request_timeout_ms / 1000,
        connect_timeout_s=config.outbound.connect_timeout_ms / 1000,
        extra_ca_certificates=str(config.resolve_path(extra_ca))
        if (extra_ca := config.outbound.extra_ca_certificates_path)
        else None,
    )


def delivery_settings(config: HomeserverConfig) -> DeliverySettings:
    push = config.push
    return DeliverySettings(
        enabled=push.enabled,
        include_content=push.include_content,
        group_unread_count_by_room=push.group_unread_count_by_room,
        max_concurrent=push.max_concurrent_deliveries,
        retry_initial_s=push.retry_initial_backoff_ms / 1000,
        retry_max_s=push.retry_max_backoff_ms / 1000,
    )


async def build_services(
    config: HomeserverConfig,
    stores: Stores,
    clock: Clock,
    signing_key: SigningKey,
    outbound: OutboundClient | None = None,
) -> Services:
    # The client opens its connections on first use: one made here for a command that
    # sends nothing needs no closing.
    outbound = outbound or OutboundClient(outbound_settings(config))
    token = await current_stream_token(stores)
    notifier = LocalNotifier(
        token,
        presence_wake_interval_s=config.presence.wake_interval_ms / 1000,
        presence_wake_room_limit=config.presence.wake_room_waiting_limit,
    )
    limits = config.rate_limiting
    ratelimiter = RateLimiter(
        clock,
        limits.enabled,
        {
            name: Bucket(getattr(limits, name).per_second, getattr(limits, name).burst_count)
            for name in (
                "login_per_ip",
                "login_per_account",
                "login_failures_per_account",
                "registration_per_ip",
                "message_per_user",
            )
        },
    )
    hasher = PasswordHasher(config.password.hash_cost)
    auth = AuthService(
        stores,
        clock,
        config.auth.refreshable_access_token_lifetime_ms,
        config.auth.refresh_token_lifetime_ms,
        config.auth.token_cache_size,
    )
    devices = DeviceService(stores, clock, auth)
    uia = UiaService(
        stores,
        clock,
        hasher,
        config.server_name,
        config.auth.uia_session_timeout_ms,
        config.registration.registration_tokens,
    )
    registration = RegistrationService(
        stores,
        clock,
        hasher,
        auth,
        devices,
        uia,
        config.server_name,
        RegistrationPolicy(
            enabled=config.registration.enabled,
            require_registration_token=config.registration.require_registration_token,
            allow_guests=config.registration.allow_guests,
            reserved_localparts=frozenset(config.registration.reserved_localparts),
            password_min_length=config.password.min_length,
        ),
    )
    loader = EventLoader(stores, config.caches.event_cache_entries)
    events_writer = StreamWriter(Stream.EVENTS, token.events, notifier)
    persister = EventPersister(stores, events_writer)
    creation = EventCreationService(
        stores, loader, persister, clock, config.server_name, signing_key
    )
    aliases = AliasService(stores, clock, config.server_name)
    memberships = UserMemberships(stores, notifier)
    membership = MembershipService(stores, creation, aliases, memberships, config.server_name)
    ignored = IgnoredUsers(stores, notifier)
    history = RoomHistoryService(stores, loader, clock, ignored)
    push_rules = PushRuleService(
        stores,
        StreamWriter(Stream.PUSH_RULES, token.push_rules, notifier),
        LEGACY_DEFAULT_RULES if config.push.legacy_mention_rules else DEFAULT_RULES,
    )
    unread_counts = UnreadCountCache(config.caches.unread_count_entries)
    push_evaluator = PushEvaluator(
        stores,
        loader,
        push_rules,
        ignored,
        events_writer,
        notifier,
        config.server_name,
        unread_counts,
    )
    notifications = NotificationService(
        stores,
        loader,
        history,
        push_evaluator,
        clock,
        config.push.notification_retention_ms,
        unread_counts,
    )
    profiles = ProfileService(stores, config.server_name)
    profiles.on_change(membership.update_profile_in_rooms)
    account_data = AccountDataService(
        stores, StreamWriter(Stream.ACCOUNT_DATA, token.account_data, notifier)
    )
    account_data.serve(PUSH_RULES, push_rules.get_all)
    room_upgrade = RoomUpgradeService(stores, loader, creation, membership, aliases, account_data)
    room_upgrade.on_upgrade(push_rules.copy_room_rules_for_users)
    to_device = ToDeviceService(
        stores,
        clock,
        StreamWriter(Stream.TO_DEVICE, token.to_device, notifier),
        config.server_name,
    )
    push_delivery = PushDelivery(stores, loader, outbound, clock, delivery_settings(config))
    push_evaluator.on_notified(push_delivery.on_new_actions)
    receipts = ReceiptService(
        stores,
        loader,
        clock,
        StreamWriter(Stream.RECEIPTS, token.receipts, notifier),
        account_data,
        push_delivery,
        unread_counts,
    )
    typing = TypingService(stores, clock, StreamWriter(Stream.TYPING, 0, notifier))
    presence = PresenceService(
        stores,
        clock,
        StreamWriter(Stream.PRESENCE, token.presence, notifier),
        notifier,
        memberships,
        config.server_name,
        config.presence.enabled,
    )
    return Services(
        server_name=config.server_name,
        sync=SyncService(
            stores,
            loader,
            history,
            ignored,
            account_data,
            to_device,
            receipts,
            typing,
            presence,
            memberships,
            RecentRoomEvents(stores),
            notifier,
            clock,
            notifications,
            push_rules,
        ),
        push_rules=push_rules,
        push_evaluator=push_evaluator,
        notifications=notifications,
        presence=presence,
        receipts=receipts,
        typing=typing,
        events=loader,
        event_creation=creation,
        aliases=aliases,
        membership=membership,
        room_creation=RoomCreationService(
            creation, membership, aliases, config.rooms.default_room_version
        ),
        room_events=RoomEventsService(stores, loader, creation, ratelimiter, config.server_name),
        room_history=history,
        health=HealthService(stores),
        event_stream=EventStreamService(stores, history, memberships, notifier, clock),
        directory=DirectoryService(stores, loader, aliases, history, creation),
        public_rooms=PublicRoomsService(stores, loader),
        room_upgrade=room_upgrade,
        discovery=Discovery.build(
            config.server_name, config.client_base_url, config.well_known.server_delegation
        ),
        clock=clock,
        ratelimiter=ratelimiter,
        auth=auth,
        devices=devices,
        uia=uia,
        registration=registration,
        login=LoginService(
            stores,
            hasher,
            auth,
            devices,
            ratelimiter,
            config.server_name,
            config.password.login_enabled,
        ),
        account=AccountService(stores, hasher, uia, devices, registration),
        profiles=profiles,
        pushers=PusherService(stores, clock, outbound.address_filter),
        push_delivery=push_delivery,
        filters=FilterService(stores),
        account_data=account_data,
        to_device=to_device,
        notifier=notifier,
        capabilities=CapabilitiesService(
            config.password.login_enabled,
            config.rooms.default_room_version,
            sorted(KNOWN_ROOM_VERSIONS, key=int),
        ),
    )


def build_web_app(config: HomeserverConfig, services: Services) -> web.Application:
    app = web.Application(
        middlewares=[matrix_middleware], client_max_size=config.http.max_request_body_bytes
    )
    app[SERVICES_KEY] = services
    app[TRUST_X_FORWARDED_KEY] = config.http.x_forwarded
    install_client_api(app)
    observability.install(app, metrics_enabled=config.metrics.enabled)
    return app


@dataclass
class _Running:
    database: Database
    embedded: EmbeddedPostgres | None
    services: Services
    runner: web.AppRunner
    housekeeping: PeriodicTask
    outbound: OutboundClient


class Homeserver:
    """One homeserver process: `start()` brings everything up, `stop()` takes it down."""

    def __init__(self, config: HomeserverConfig, clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock or Clock()
        self.signing_key: SigningKey | None = None
        self._running: _Running | None = None

    @property
    def services(self) -> Services:
        assert self._running is not None
        return self._running.services

    @property
    def port(self) -> int:
        assert self._running is not None
        address = self._running.runner.addresses[0]
        return int(address[1])

    async def start(self) -> None:
        self.signing_key = load_or_create_signing_key(
            self.config.resolve_path(self.config.signing_key_path)
        )
        database, embedded = await open_database(self.config)
        stores = Stores.build(database)
        outbound = OutboundClient(outbound_settings(self.config))
        services = await build_services(self.config, stores, self.clock, self.signing_key, outbound)
        runner = web.AppRunner(
            build_web_app(self.config, services),
            access_log=None,
            shutdown_timeout=self.config.http.shutdown_grace_period_ms / 1000,
        )
        await services.push_evaluator.start()
        await runner.setup()
        site = web.TCPSite(
            runner,
            self.config.http.bind_address,
            self.config.http.port,
            ssl_context=self._tls_context(),
            backlog=self.config.http.listen_backlog,
        )
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            await database.close()
            if embedded is not None:
                await embedded.stop()
            raise
        services.devices.start()
        services.presence.start()
        housekeeping = PeriodicTask(
            "housekeeping",
            _HOUSEKEEPING_INTERVAL_S,
            _jobs(services.uia.expire_old_sessions, services.notifications.prune),
        )
        housekeeping.start()
        services.push_delivery.start()
        self._running = _Running(database, embedded, services, runner, housekeeping, outbound)
        log.info(
            "homeserver started",
            server_name=self.config.server_name,
            address=f"http://{self.config.http.bind_address}:{self.port}",
        )

    def _tls_context(self) -> ssl.SSLContext | None:
        http = self.config.http
        if http.tls_certificate_path is None or http.tls_private_key_path is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(
            self.config.resolve_path(http.tls_certificate_path),
            self.config.resolve_path(http.tls_private_key_path),
        )
        return context

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish (bounded), then release resources."""
        running, self._running = self._running, None
        if running is None:
            return
        log.info("homeserver stopping")
        await running.runner.cleanup()
        await running.housekeeping.stop()
        await running.services.devices.stop()
        await running.services.presence.stop()
        await running.services.push_evaluator.stop()
        await running.services.push_delivery.stop()
        await running.outbound.close()
        await running.database.close()
        if running.embedded is not None:
            await running.embedded.stop()
        log.info("homeserver stopped")


def _jobs(*jobs: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
    """One periodic job that runs several, each whatever became of the others."""

    async def run() -> None:
        for job in jobs:
            try:
                await job()
            except Exception:
                log.exception("housekeeping job failed", job=getattr(job, "__qualname__", job))

    return run
