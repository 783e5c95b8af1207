"""The redaction algorithm of every room version (spec: rooms/vN, "Redactions").

Used for redaction events and for hashing and signing, which cover the redacted form.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

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
# v11 drops `origin`, `membership` and `prev_state` from the protected top-level keys.
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
    kept: dict[str, tuple[str, ...]] = {
        "m.room.member": ("membership",),
        "m.room.create": ("creator",),
        "m.room.join_rules": ("join_rule",),
        "m.room.power_levels": _POWER_LEVEL_KEYS,
        "m.room.history_visibility": ("history_visibility",),
    }
    if rules is RedactionRules.V1:
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
    """The event with everything the version does not protect removed (a new dict)."""
    rules = room_version.redaction_rules
    top_level = _KEPT_TOP_LEVEL_V11 if rules is RedactionRules.V11 else _KEPT_TOP_LEVEL_BEFORE_V11
    redacted = {key: copy.deepcopy(value) for key, value in event.items() if key in top_level}
    event_type = event.get("type")
    content = event.get("content")
    content = content if isinstance(content, Mapping) else {}
    if rules is RedactionRules.V11 and event_type == "m.room.create":
        # v11: the create event keeps all of its content.
        new_content = copy.deepcopy(dict(content))
    else:
        keys = _KEPT_CONTENT[rules].get(str(event_type), ())
        new_content = {key: copy.deepcopy(content[key]) for key in keys if key in content}
        if rules is RedactionRules.V11 and event_type == "m.room.member":
            # v11 also keeps the `signed` part of a third-party invite.
            invite = content.get("third_party_invite")
            if isinstance(invite, Mapping) and "signed" in invite:
                new_content["third_party_invite"] = {"signed": copy.deepcopy(invite["signed"])}
    redacted["content"] = new_content
    return redacted
