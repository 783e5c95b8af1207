"""The public room directory (GET/POST /publicRooms)."""

from __future__ import annotations

from typing import Any

from homeserver.services.rooms.event_loader import EventLoader
from homeserver.types.errors import BadRequest, Codes
from homeserver.types.event import CREATE
from storage.stores import Stores

_STATE = {
    ("m.room.name", ""): ("name", "name"),
    ("m.room.topic", ""): ("topic", "topic"),
    ("m.room.canonical_alias", ""): ("canonical_alias", "alias"),
    ("m.room.avatar", ""): ("avatar_url", "url"),
    ("m.room.join_rules", ""): ("join_rule", "join_rule"),
}
MAX_LIMIT = 500


class PublicRoomsService:
    def __init__(self, stores: Stores, loader: EventLoader) -> None:
        self.stores = stores
        self.loader = loader

    async def _entry(self, room_id: str, joined: int) -> dict[str, Any]:
        keys = [
            *_STATE,
            ("m.room.history_visibility", ""),
            ("m.room.guest_access", ""),
            (CREATE, ""),
        ]
        ids = await self.stores.rooms.current_state_ids(room_id, keys)
        events = await self.loader.events(ids.values())
        by_key = {e.state_pair: e for e in events.values()}
        entry: dict[str, Any] = {"room_id": room_id, "num_joined_members": joined}
        for key, (field, content_key) in _STATE.items():
            event = by_key.get(key)
            value = event.content.get(content_key) if event else None
            if isinstance(value, str) and value:
                entry[field] = value
        entry.setdefault("join_rule", "invite")
        hv = by_key.get(("m.room.history_visibility", ""))
        entry["world_readable"] = bool(
            hv and hv.content.get("history_visibility") == "world_readable"
        )
        guest = by_key.get(("m.room.guest_access", ""))
        entry["guest_can_join"] = bool(guest and guest.content.get("guest_access") == "can_join")
        create = by_key.get((CREATE, ""))
        room_type = create.content.get("type") if create else None
        if isinstance(room_type, str):
            entry["room_type"] = room_type
        return entry

    async def list(
        self, *, limit: int | None, since: str | None, search: str | None
    ) -> dict[str, Any]:
        offset = 0
        if since is not None:
            if not since.startswith("o") or not since[1:].isdigit():
                raise BadRequest("Invalid since token", Codes.INVALID_PARAM)
            offset = int(since[1:])
        limit = MAX_LIMIT if limit is None else max(0, min(limit, MAX_LIMIT))
        rooms = await self.stores.aliases.published_rooms()
        entries = [await self._entry(room_id, joined) for room_id, joined in rooms]
        if search:
            needle = search.casefold()
            entries = [
                e
                for e in entries
                if any(
                    needle in str(e.get(f, "")).casefold()
                    for f in ("name", "topic", "canonical_alias")
                )
            ]
        page = entries[offset : offset + limit]
        response: dict[str, Any] = {
            "chunk": page,
            "total_room_count_estimate": len(entries),
        }
        if offset + limit < len(entries):
            response["next_batch"] = f"o{offset + limit}"
        if offset > 0:
            response["prev_batch"] = f"o{max(0, offset - limit)}"
        return response
