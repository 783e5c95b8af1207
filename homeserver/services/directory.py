"""Alias management and directory visibility with the room-level permission checks."""

from __future__ import annotations

from homeserver.rules.power_levels import PowerLevels
from homeserver.services.aliases import AliasService
from homeserver.services.event_loader import EventLoader
from homeserver.services.room_history import RoomHistoryService
from homeserver.types.errors import Forbidden, NotFound
from homeserver.types.event import CREATE, POWER_LEVELS
from homeserver.types.requester import Requester
from storage.stores import Stores


class DirectoryService:
    def __init__(
        self,
        stores: Stores,
        loader: EventLoader,
        aliases: AliasService,
        history: RoomHistoryService,
    ) -> None:
        self.stores = stores
        self.loader = loader
        self.aliases = aliases
        self.history = history

    async def _power(self, room_id: str) -> PowerLevels:
        version = await self.loader.room_version(room_id)
        if version is None:
            raise NotFound("Unknown room")
        state = await self.stores.rooms.current_state_ids(
            room_id, [(POWER_LEVELS, ""), (CREATE, "")]
        )
        events = await self.loader.events(state.values())
        return PowerLevels(
            version,
            events.get(state.get((POWER_LEVELS, ""), "")),
            events.get(state.get((CREATE, ""), "")),
        )

    async def _require_member(self, room_id: str, user_id: str) -> None:
        membership = await self.stores.rooms.membership(room_id, user_id)
        if membership is None or membership.membership != "join":
            raise Forbidden("You are not in this room")

    async def create_alias(self, requester: Requester, alias: str, room_id: str) -> None:
        if await self.loader.room_version(room_id) is None:
            raise NotFound("Unknown room")
        await self._require_member(room_id, requester.user_id)
        await self.aliases.create(alias, room_id, requester.user_id)

    async def room_aliases(self, requester: Requester, room_id: str) -> list[str]:
        # Whoever may see the room's state may see its aliases.
        await self.history.state_snapshot(room_id, requester.user_id)
        return await self.aliases.for_room(room_id)

    async def visibility(self, room_id: str) -> str:
        if await self.loader.room_version(room_id) is None:
            raise NotFound("Unknown room")
        return "public" if await self.stores.aliases.is_published(room_id) else "private"

    async def set_visibility(self, requester: Requester, room_id: str, visibility: str) -> None:
        power = await self._power(room_id)
        user = await self.stores.users.get(requester.user_id)
        is_admin = user is not None and user.is_admin
        # Publishing needs the power to change the canonical alias, as Synapse asks.
        if not is_admin:
            await self._require_member(room_id, requester.user_id)
            needed = power.event_level("m.room.canonical_alias", True)
            if power.user_level(requester.user_id) < needed:
                raise Forbidden("Not allowed to change the room's directory visibility")
        if visibility == "public":
            await self.aliases.publish(room_id)
        else:
            await self.stores.aliases.unpublish(room_id)
