"""What a notification says beyond the event: the badge, the room's name and the sender's
display name, read from current room state.

The room name follows Synapse's choice for pushes: the room's name, else its canonical
alias, else a description of its members ("Alice and Bob", "Alice and 3 others") when
there are two or more besides the user; none for a one-to-one room (the sender's name
says it all) and none for a room the user is only invited to.
"""

from __future__ import annotations

import asyncio

from homeserver.services.push.push_gateway import RoomContext
from homeserver.services.rooms.event_loader import EventLoader
from homeserver.types.event import CANONICAL_ALIAS, Event
from homeserver.types.ids import server_name_of
from storage.stores import Stores
from storage.stores.rooms import MembershipRecord

ROOM_NAME = "m.room.name"
_PRESENT = ("join", "invite")


async def badge_count(stores: Stores, user_id: str, *, group_by_room: bool) -> int:
    """Pending invites plus, per joined room with unread notifications, one (grouped) or
    its count of them."""
    invited, unread = await asyncio.gather(
        stores.rooms.rooms_for_user(user_id, "invite"),
        stores.push_actions.rooms_with_unread(user_id),
    )
    counts = [count for count in unread.values() if count > 0]
    return len(invited) + (len(counts) if group_by_room else sum(counts))


async def room_context(
    stores: Stores, loader: EventLoader, event: Event, user_id: str
) -> RoomContext:
    room_id = event.room_id
    # Independent reads, in parallel: this sits between a pusher and its next send.
    ids, sender, own = await asyncio.gather(
        stores.rooms.current_state_ids(room_id, [(ROOM_NAME, ""), (CANONICAL_ALIAS, "")]),
        stores.rooms.membership(room_id, event.sender),
        stores.rooms.membership(room_id, user_id),
    )
    events = await loader.events(ids.values())
    name_event = events.get(ids.get((ROOM_NAME, ""), ""))
    alias_event = events.get(ids.get((CANONICAL_ALIAS, ""), ""))
    name = name_event.content.get("name") if name_event is not None else None
    alias = alias_event.content.get("alias") if alias_event is not None else None
    # Looser than what may be registered: remote servers may allow aliases we would not.
    if not isinstance(alias, str) or not alias.startswith("#") or not server_name_of(alias):
        alias = None
    sender_name = (sender.display_name if sender is not None else None) or event.sender
    room_name = name if isinstance(name, str) and name else alias
    if room_name is None:
        room_name = await _members_description(stores, room_id, user_id, own)
    return RoomContext(sender_display_name=sender_name, room_name=room_name, room_alias=alias)


async def _members_description(
    stores: Stores,
    room_id: str,
    user_id: str,
    own: MembershipRecord | None,
) -> str | None:
    if own is not None and own.membership == "invite":
        return None
    # Grouped in Postgres: a handful of rows whatever the room's size.
    counts, heroes = (await stores.rooms.summaries([room_id], user_id, heroes=2))[room_id]
    others = sum(counts.get(m, 0) for m in _PRESENT)
    if own is not None and own.membership in _PRESENT:
        others -= 1
    if others < 2 or len(heroes) < 2:
        return None
    members = await asyncio.gather(*(stores.rooms.membership(room_id, hero) for hero in heroes))
    names = [
        (member.display_name if member is not None else None) or hero
        for member, hero in zip(members, heroes, strict=True)
    ]
    if others == 2:
        return f"{names[0]} and {names[1]}"
    return f"{names[0]} and {others - 1} others"
