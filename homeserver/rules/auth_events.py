"""Which state events a new event cites as its auth events (spec: server-server API,
"Auth events selection")."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeserver.types.event import (
    CREATE,
    JOIN_RULES,
    MEMBER,
    POWER_LEVELS,
    THIRD_PARTY_INVITE,
    StateKey,
)
from homeserver.types.room_versions import RoomVersion


def auth_types_for_event(
    room_version: RoomVersion,
    event_type: str,
    sender: str,
    state_key: str | None,
    content: Mapping[str, Any],
) -> list[StateKey]:
    if event_type == CREATE and state_key == "":
        return []
    # v12: the create event is implied by the room ID, never cited.
    keys: list[StateKey] = [] if room_version.room_id_from_create_event else [(CREATE, "")]
    keys += [(POWER_LEVELS, ""), (MEMBER, sender)]
    if event_type == MEMBER and state_key is not None:
        keys.append((MEMBER, state_key))
        membership = content.get("membership")
        if membership in ("join", "invite", "knock"):
            keys.append((JOIN_RULES, ""))
        third_party = content.get("third_party_invite")
        if membership == "invite" and isinstance(third_party, Mapping):
            signed = third_party.get("signed")
            token = signed.get("token") if isinstance(signed, Mapping) else None
            if isinstance(token, str):
                keys.append((THIRD_PARTY_INVITE, token))
        via = content.get("join_authorised_via_users_server")
        if room_version.restricted_join_rule and membership == "join" and isinstance(via, str):
            keys.append((MEMBER, via))
    return list(dict.fromkeys(keys))


def select_auth_event_ids(
    room_version: RoomVersion,
    event_type: str,
    sender: str,
    state_key: str | None,
    content: Mapping[str, Any],
    state: Mapping[StateKey, str],
) -> list[str]:
    """The event IDs, from the state the event is sent in, that the event cites."""
    keys = auth_types_for_event(room_version, event_type, sender, state_key, content)
    return [state[key] for key in keys if key in state]
