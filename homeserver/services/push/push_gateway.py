"""What is sent to a push gateway, and how its answer is read (spec: Push Gateway API v1,
POST /_matrix/push/v1/notify; the fields' meaning is in the Client-Server push module).

Where the spec leaves room, the payloads are Synapse's, which gateways (Sygnal and
others) are built and tested against: `event_id_only` pushers get only the event and
room IDs, the priority and the counts; the badge is sent even when zero (that is what
clears it); a badge-only update keeps Synapse's empty `id`, `sender` and null `type`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from homeserver.outbound import OutboundClient
from homeserver.types.event import MEMBER, Event
from storage.stores.pushers import PusherRecord

MAX_ANSWER_BYTES = 64 * 1024
EVENT_ID_ONLY = "event_id_only"
ENCRYPTED = "m.room.encrypted"
_NOTIFY = "notify"


@dataclass(frozen=True, slots=True)
class RoomContext:
    """What a full notification says about its room and sender."""

    sender_display_name: str | None
    room_name: str | None
    room_alias: str | None


def tweaks_for(actions: Sequence[Any]) -> dict[str, Any]:
    """The `set_tweak` actions as a dict; a tweak without a value is true (spec: highlight),
    and `highlight: false` is left out since leaving it out means the same."""
    tweaks: dict[str, Any] = {}
    for action in actions:
        if isinstance(action, Mapping) and isinstance(action.get("set_tweak"), str):
            tweaks[action["set_tweak"]] = action.get("value", True)
    if tweaks.get("highlight") is False:
        del tweaks["highlight"]
    return tweaks


def notifies(actions: Sequence[Any]) -> bool:
    return _NOTIFY in actions


def priority(event: Event, tweaks: Mapping[str, Any], user_id: str) -> str:
    """`high` wakes the device: for what makes a sound or highlights (Synapse's rule, which
    covers invites and direct messages through the default rules' sound), for an invite of
    the user whatever the rules say, and for encrypted events, whose effect the device only
    learns by decrypting them."""
    if tweaks.get("highlight") or tweaks.get("sound") or event.type == ENCRYPTED:
        return "high"
    if is_invite_of(event, user_id):
        return "high"
    return "low"


def is_invite_of(event: Event, user_id: str) -> bool:
    return (
        event.type == MEMBER
        and event.state_key == user_id
        and event.content.get("membership") == "invite"
    )


def device(pusher: PusherRecord, tweaks: Mapping[str, Any] | None) -> dict[str, Any]:
    """The `devices` entry of a pusher: its data minus `url` (spec), `format` included."""
    entry: dict[str, Any] = {
        "app_id": pusher.app_id,
        "pushkey": pusher.pushkey,
        "pushkey_ts": pusher.created_ts // 1000,
        "data": {key: value for key, value in pusher.data.items() if key != "url"},
    }
    if tweaks:
        entry["tweaks"] = dict(tweaks)
    return entry


def event_notification(
    event: Event,
    pusher: PusherRecord,
    actions: Sequence[Any],
    badge: int,
    context: RoomContext | None,
    *,
    include_content: bool,
) -> dict[str, Any]:
    """The body for a notification about an event. `context` is only needed (and only
    read) when the pusher's format is not `event_id_only`."""
    tweaks = tweaks_for(actions)
    notification: dict[str, Any] = {
        # `id` is the event ID's old name, which Synapse still sends and some gateways and
        # SyTest still read.
        "id": event.event_id,
        "event_id": event.event_id,
        "room_id": event.room_id,
        "prio": priority(event, tweaks, pusher.user_id),
        "counts": {"unread": badge},
    }
    if pusher.data.get("format") == EVENT_ID_ONLY:
        # The gateway fetches the event itself; tweaks go too, as in Synapse.
        notification["devices"] = [device(pusher, None)]
        return {"notification": notification}
    notification["type"] = event.type
    notification["sender"] = event.sender
    if event.type == MEMBER and event.state_key is not None:
        notification["membership"] = event.content.get("membership")
        notification["user_is_target"] = event.state_key == pusher.user_id
    if include_content and event.content:
        notification["content"] = dict(event.content)
    if context is not None:
        if context.sender_display_name:
            notification["sender_display_name"] = context.sender_display_name
        if context.room_name:
            notification["room_name"] = context.room_name
        if context.room_alias:
            notification["room_alias"] = context.room_alias
    notification["devices"] = [device(pusher, tweaks)]
    return {"notification": notification}


def badge_notification(pusher: PusherRecord, badge: int) -> dict[str, Any]:
    """A badge-only update (after the user read something): counts, no event."""
    return {
        "notification": {
            "id": "",
            "type": None,
            "sender": "",
            "counts": {"unread": badge},
            "devices": [device(pusher, None)],
        }
    }


async def notify(client: OutboundClient, pusher: PusherRecord, body: dict[str, Any]) -> list[str]:
    """POST to the pusher's gateway; returns the pushkeys it rejected. Any failure (no
    answer, a non-2xx status, an answer that is not JSON or too large) raises an
    OutboundError."""
    answer = await client.post_json(
        str(pusher.data["url"]),
        body,
        max_response_bytes=MAX_ANSWER_BYTES,
    )
    rejected = answer.body.get("rejected") if isinstance(answer.body, dict) else None
    if not isinstance(rejected, list):
        return []
    return [key for key in rejected if isinstance(key, str)]
