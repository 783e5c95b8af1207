"""Persisting room events: atomically, one event per room at a time.

Writes the event, its DAG edges, the forward extremities and its transaction ID (a message
writes nothing else, in one statement); a state event also writes its state snapshot, the
current state and memberships, in one transaction. The position on the events stream is
announced only after commit (and only once every earlier position is done, see
StreamWriter).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from homeserver.services.common.keyed_lock import KeyedLock
from homeserver.streams.writer import StreamWriter
from storage.stores import Stores
from storage.stores.events import EventTxn, NewEventRow
from storage.stores.rooms import MembershipChange

StateKey = tuple[str, str]
MEMBER = "m.room.member"


class PersistableEvent(Protocol):
    """The parts of an engine `Event` that persistence reads."""

    @property
    def event_id(self) -> str: ...
    @property
    def room_id(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def state_key(self) -> str | None: ...
    @property
    def sender(self) -> str: ...
    @property
    def depth(self) -> int: ...
    @property
    def origin_server_ts(self) -> int: ...
    @property
    def content(self) -> Mapping[str, Any]: ...
    @property
    def prev_event_ids(self) -> Sequence[str]: ...
    @property
    def auth_event_ids(self) -> Sequence[str]: ...
    @property
    def redacts(self) -> str | None: ...
    def canonical_json(self) -> str: ...


@dataclass(frozen=True, slots=True)
class TxnKey:
    """A client's transaction ID, scoped to its device (spec: transaction identifiers)."""

    user_id: str
    device_id: str
    txn_id: str


@dataclass(frozen=True, slots=True)
class Persisted:
    event_id: str
    stream_ordering: int
    state_group: int


class EventPersister:
    def __init__(self, stores: Stores, writer: StreamWriter) -> None:
        self.stores = stores
        self.writer = writer
        self._room_locks = KeyedLock()

    def room_lock(self, room_id: str) -> AbstractAsyncContextManager[None]:
        """Serialises the events of one room: choosing prev_events, authorising against the
        current state and persisting must not interleave with another send to that room."""
        return self._room_locks.hold(room_id)

    async def persist(
        self,
        event: PersistableEvent,
        state_group_before: int | None,
        *,
        created_room_version: str | None = None,
        txn: TxnKey | None = None,
        now_ms: int = 0,
    ) -> Persisted:
        """Persist an authorised event whose prev_events are the room's forward extremities.

        The caller holds `room_lock(event.room_id)`. `state_group_before` is the snapshot of
        the state the event was authorised against (None only for a create event).
        `created_room_version` is given with the create event to register the room.
        """
        position = await self.writer.allocate(self.stores.events.next_stream_orderings)

        group = state_group_before
        try:
            if event.state_key is None:
                assert group is not None, "only a create event starts without state"
                # A single statement: atomic without a transaction around it.
                await self.stores.events.insert(_new_row(event, position, group, txn, now_ms))
            else:
                group = await self._persist_state_event(
                    event, state_group_before, created_room_version, position, txn, now_ms
                )
        except BaseException:
            self.writer.abandoned(position)
            raise
        users = [event.state_key] if event.type == MEMBER and event.state_key else []
        self.writer.committed(position, rooms=[event.room_id], users=users)
        return Persisted(event.event_id, position, group)

    async def _persist_state_event(
        self,
        event: PersistableEvent,
        state_group_before: int | None,
        created_room_version: str | None,
        position: int,
        txn: TxnKey | None,
        now_ms: int,
    ) -> int:
        """A state event also makes a state snapshot and changes the current state (and the
        memberships), all in one transaction; returns the new snapshot."""
        assert event.state_key is not None
        async with self.stores.db.transaction() as conn:
            if created_room_version is not None:
                await self.stores.rooms.create(
                    event.room_id, created_room_version, event.sender, now_ms, conn
                )
            delta = {(event.type, event.state_key): event.event_id}
            group = await self.stores.state.create_group(
                event.room_id, state_group_before, delta, conn
            )
            await self.stores.events.insert(_new_row(event, position, group, txn, now_ms), conn)
            await self.stores.rooms.update_current_state(event.room_id, delta, position, conn)
            if event.type == MEMBER:
                await self.stores.rooms.update_memberships(
                    event.room_id, [_membership_change(event)], position, conn
                )
        return group


def _new_row(
    event: PersistableEvent, position: int, state_group: int, txn: TxnKey | None, now_ms: int
) -> NewEventRow:
    return NewEventRow(
        event_id=event.event_id,
        room_id=event.room_id,
        type=event.type,
        state_key=event.state_key,
        sender=event.sender,
        depth=event.depth,
        origin_server_ts=event.origin_server_ts,
        contains_url=isinstance(event.content.get("url"), str),
        json=event.canonical_json(),
        prev_event_ids=event.prev_event_ids,
        auth_event_ids=event.auth_event_ids,
        redacts=event.redacts,
        stream_ordering=position,
        state_group=state_group,
        txn=EventTxn(txn.user_id, txn.device_id, txn.txn_id, now_ms) if txn else None,
    )


def _membership_change(event: PersistableEvent) -> MembershipChange:
    content = event.content
    name = content.get("displayname")
    avatar = content.get("avatar_url")
    assert event.state_key is not None
    return MembershipChange(
        user_id=event.state_key,
        membership=str(content.get("membership")),
        event_id=event.event_id,
        display_name=name if isinstance(name, str) else None,
        avatar_url=avatar if isinstance(avatar, str) else None,
    )
