"""One store per table group, composed into `Stores`."""

from __future__ import annotations

from dataclasses import dataclass

from storage.database import Database
from storage.stores.account_data import AccountDataStore
from storage.stores.aliases import AliasStore
from storage.stores.devices import DeviceStore
from storage.stores.events import EventStore
from storage.stores.filters import FilterStore
from storage.stores.presence import PresenceStore
from storage.stores.profiles import ProfileStore
from storage.stores.push_actions import PushActionStore
from storage.stores.push_rules import PushRuleStore
from storage.stores.pushers import PusherStore
from storage.stores.receipts import ReceiptStore
from storage.stores.reports import ReportStore
from storage.stores.rooms import RoomStore
from storage.stores.state import StateStore
from storage.stores.to_device import ToDeviceStore
from storage.stores.tokens import TokenStore
from storage.stores.uia import UiaStore
from storage.stores.users import UserStore


@dataclass(frozen=True)
class Stores:
    db: Database
    users: UserStore
    devices: DeviceStore
    tokens: TokenStore
    uia: UiaStore
    profiles: ProfileStore
    pushers: PusherStore
    push_rules: PushRuleStore
    push_actions: PushActionStore
    filters: FilterStore
    account_data: AccountDataStore
    to_device: ToDeviceStore
    aliases: AliasStore
    reports: ReportStore
    receipts: ReceiptStore
    presence: PresenceStore
    events: EventStore
    state: StateStore
    rooms: RoomStore

    @classmethod
    def build(cls, db: Database) -> Stores:
        return cls(
            db=db,
            users=UserStore(db),
            devices=DeviceStore(db),
            tokens=TokenStore(db),
            uia=UiaStore(db),
            profiles=ProfileStore(db),
            pushers=PusherStore(db),
            push_rules=PushRuleStore(db),
            push_actions=PushActionStore(db),
            filters=FilterStore(db),
            account_data=AccountDataStore(db),
            to_device=ToDeviceStore(db),
            aliases=AliasStore(db),
            reports=ReportStore(db),
            receipts=ReceiptStore(db),
            presence=PresenceStore(db),
            events=EventStore(db),
            state=StateStore(db),
            rooms=RoomStore(db),
        )
