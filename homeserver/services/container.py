"""Every service of one process, built once by the composition root (homeserver/app.py)."""

from __future__ import annotations

from dataclasses import dataclass

from homeserver.services.accounts.account import AccountService
from homeserver.services.accounts.account_data import AccountDataService
from homeserver.services.accounts.auth import AuthService
from homeserver.services.accounts.capabilities import CapabilitiesService
from homeserver.services.accounts.devices import DeviceService
from homeserver.services.accounts.discovery import Discovery
from homeserver.services.accounts.login import LoginService
from homeserver.services.accounts.profiles import ProfileService
from homeserver.services.accounts.registration import RegistrationService
from homeserver.services.accounts.uia import UiaService
from homeserver.services.common.clock import Clock
from homeserver.services.common.health import HealthService
from homeserver.services.common.ratelimit import RateLimiter
from homeserver.services.push.notifications import NotificationService
from homeserver.services.push.push_delivery import PushDelivery
from homeserver.services.push.push_evaluator import PushEvaluator
from homeserver.services.push.push_rules import PushRuleService
from homeserver.services.push.pushers import PusherService
from homeserver.services.rooms.aliases import AliasService
from homeserver.services.rooms.directory import DirectoryService
from homeserver.services.rooms.event_creation import EventCreationService
from homeserver.services.rooms.event_loader import EventLoader
from homeserver.services.rooms.membership import MembershipService
from homeserver.services.rooms.public_rooms import PublicRoomsService
from homeserver.services.rooms.room_creation import RoomCreationService
from homeserver.services.rooms.room_events import RoomEventsService
from homeserver.services.rooms.room_history import RoomHistoryService
from homeserver.services.rooms.room_upgrade import RoomUpgradeService
from homeserver.services.sync.event_stream import EventStreamService
from homeserver.services.sync.filters import FilterService
from homeserver.services.sync.presence import PresenceService
from homeserver.services.sync.receipts import ReceiptService
from homeserver.services.sync.sync import SyncService
from homeserver.services.sync.to_device import ToDeviceService
from homeserver.services.sync.typing import TypingService
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
    push_delivery: PushDelivery
    push_rules: PushRuleService
    push_evaluator: PushEvaluator
    notifications: NotificationService
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
