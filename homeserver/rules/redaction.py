"""The redaction algorithm of every room version (spec: rooms/vN "Redactions"), and when a
received redaction is applied (rooms/v3+ "Handling redactions").

`redact` serves redaction events, hashing and signing (which cover the redacted form).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeserver.rules.power_levels import PowerLevels
from homeserver.types.event import Event
from homeserver.types.frozen import thaw
from homeserver.types.ids import server_name_of
from homeserver.types.room_versions import RedactionRules, RoomVersion

_KEPT_TOP_LEVEL_BEFORE_V11 = frozenset(
    {
        "event_id",
        "type",
        "room_id",
        "sender",
        "state_key",
        "content",
        "hashes",
        "signatures",
        "depth",
        "prev_events",
        "prev_state",
        "auth_events",
        "origin",
        "origin_server_ts",
        "membership",
    }
)
# v11 no longer protects `origin`, `membership` and `prev_state`.
_KEPT_TOP_LEVEL_V11 = _KEPT_TOP_LEVEL_BEFORE_V11 - {"origin", "membership", "prev_state"}

_POWER_LEVEL_KEYS = (
    "ban",
    "events",
    "events_default",
    "kick",
    "redact",
    "state_default",
    "users",
    "users_default",
)


def _kept_content_keys(rules: RedactionRules) -> dict[str, tuple[str, ...]]:
    """Content keys kept per event type (m.room.create in v11 keeps all: see `redact`)."""
    kept: dict[str, tuple[str, ...]] = {
        "m.room.member": ("membership",),
        "m.room.create": ("creator",),
        "m.room.join_rules": ("join_rule",),
        "m.room.power_levels": _POWER_LEVEL_KEYS,
        "m.room.history_visibility": ("history_visibility",),
    }
    if rules is RedactionRules.V1:
        # v6 stopped protecting m.room.aliases.
        kept["m.room.aliases"] = ("aliases",)
    if rules in (RedactionRules.V8, RedactionRules.V9, RedactionRules.V11):
        kept["m.room.join_rules"] = ("join_rule", "allow")
    if rules in (RedactionRules.V9, RedactionRules.V11):
        kept["m.room.member"] = ("membership", "join_authorised_via_users_server")
    if rules is RedactionRules.V11:
        kept["m.room.power_levels"] = (*_POWER_LEVEL_KEYS, "invite")
        kept["m.room.redaction"] = ("redacts",)
    return kept


_KEPT_CONTENT = {rules: _kept_content_keys(rules) for rules in RedactionRules}


def redact(room_version: RoomVersion, event: Mapping[str, Any]) -> dict[str, Any]:
    """The event with everything its version does not protect removed (a new dict)."""
    rules = room_version.redaction_rules
    top_level = _KEPT_TOP_LEVEL_V11 if rules is RedactionRules.V11 else _KEPT_TOP_LEVEL_BEFORE_V11
    redacted = {key: thaw(value) for key, value in event.items() if key in top_level}
    event_type = event.get("type")
    content = event.get("content")
    content = content if isinstance(content, Mapping) else {}
    if rules is RedactionRules.V11 and event_type == "m.room.create":
        new_content = thaw(content)
    else:
        keys = _KEPT_CONTENT[rules].get(str(event_type), ())
        new_content = {key: thaw(content[key]) for key in keys if key in content}
        if rules is RedactionRules.V11 and event_type == "m.room.member":
            # v11 keeps the `signed` part of a third-party invite: auth rule 5.4.1 needs it.
            invite = content.get("third_party_invite")
            if isinstance(invite, Mapping) and "signed" in invite:
                new_content["third_party_invite"] = {"signed": thaw(invite["signed"])}
    redacted["content"] = new_content
    return redacted


def pruned(event: Event) -> Event:
    """The event as its redaction leaves it, under the same ID (the ID covers the redacted
    form); for what a reader may only see redacted, such as an erased user's messages."""
    return Event(redact(event.room_version, event.data), event.event_id, event.room_version)


def should_apply_redaction(redaction: Event, redacted: Event, power: PowerLevels) -> bool:
    """Whether an accepted redaction takes effect on an accepted event.

    `power` is the power levels in force for the redaction. It applies if its sender has
    the redact level, or else (rooms/v3+ "Handling redactions") comes from the server of
    the redacted event's sender; in v1-v2 (auth rule 11) from the server named in the
    redacted event's ID.
    """
    if redaction.redacts != redacted.event_id or redaction.room_id != redacted.room_id:
        return False
    if power.user_level(redaction.sender) >= power.named("redact"):
        return True
    if redaction.room_version.redaction_auth_rule:
        return server_name_of(redaction.event_id) == server_name_of(redacted.event_id)
    return server_name_of(redaction.sender) == server_name_of(redacted.sender)
