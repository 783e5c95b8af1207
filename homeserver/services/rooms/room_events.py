"""What users send into rooms: messages, state and redactions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

from homeserver.rules.power_levels import PowerLevels
from homeserver.services.common.ratelimit import RateLimiter
from homeserver.services.rooms.aliases import parse_alias
from homeserver.services.rooms.event_creation import EventCreationService, SentEvent
from homeserver.services.rooms.event_loader import EventLoader
from homeserver.services.rooms.event_persistence import TxnKey
from homeserver.types.errors import (
    BadRequest,
    Codes,
    Forbidden,
    LimitExceeded,
    MatrixError,
    NotFound,
)
from homeserver.types.event import (
    CANONICAL_ALIAS,
    CREATE,
    GUEST_ACCESS,
    MEMBER,
    POWER_LEVELS,
    REDACTION,
)
from homeserver.types.requester import Requester
from storage.stores import Stores

log = structlog.get_logger(__name__)


class RoomEventsService:
    def __init__(
        self,
        stores: Stores,
        loader: EventLoader,
        creation: EventCreationService,
        ratelimiter: RateLimiter,
        server_name: str,
    ) -> None:
        self.server_name = server_name
        self.stores = stores
        self.loader = loader
        self.creation = creation
        self.ratelimiter = ratelimiter

    async def _require_joined(self, room_id: str, user_id: str) -> None:
        membership = await self.stores.rooms.membership(room_id, user_id)
        if membership is None or membership.membership != "join":
            raise Forbidden(f"{user_id} is not in room {room_id}")

    @staticmethod
    def _txn(requester: Requester, txn_id: str | None) -> TxnKey | None:
        return (
            TxnKey(requester.user_id, requester.device_id, txn_id) if txn_id is not None else None
        )

    async def send_message(
        self,
        requester: Requester,
        room_id: str,
        event_type: str,
        content: Mapping[str, Any],
        txn_id: str | None,
    ) -> SentEvent:
        """`txn_id` None is the old form without one: every call is a new event."""
        try:
            self.ratelimiter.check("message_per_user", requester.user_id)
        except LimitExceeded:
            # A retry of an acknowledged send is answered, not refused. The transaction is
            # looked up only here: creating the event looks it up again under the room lock.
            if txn_id is None or not await self.stores.events.event_txn(
                requester.user_id, requester.device_id, txn_id
            ):
                raise
        if event_type == REDACTION:
            redacts = content.get("redacts")
            if not isinstance(redacts, str):
                raise BadRequest("A redaction needs `redacts`", Codes.BAD_JSON)
            return await self.redact(requester, room_id, redacts, content, txn_id)
        if await self.loader.room_version(room_id) is None:
            # As for a known room the user is not in.
            raise Forbidden(f"{requester.user_id} is not in room {room_id}")
        # The auth rules refuse a sender who is not joined: no separate membership read.
        return await self.creation.send(
            room_id, requester.user_id, event_type, content, txn=self._txn(requester, txn_id)
        )

    async def set_state(
        self,
        requester: Requester,
        room_id: str,
        event_type: str,
        state_key: str,
        content: Mapping[str, Any],
    ) -> SentEvent:
        if event_type == CREATE:
            raise Forbidden("The create event cannot be replaced")
        if event_type != MEMBER:
            await self._require_joined(room_id, requester.user_id)
        if event_type == CANONICAL_ALIAS:
            await self._check_canonical_alias(room_id, content)
        sent = await self.creation.send(
            room_id, requester.user_id, event_type, content, state_key=state_key
        )
        if event_type == GUEST_ACCESS and content.get("guest_access") != "can_join":
            await self._remove_guests(room_id)
        return sent

    async def _remove_guests(self, room_id: str) -> None:
        """Guests may only be in rooms that let them join: once a room stops, its guests
        leave it (as Synapse does)."""
        for member in await self.stores.rooms.members(room_id, ["join"]):
            user = await self.stores.users.get(member.user_id)
            if user is None or not user.is_guest:
                continue
            try:
                await self.creation.send(
                    room_id,
                    member.user_id,
                    MEMBER,
                    {"membership": "leave", "reason": "Guest access revoked"},
                    state_key=member.user_id,
                )
            except MatrixError as error:
                log.warning("guest not removed", room_id=room_id, error=error.message)

    async def _check_canonical_alias(self, room_id: str, content: Mapping[str, Any]) -> None:
        """Every alias named must be valid and, if it is ours, point at this room."""
        aliases: list[Any] = []
        if "alias" in content and content["alias"] is not None:
            aliases.append(content["alias"])
        alt = content.get("alt_aliases", [])
        if not isinstance(alt, list):
            raise BadRequest("alt_aliases must be a list", Codes.INVALID_PARAM)
        aliases.extend(alt)
        for alias in aliases:
            if not isinstance(alias, str):
                raise BadRequest("Aliases must be strings", Codes.INVALID_PARAM)
            _, server = parse_alias(alias)
            if server != self.server_name:
                # Aliases of other servers cannot be checked without federation.
                continue
            record = await self.stores.aliases.get(alias)
            if record is None or record.room_id != room_id:
                raise BadRequest(f"The alias {alias} does not point to this room", Codes.BAD_ALIAS)

    async def redact(
        self,
        requester: Requester,
        room_id: str,
        event_id: str,
        content: Mapping[str, Any],
        txn_id: str | None,
    ) -> SentEvent:
        """Spec "Redactions": one's own events, or anyone's with the redact power level."""
        await self._require_joined(room_id, requester.user_id)
        target = (await self.loader.load_many([event_id])).get(event_id)
        if target is None:
            raise NotFound("Event not found")
        if target.event.room_id != room_id:
            # As Synapse: the spec names no error for it.
            raise BadRequest("Cannot redact an event of another room", Codes.INVALID_PARAM)
        if target.event.sender != requester.user_id:
            state = await self.stores.rooms.current_state_ids(
                room_id, [(POWER_LEVELS, ""), (CREATE, "")]
            )
            events = await self.loader.events(state.values())
            version = target.event.room_version
            power = PowerLevels(
                version,
                events.get(state.get((POWER_LEVELS, ""), "")),
                events.get(state.get((CREATE, ""), "")),
            )
            if power.user_level(requester.user_id) < power.named("redact"):
                raise Forbidden("You may only redact your own events")
        body = {k: v for k, v in content.items() if k != "redacts"}
        return await self.creation.send(
            room_id,
            requester.user_id,
            REDACTION,
            body,
            txn=self._txn(requester, txn_id),
            redacts=event_id,
        )
