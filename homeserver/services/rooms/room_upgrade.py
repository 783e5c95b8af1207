"""POST /rooms/{roomId}/upgrade (spec: Room Upgrades, server behaviour)."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from homeserver.rules.power_levels import PowerLevels
from homeserver.services.accounts.account_data import TAG, AccountDataService
from homeserver.services.rooms.aliases import AliasService
from homeserver.services.rooms.event_creation import EventCreationService
from homeserver.services.rooms.event_loader import EventLoader
from homeserver.services.rooms.membership import MembershipService
from homeserver.types.errors import BadRequest, Codes, Forbidden, NotFound
from homeserver.types.event import CREATE, MEMBER, POWER_LEVELS
from homeserver.types.ids import server_name_of
from homeserver.types.room_versions import ROOM_VERSIONS
from storage.stores import Stores
from storage.stores.account_data import GLOBAL

log = structlog.get_logger(__name__)

# Called after an upgrade with the old and new room IDs and the local users joined to the
# old room (push rules copy each user's rules for the room).
UpgradeListener = Callable[[str, str, list[str]], Awaitable[None]]

TOMBSTONE = "m.room.tombstone"
DIRECT = "m.direct"
# State carried over to the replacement room (spec: "Server behaviour" of room upgrades).
_COPIED = (
    "m.room.server_acl",
    "m.room.encryption",
    "m.room.name",
    "m.room.avatar",
    "m.room.topic",
    "m.room.guest_access",
    "m.room.history_visibility",
    "m.room.join_rules",
    "m.room.canonical_alias",
)


class RoomUpgradeService:
    def __init__(
        self,
        stores: Stores,
        loader: EventLoader,
        creation: EventCreationService,
        membership: MembershipService,
        aliases: AliasService,
        account_data: AccountDataService,
    ) -> None:
        self.stores = stores
        self.loader = loader
        self.creation = creation
        self.membership = membership
        self.aliases = aliases
        self.account_data = account_data
        self._listeners: list[UpgradeListener] = []

    def on_upgrade(self, listener: UpgradeListener) -> None:
        self._listeners.append(listener)

    async def upgrade(
        self, room_id: str, user_id: str, new_version: str, additional_creators: list[str]
    ) -> str:
        version = ROOM_VERSIONS.get(new_version)
        if version is None:
            raise BadRequest(
                f"Room version {new_version!r} is not supported", Codes.UNSUPPORTED_ROOM_VERSION
            )
        old_version = await self.loader.room_version(room_id)
        if old_version is None:
            raise NotFound("Unknown room")
        membership = await self.stores.rooms.membership(room_id, user_id)
        if membership is None or membership.membership != "join":
            raise Forbidden("You are not in this room")
        state_ids = await self.stores.rooms.current_state_ids(room_id)
        state = await self.loader.events(state_ids.values())
        by_key = {e.state_pair: e for e in state.values()}
        old_power = PowerLevels(
            old_version, by_key.get((POWER_LEVELS, "")), by_key.get((CREATE, ""))
        )
        if old_power.user_level(user_id) < old_power.event_level(TOMBSTONE, True):
            raise Forbidden("You do not have the power to upgrade this room")

        old_create = by_key[(CREATE, "")]
        predecessor = {"room_id": room_id}
        planned_id: str | None = None
        if not version.room_id_from_create_event:
            # The predecessor names the tombstone (spec: m.room.create; from v12 on it may be
            # left out, as the new room's ID only exists once its create event does). So the
            # tombstone goes first, pointing at the ID the new room is about to have.
            planned_id = self.creation.new_room_id()
            predecessor["event_id"] = await self._tombstone(room_id, user_id, planned_id)
        content: dict[str, Any] = {"room_version": new_version, "predecessor": predecessor}
        if isinstance(old_create.content.get("type"), str):
            content["type"] = old_create.content["type"]
        if "m.federate" in old_create.content:
            content["m.federate"] = old_create.content["m.federate"]
        if version.additional_creators and additional_creators:
            content["additional_creators"] = additional_creators
        if not version.implicit_room_creator:
            content["creator"] = user_id
        created = await self.creation.create_room(version, user_id, content, planned_id)
        new_room = created.event.room_id
        creators = {user_id, *(additional_creators if version.additional_creators else [])}

        await self.membership.join_as_creator(new_room, user_id)
        power = dict(by_key[(POWER_LEVELS, "")].content) if (POWER_LEVELS, "") in by_key else {}
        users = dict(power.get("users") or {})
        if version.additional_creators:
            # Creators outrank every level and may not be listed (room version 12).
            users = {u: v for u, v in users.items() if u not in creators}
        else:
            # The upgrader needs the power to send the copied state; restored afterwards.
            # The first power levels event of a room may set any level, so one above 100
            # is kept as it was.
            users[user_id] = max(100, _int(users.get(user_id)))
        await self.creation.send(
            new_room, user_id, POWER_LEVELS, {**power, "users": users}, state_key=""
        )
        for event_type in _COPIED:
            event = by_key.get((event_type, ""))
            if event is not None:
                await self.creation.send(
                    new_room, user_id, event_type, dict(event.content), state_key=""
                )
        if not version.additional_creators and (POWER_LEVELS, "") in by_key:
            original = dict(by_key[(POWER_LEVELS, "")].content)
            if original.get("users") != users:
                await self.creation.send(new_room, user_id, POWER_LEVELS, original, state_key="")
        # Bans carry over so banned users cannot walk into the new room.
        for (event_type, target), event in by_key.items():
            if event_type == MEMBER and event.membership == "ban":
                await self.creation.send(
                    new_room, user_id, MEMBER, dict(event.content), state_key=target
                )

        if planned_id is None:
            await self._tombstone(room_id, user_id, new_room)
        await self._restrict_old_room(room_id, user_id, by_key.get((POWER_LEVELS, "")), old_power)
        await self._move_aliases(room_id, new_room, user_id)
        await self._carry_over_settings(room_id, new_room, server_name_of(user_id))
        await self._tell_listeners(room_id, new_room, server_name_of(user_id))
        return new_room

    async def _tombstone(self, room_id: str, user_id: str, replacement: str) -> str:
        sent = await self.creation.send(
            room_id,
            user_id,
            TOMBSTONE,
            {"body": "This room has been replaced", "replacement_room": replacement},
            state_key="",
        )
        return sent.event.event_id

    async def _restrict_old_room(
        self, room_id: str, user_id: str, event: Any, power: PowerLevels
    ) -> None:
        """Only those who could already speak loudly may speak or invite in the old room."""
        content = dict(event.content) if event is not None else {}
        restricted = max(50, power.named("users_default") + 1)
        if power.named("events_default") >= restricted and power.named("invite") >= restricted:
            return
        content["events_default"] = max(power.named("events_default"), restricted)
        content["invite"] = max(power.named("invite"), restricted)
        # Without the power to change levels there, the tombstone alone has to do.
        with contextlib.suppress(Forbidden):
            await self.creation.send(room_id, user_id, POWER_LEVELS, content, state_key="")

    async def _carry_over_settings(self, old_room: str, new_room: str, home: str) -> None:
        """Each local member's tags for the room, and its place in their direct chats, go
        to the new room (spec: the user's personalised settings are transferred)."""
        for member in await self.stores.rooms.members(old_room, ["join"]):
            user_id = member.user_id
            if server_name_of(user_id) != home:
                continue
            tags = await self.stores.account_data.get(user_id, old_room, TAG)
            if tags is not None:
                await self.account_data.write(user_id, new_room, TAG, tags)
            direct = await self.stores.account_data.get(user_id, GLOBAL, DIRECT)
            if direct is None:
                continue
            moved = {
                partner: [*rooms, new_room]
                if isinstance(rooms, list) and old_room in rooms
                else rooms
                for partner, rooms in direct.items()
            }
            if moved != direct:
                await self.account_data.write(user_id, GLOBAL, DIRECT, moved)

    async def _tell_listeners(self, old_room: str, new_room: str, home: str) -> None:
        """The room is upgraded whatever a listener does: its failure is logged only."""
        if not self._listeners:
            return
        members = await self.stores.rooms.members(old_room, ["join"])
        local = [m.user_id for m in members if server_name_of(m.user_id) == home]
        for listener in self._listeners:
            try:
                await listener(old_room, new_room, local)
            except Exception:
                log.exception("room upgrade listener failed", old_room=old_room, new_room=new_room)

    async def _move_aliases(self, old_room: str, new_room: str, user_id: str) -> None:
        aliases = await self.aliases.for_room(old_room)
        for alias in aliases:
            await self.stores.aliases.delete(alias)
            await self.aliases.create(alias, new_room, user_id)
        if await self.stores.aliases.is_published(old_room):
            await self.stores.aliases.unpublish(old_room)
            await self.aliases.publish(new_room)
        canonical_ids = await self.stores.rooms.current_state_ids(
            old_room, [("m.room.canonical_alias", "")]
        )
        if canonical_ids:
            with contextlib.suppress(Forbidden):
                await self.creation.send(
                    old_room, user_id, "m.room.canonical_alias", {}, state_key=""
                )


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
