"""Alias management and directory visibility with the room-level permission checks."""

from __future__ import annotations

import structlog

from homeserver.rules.power_levels import PowerLevels
from homeserver.services.rooms.aliases import AliasService
from homeserver.services.rooms.event_creation import EventCreationService
from homeserver.services.rooms.event_loader import EventLoader
from homeserver.services.rooms.room_history import RoomHistoryService
from homeserver.types.errors import Forbidden, MatrixError, NotFound
from homeserver.types.event import CANONICAL_ALIAS, CREATE, POWER_LEVELS
from homeserver.types.requester import Requester
from storage.stores import Stores

log = structlog.get_logger(__name__)


class DirectoryService:
    def __init__(
        self,
        stores: Stores,
        loader: EventLoader,
        aliases: AliasService,
        history: RoomHistoryService,
        creation: EventCreationService,
    ) -> None:
        self.creation = creation
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

    async def delete_alias(self, requester: Requester, alias: str) -> None:
        """The alias's creator, an admin, or a member who may change the room's canonical
        alias may delete it (as Synapse allows); the canonical alias event stops naming it."""
        record = await self.aliases.lookup(alias)
        user = await self.stores.users.get(requester.user_id)
        allowed = record.creator == requester.user_id or (user is not None and user.is_admin)
        if not allowed:
            membership = await self.stores.rooms.membership(record.room_id, requester.user_id)
            if membership is not None and membership.membership == "join":
                power = await self._power(record.room_id)
                needed = power.event_level(CANONICAL_ALIAS, True)
                allowed = power.user_level(requester.user_id) >= needed
        if not allowed:
            raise Forbidden("Only the alias creator, an admin or a room moderator may delete it")
        await self.aliases.remove(alias)
        await self._forget_canonical(record.room_id, alias, requester.user_id)

    async def _forget_canonical(self, room_id: str, alias: str, user_id: str) -> None:
        ids = await self.stores.rooms.current_state_ids(room_id, [(CANONICAL_ALIAS, "")])
        event_id = ids.get((CANONICAL_ALIAS, ""))
        if event_id is None:
            return
        content = dict((await self.loader.load(event_id)).event.content)
        alt = content.get("alt_aliases")
        if content.get("alias") != alias and not (isinstance(alt, list) and alias in alt):
            return
        if content.get("alias") == alias:
            del content["alias"]
        if isinstance(alt, list):
            content["alt_aliases"] = [a for a in alt if a != alias]
        try:
            await self.creation.send(room_id, user_id, CANONICAL_ALIAS, content, state_key="")
        except MatrixError as error:
            # The alias is gone either way; the event is a courtesy to clients.
            log.info("canonical alias not updated", room_id=room_id, error=error.message)

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
