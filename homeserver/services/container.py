"""Every service of one process, built once by the composition root (homeserver/app.py)."""

from __future__ import annotations

from dataclasses import dataclass

from homeserver.services.account import AccountService
from homeserver.services.account_data import AccountDataService
from homeserver.services.aliases import AliasService
from homeserver.services.auth import AuthService
from homeserver.services.capabilities import CapabilitiesService
from homeserver.services.clock import Clock
from homeserver.services.devices import DeviceService
from homeserver.services.directory import DirectoryService
from homeserver.services.discovery import Discovery
from homeserver.services.event_creation import EventCreationService
from homeserver.services.event_loader import EventLoader
from homeserver.services.event_stream import EventStreamService
from homeserver.services.filters import FilterService
from homeserver.services.health import HealthService
from homeserver.services.login import LoginService
from homeserver.services.membership import MembershipService
from homeserver.services.presence import PresenceService
from homeserver.services.profiles import ProfileService
from homeserver.services.public_rooms import PublicRoomsService
from homeserver.services.pushers import PusherService
from homeserver.services.ratelimit import RateLimiter
from homeserver.services.receipts import ReceiptService
from homeserver.services.registration import RegistrationService
from homeserver.services.room_creation import RoomCreationService
from homeserver.services.room_events import RoomEventsService
from homeserver.services.room_history import RoomHistoryService
from homeserver.services.room_upgrade import RoomUpgradeService
from homeserver.services.sync import SyncService
from homeserver.services.to_device import ToDeviceService
from homeserver.services.typing import TypingService
from homeserver.services.uia import UiaService
from homeserver.streams.notifier import StreamNotifier


@dataclass(frozen=True)
class Services:
    server_name: str
    discovery: Discovery
    clock: Clock
    ratelimiter: RateLimiter
    auth: AuthService
    devices: DeviceService
    uia: UiaService
    registration: RegistrationService
    login: LoginService
    account: AccountService
    capabilities: CapabilitiesService
    profiles: ProfileService
    pushers: PusherService
    filters: FilterService
    account_data: AccountDataService
    to_device: ToDeviceService
    notifier: StreamNotifier
    events: EventLoader
    event_creation: EventCreationService
    aliases: AliasService
    membership: MembershipService
    room_creation: RoomCreationService
    room_events: RoomEventsService
    room_history: RoomHistoryService
    health: HealthService
    event_stream: EventStreamService
    directory: DirectoryService
    public_rooms: PublicRoomsService
    room_upgrade: RoomUpgradeService
    sync: SyncService
    receipts: ReceiptService
    typing: TypingService
    presence: PresenceService
