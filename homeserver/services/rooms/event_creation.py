"""Creating events on this server: choose prev and auth events, build, sign, authorise,
persist. Everything a local user does to a room goes through `send`."""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from signedjson.key import SigningKey

from homeserver.rules.auth_events import auth_types_for_event, select_auth_event_ids
from homeserver.rules.auth_rules import check_auth
from homeserver.rules.events import MAX_EVENT_BYTES, EventFormatError, build_local_event
from homeserver.rules.types import AuthError
from homeserver.services.common.clock import Clock
from homeserver.services.rooms.event_loader import EventLoader
from homeserver.services.rooms.event_persistence import EventPersister, TxnKey
from homeserver.types.errors import BadRequest, Codes, Forbidden, MatrixError, NotFound
from homeserver.types.event import CREATE, Event, StateKey
from homeserver.types.room_versions import RoomVersion
from storage.stores import Stores

_ROOM_ID_ALPHABET = string.ascii_letters


@dataclass(frozen=True, slots=True)
class SentEvent:
    event: Event
    stream_ordering: int


class EventCreationService:
    def __init__(
        self,
        stores: Stores,
        loader: EventLoader,
        persister: EventPersister,
        clock: Clock,
        server_name: str,
        signing_key: SigningKey,
    ) -> None:
        self.stores = stores
        self.loader = loader
        self.persister = persister
        self.clock = clock
        self.server_name = server_name
        self.signing_key = signing_key

    def _build(self, version: RoomVersion, **fields: Any) -> Event:
        try:
            return build_local_event(
                version, server_name=self.server_name, signing_key=self.signing_key, **fields
            )
        except EventFormatError as error:
            if "bytes" in str(error):
                raise MatrixError(
                    413, Codes.TOO_LARGE, f"Event too large (limit {MAX_EVENT_BYTES} bytes)"
                ) from None
            raise BadRequest(f"Invalid event: {error}", Codes.BAD_JSON) from None

    def new_room_id(self) -> str:
        """A fresh room ID, for room versions where the create event does not make it."""
        local = "".join(secrets.choice(_ROOM_ID_ALPHABET) for _ in range(18))
        return f"!{local}:{self.server_name}"

    async def create_room(
        self,
        version: RoomVersion,
        creator: str,
        content: Mapping[str, Any],
        room_id: str | None = None,
    ) -> SentEvent:
        """Persist the create event of a new room; the room ID comes from it in v12, and is
        otherwise `room_id` when the caller had to know it beforehand, or a fresh one."""
        if version.room_id_from_create_event:
            room_id = None
        elif room_id is None:
            room_id = self.new_room_id()
        event = self._build(
            version,
            room_id=room_id,
            sender=creator,
            event_type=CREATE,
            content=content,
            prev_event_ids=[],
            auth_event_ids=[],
            depth=1,
            origin_server_ts=self.clock.time_ms(),
            state_key="",
        )
        try:
            check_auth(event, {})
        except AuthError as error:
            raise BadRequest(f"Invalid create event: {error}", Codes.BAD_JSON) from None
        async with self.persister.room_lock(event.room_id):
            persisted = await self.persister.persist(
                event, None, created_room_version=version.identifier, now_ms=self.clock.time_ms()
            )
        return SentEvent(event, persisted.stream_ordering)

    async def send(
        self,
        room_id: str,
        sender: str,
        event_type: str,
        content: Mapping[str, Any],
        *,
        state_key: str | None = None,
        txn: TxnKey | None = None,
        redacts: str | None = None,
    ) -> SentEvent:
        """Create and persist an event; raises M_FORBIDDEN when the auth rules refuse it.

        A repeated transaction ID of the same device returns the event sent the first time,
        and a state event identical to the current one (same sender and content) returns
        that one.
        """
        version = await self.loader.room_version(room_id)
        if version is None:
            raise NotFound("Unknown room")
        # Only the state that authorises the event, and the state it replaces, are read:
        # not the whole state of a room of thousands.
        wanted = auth_types_for_event(version, event_type, sender, state_key, content)
        if state_key is not None:
            wanted.append((event_type, state_key))
        if version.room_id_from_create_event:
            wanted.append((CREATE, ""))
        async with self.persister.room_lock(room_id):
            context = await self.stores.events.send_context(
                room_id, wanted, (txn.user_id, txn.device_id, txn.txn_id) if txn else None
            )
            if context.earlier_event_id is not None:
                loaded = await self.loader.load(context.earlier_event_id)
                return SentEvent(loaded.event, loaded.stream_ordering)
            extremities = context.extremities
            state = context.state_ids
            if state_key is not None and (current_id := state.get((event_type, state_key))):
                # Setting state to what it already is, by the same sender, is a no-op
                # (as in Synapse): the client gets the event that is already there.
                current = await self.loader.load(current_id)
                if current.event.sender == sender and dict(current.event.content) == dict(content):
                    return SentEvent(current.event, current.stream_ordering)
            auth_ids = select_auth_event_ids(version, event_type, sender, state_key, content, state)
            event = self._build(
                version,
                room_id=room_id,
                sender=sender,
                event_type=event_type,
                content=content,
                prev_event_ids=[e.event_id for e in extremities][:20],
                auth_event_ids=auth_ids,
                depth=max((e.depth for e in extremities), default=0) + 1,
                origin_server_ts=self.clock.time_ms(),
                state_key=state_key,
                redacts=redacts,
            )
            await self._authorise(event, auth_ids, state)
            persisted = await self.persister.persist(
                event, extremities[0].state_group, txn=txn, now_ms=self.clock.time_ms()
            )
        return SentEvent(event, persisted.stream_ordering)

    async def _authorise(
        self, event: Event, auth_ids: list[str], state: Mapping[StateKey, str]
    ) -> None:
        wanted = list(auth_ids)
        if event.room_version.room_id_from_create_event and (CREATE, "") in state:
            wanted.append(state[(CREATE, "")])
        auth_events = {e.state_pair: e for e in (await self.loader.events(wanted)).values()}
        try:
            check_auth(event, auth_events)
        except AuthError as error:
            raise Forbidden(str(error)) from None
