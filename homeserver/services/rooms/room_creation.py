"""POST /createRoom: the events the spec lists, in its order, through the normal auth path."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from homeserver.services.rooms.aliases import AliasService
from homeserver.services.rooms.event_creation import EventCreationService
from homeserver.services.rooms.membership import MembershipService
from homeserver.types.errors import BadRequest, Codes
from homeserver.types.room_versions import ROOM_VERSIONS

PRIVATE_CHAT = "private_chat"
TRUSTED_PRIVATE_CHAT = "trusted_private_chat"
PUBLIC_CHAT = "public_chat"

_PRESETS: dict[str, dict[str, str]] = {
    PRIVATE_CHAT: {"join_rule": "invite", "guest_access": "can_join"},
    TRUSTED_PRIVATE_CHAT: {"join_rule": "invite", "guest_access": "can_join"},
    PUBLIC_CHAT: {"join_rule": "public", "guest_access": "forbidden"},
}


@dataclass
class CreateRoomRequest:
    creator: str
    visibility: str = "private"
    preset: str | None = None
    room_version: str | None = None
    room_alias_name: str | None = None
    name: str | None = None
    topic: str | None = None
    invite: list[str] = field(default_factory=list)
    is_direct: bool = False
    creation_content: dict[str, Any] = field(default_factory=dict)
    initial_state: list[dict[str, Any]] = field(default_factory=list)
    power_level_content_override: dict[str, Any] | None = None


class RoomCreationService:
    def __init__(
        self,
        creation: EventCreationService,
        membership: MembershipService,
        aliases: AliasService,
        default_room_version: str,
    ) -> None:
        self.creation = creation
        self.membership = membership
        self.aliases = aliases
        self.default_room_version = default_room_version

    async def create(self, request: CreateRoomRequest) -> tuple[str, str | None]:
        """Returns the room ID and the alias created for it, if any."""
        version_id = request.room_version or self.default_room_version
        version = ROOM_VERSIONS.get(version_id)
        if version is None:
            raise BadRequest(
                f"Room version {version_id!r} is not supported", Codes.UNSUPPORTED_ROOM_VERSION
            )
        preset = request.preset or (PUBLIC_CHAT if request.visibility == "public" else PRIVATE_CHAT)
        alias = None
        if request.room_alias_name is not None:
            alias = self.aliases.local_alias(request.room_alias_name)
            await self.aliases.check_available(alias)
        creator = request.creator

        content = dict(request.creation_content)
        content["room_version"] = version_id
        if version.implicit_room_creator:
            content.pop("creator", None)
        else:
            content["creator"] = creator
        if version.additional_creators and preset == TRUSTED_PRIVATE_CHAT and request.invite:
            extra = list(content.get("additional_creators") or [])
            content["additional_creators"] = extra + [u for u in request.invite if u not in extra]
        created = await self.creation.create_room(version, creator, content)
        room_id = created.event.room_id
        creators = {creator, *(content.get("additional_creators") or [])}

        async def state(event_type: str, body: dict[str, Any], state_key: str = "") -> None:
            await self.creation.send(room_id, creator, event_type, body, state_key=state_key)

        await self.membership.join_as_creator(room_id, creator)
        await state("m.room.power_levels", self._power_levels(request, preset, version, creators))
        if alias is not None:
            await self.aliases.create(alias, room_id, creator)
            await state("m.room.canonical_alias", {"alias": alias})
        preset_state = _PRESETS[preset]
        await state("m.room.join_rules", {"join_rule": preset_state["join_rule"]})
        await state("m.room.history_visibility", {"history_visibility": "shared"})
        await state("m.room.guest_access", {"guest_access": preset_state["guest_access"]})
        for item in request.initial_state:
            await state(item["type"], item.get("content", {}), item.get("state_key", ""))
        if request.name is not None:
            await state("m.room.name", {"name": request.name})
        if request.topic is not None:
            await state("m.room.topic", {"topic": request.topic})
        for invitee in request.invite:
            await self.membership.invite(room_id, creator, invitee, is_direct=request.is_direct)
        if request.visibility == "public":
            await self.aliases.publish(room_id)
        return room_id, alias

    @staticmethod
    def _power_levels(
        request: CreateRoomRequest, preset: str, version: Any, creators: set[str]
    ) -> dict[str, Any]:
        users: dict[str, int] = {}
        if not version.additional_creators:
            users[request.creator] = 100
            if preset == TRUSTED_PRIVATE_CHAT:
                users.update({invitee: 100 for invitee in request.invite})
        tombstone = 150 if version.additional_creators else 100
        content: dict[str, Any] = {
            "users": users,
            "users_default": 0,
            "events": {
                "m.room.name": 50,
                "m.room.power_levels": 100,
                "m.room.history_visibility": 100,
                "m.room.canonical_alias": 50,
                "m.room.avatar": 50,
                "m.room.tombstone": tombstone,
                "m.room.server_acl": 100,
                "m.room.encryption": 100,
            },
            "events_default": 0,
            "state_default": 50,
            "ban": 50,
            "kick": 50,
            "redact": 50,
            "invite": 50 if preset == PUBLIC_CHAT else 0,
        }
        if request.power_level_content_override:
            content.update(request.power_level_content_override)
        if version.additional_creators and isinstance(content.get("users"), dict):
            content["users"] = {u: v for u, v in content["users"].items() if u not in creators}
        return content
