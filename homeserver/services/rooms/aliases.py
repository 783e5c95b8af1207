"""Room aliases of this server and publication in the room directory."""

from __future__ import annotations

from homeserver.services.common.clock import Clock
from homeserver.types.errors import BadRequest, Codes, MatrixError, NotFound
from homeserver.types.ids import is_valid_server_name
from storage.stores import Stores
from storage.stores.aliases import AliasRecord

MAX_ALIAS_BYTES = 255


def parse_alias(alias: str) -> tuple[str, str]:
    """`#localpart:server` into its parts, or M_INVALID_PARAM."""
    if not alias.startswith("#") or ":" not in alias:
        raise BadRequest(f"{alias!r} is not a room alias", Codes.INVALID_PARAM)
    localpart, server = alias[1:].split(":", 1)
    if (
        not localpart
        or any(c.isspace() for c in localpart)
        or not is_valid_server_name(server)
        or len(alias.encode()) > MAX_ALIAS_BYTES
    ):
        raise BadRequest(f"{alias!r} is not a valid room alias", Codes.INVALID_PARAM)
    return localpart, server


class AliasService:
    def __init__(self, stores: Stores, clock: Clock, server_name: str) -> None:
        self.stores = stores
        self.clock = clock
        self.server_name = server_name

    def local_alias(self, name: str) -> str:
        if ":" in name or "#" in name:
            raise BadRequest("room_alias_name must be the localpart only", Codes.INVALID_PARAM)
        alias = f"#{name}:{self.server_name}"
        parse_alias(alias)
        return alias

    def _check_ours(self, alias: str) -> None:
        if parse_alias(alias)[1] != self.server_name:
            raise BadRequest("Aliases of other servers cannot be managed here", Codes.INVALID_PARAM)

    async def check_available(self, alias: str) -> None:
        if await self.stores.aliases.get(alias) is not None:
            raise BadRequest("Room alias already taken", Codes.ROOM_IN_USE)

    async def create(self, alias: str, room_id: str, creator: str) -> None:
        self._check_ours(alias)
        if await self.stores.rooms.get(room_id) is None:
            raise NotFound("Unknown room")
        if not await self.stores.aliases.create(alias, room_id, creator, self.clock.time_ms()):
            raise MatrixError(409, Codes.UNKNOWN, "Room alias already exists")

    async def resolve(self, alias: str) -> tuple[str, list[str]]:
        """The room an alias points to, and servers that can be asked to join it."""
        parse_alias(alias)
        record = await self.stores.aliases.get(alias)
        if record is None:
            raise NotFound(f"Room alias {alias} not found")
        return record.room_id, [self.server_name]

    async def lookup(self, alias: str) -> AliasRecord:
        """One of our aliases, with its room and creator."""
        self._check_ours(alias)
        record = await self.stores.aliases.get(alias)
        if record is None:
            raise NotFound(f"Room alias {alias} not found")
        return record

    async def remove(self, alias: str) -> None:
        await self.stores.aliases.delete(alias)

    async def for_room(self, room_id: str) -> list[str]:
        return await self.stores.aliases.for_room(room_id)

    async def publish(self, room_id: str) -> None:
        await self.stores.aliases.publish(room_id, self.clock.time_ms())
