"""Joining, inviting, leaving, kicking, banning, unbanning, knocking and forgetting."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from homeserver.services.rooms.aliases import AliasService
from homeserver.services.rooms.event_creation import EventCreationService, SentEvent
from homeserver.services.rooms.user_memberships import UserMemberships
from homeserver.types.errors import BadRequest, Codes, Forbidden, MatrixError, NotFound
from homeserver.types.event import MEMBER
from homeserver.types.ids import UserID
from storage.stores import Stores

log = structlog.get_logger(__name__)


class MembershipService:
    def __init__(
        self,
        stores: Stores,
        creation: EventCreationService,
        aliases: AliasService,
        memberships: UserMemberships,
        server_name: str,
    ) -> None:
        self.stores = stores
        self.creation = creation
        self.aliases = aliases
        self.memberships = memberships
        self.server_name = server_name

    async def _profile_fields(self, user_id: str) -> dict[str, Any]:
        profile = await self.stores.profiles.get(user_id)
        return {
            k: profile[k] for k in ("displayname", "avatar_url") if isinstance(profile.get(k), str)
        }

    async def _send(
        self,
        room_id: str,
        sender: str,
        target: str,
        membership: str,
        reason: str | None = None,
        **extra: Any,
    ) -> SentEvent:
        content: dict[str, Any] = {"membership": membership, **extra}
        if reason is not None:
            content["reason"] = reason
        return await self.creation.send(room_id, sender, MEMBER, content, state_key=target)

    async def resolve_room(self, room_id_or_alias: str) -> str:
        if room_id_or_alias.startswith("#"):
            room_id, _ = await self.aliases.resolve(room_id_or_alias)
            return room_id
        if not room_id_or_alias.startswith("!"):
            raise BadRequest("Expected a room ID or alias", Codes.INVALID_PARAM)
        return room_id_or_alias

    async def _require_local_room(self, room_id: str) -> None:
        if await self.stores.rooms.get(room_id) is None:
            # Joining rooms on other servers needs federation, which is not built yet.
            raise NotFound("Unknown room")

    async def join_as_creator(self, room_id: str, user_id: str) -> SentEvent:
        return await self._send(
            room_id, user_id, user_id, "join", **await self._profile_fields(user_id)
        )

    async def join(
        self,
        room_id_or_alias: str,
        user_id: str,
        reason: str | None = None,
        *,
        is_guest: bool = False,
        extra_content: Mapping[str, Any] | None = None,
    ) -> str:
        """`extra_content`: further keys for the member event from the request body (as
        Synapse keeps them); they may also name a displayname or avatar for this room."""
        room_id = await self.resolve_room(room_id_or_alias)
        await self._require_local_room(room_id)
        if is_guest:
            await self._require_guest_access(room_id)
        content = {**await self._profile_fields(user_id), **(extra_content or {})}
        # What the request body may not set: the membership itself, the reason (given
        # separately) and the third-party signature (not content).
        for key in ("membership", "reason", "third_party_signed"):
            content.pop(key, None)
        await self._send(room_id, user_id, user_id, "join", reason, **content)
        return room_id

    async def _require_guest_access(self, room_id: str) -> None:
        """Guests may only join rooms whose m.room.guest_access is `can_join`."""
        ids = await self.stores.rooms.current_state_ids(room_id, [("m.room.guest_access", "")])
        events = await self.creation.loader.events(ids.values())
        if not any(e.content.get("guest_access") == "can_join" for e in events.values()):
            raise MatrixError(403, Codes.GUEST_ACCESS_FORBIDDEN, "Guests cannot join this room")

    async def knock(self, room_id_or_alias: str, user_id: str, reason: str | None = None) -> str:
        room_id = await self.resolve_room(room_id_or_alias)
        await self._require_local_room(room_id)
        await self._send(
            room_id, user_id, user_id, "knock", reason, **await self._profile_fields(user_id)
        )
        return room_id

    async def invite(
        self,
        room_id: str,
        sender: str,
        target: str,
        reason: str | None = None,
        *,
        is_direct: bool = False,
    ) -> None:
        parsed = self._parse_user(target)
        if parsed.domain != self.server_name:
            raise Forbidden("Inviting users of other servers needs federation, not available yet")
        if not await self.stores.users.exists(target):
            raise NotFound(f"Unknown user {target}")
        extra: dict[str, Any] = await self._profile_fields(target)
        if is_direct:
            extra["is_direct"] = True
        await self._send(room_id, sender, target, "invite", reason, **extra)

    async def leave(self, room_id: str, user_id: str, reason: str | None = None) -> None:
        await self._require_local_room(room_id)
        current = await self.stores.rooms.membership(room_id, user_id)
        if current is None or current.membership in ("leave", "ban"):
            raise Forbidden("You are not in this room")
        await self._send(room_id, user_id, user_id, "leave", reason)

    async def kick(self, room_id: str, sender: str, target: str, reason: str | None) -> None:
        self._parse_user(target)
        current = await self.stores.rooms.membership(room_id, target)
        if current is None or current.membership not in ("join", "invite", "knock"):
            raise Forbidden(f"{target} is not in the room")
        await self._send(room_id, sender, target, "leave", reason)

    async def ban(self, room_id: str, sender: str, target: str, reason: str | None) -> None:
        self._parse_user(target)
        await self._send(room_id, sender, target, "ban", reason)

    async def unban(self, room_id: str, sender: str, target: str, reason: str | None) -> None:
        self._parse_user(target)
        current = await self.stores.rooms.membership(room_id, target)
        if current is None or current.membership != "ban":
            raise Forbidden(f"{target} is not banned")
        await self._send(room_id, sender, target, "leave", reason)

    async def update_profile_in_rooms(self, user_id: str, profile: dict[str, Any]) -> None:
        """A profile change shows in the member event of every room the user is in."""
        for room_id in await self.stores.rooms.rooms_for_user(user_id):
            current = await self.stores.rooms.membership(room_id, user_id)
            if current is None:
                continue
            content: dict[str, Any] = {"membership": "join"}
            for field in ("displayname", "avatar_url"):
                if isinstance(profile.get(field), str):
                    content[field] = profile[field]
            try:
                await self.creation.send(room_id, user_id, MEMBER, content, state_key=user_id)
            except MatrixError as error:
                log.warning("profile update refused", room_id=room_id, error=error.message)

    async def forget(self, room_id: str, user_id: str) -> None:
        current = await self.stores.rooms.membership(room_id, user_id)
        if current is None:
            raise NotFound("You have never been in this room")
        if current.membership in ("join", "invite", "knock"):
            raise BadRequest("Leave the room before forgetting it", Codes.UNKNOWN)
        await self.stores.rooms.forget(room_id, user_id)
        self.memberships.invalidate(user_id)

    @staticmethod
    def _parse_user(user_id: str) -> UserID:
        try:
            return UserID.parse(user_id)
        except ValueError:
            raise BadRequest(f"{user_id!r} is not a user ID", Codes.INVALID_PARAM) from None
