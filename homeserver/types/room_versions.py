"""Room versions 1-12 as data (spec: Room Versions). Code asks the record, never the number."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class EventIdFormat(Enum):
    # `$opaque:server`, chosen by the sending server (v1, v2).
    LOCAL = "local"
    # `$` + unpadded standard base64 of the reference hash (v3).
    HASH_BASE64 = "hash_base64"
    # `$` + unpadded URL-safe base64 of the reference hash (v4 onwards).
    HASH_URLSAFE = "hash_urlsafe"


class StateResAlgorithm(Enum):
    V1 = "v1"
    V2 = "v2"
    # v2 with the v12 changes (start from an empty state; creators outrank everyone).
    V2_1 = "v2.1"


class RedactionRules(Enum):
    V1 = "v1"
    # v6: `aliases` of m.room.aliases no longer kept.
    V6 = "v6"
    # v8: `allow` of m.room.join_rules kept.
    V8 = "v8"
    # v9: `join_authorised_via_users_server` of member events kept too.
    V9 = "v9"
    # v11: the v11 changes (create content kept, `invite` power level, redacts in content).
    V11 = "v11"


@dataclass(frozen=True, slots=True)
class RoomVersion:
    identifier: str
    stable: bool
    event_id_format: EventIdFormat
    state_res: StateResAlgorithm
    redaction_rules: RedactionRules
    # v5+: signing keys must be valid at the event's origin_server_ts.
    enforce_key_validity: bool
    # v6+: integers outside [-2**53+1, 2**53-1] and floats are invalid in canonical JSON.
    strict_canonical_json: bool
    # v1-v5: m.room.aliases has its own auth rule (rule 4); later it is ordinary state.
    special_case_aliases_auth: bool
    # v1-v2: auth rule 11 checks redactions (redact level, or the same event ID domain).
    redaction_auth_rule: bool
    # v6+: the `notifications` key of power levels is authorised like any other.
    limit_notifications_power_levels: bool
    knock: bool
    restricted_join_rule: bool
    knock_restricted_join_rule: bool
    # v10+: power level values must be integers, not strings.
    integer_power_levels: bool
    # v1-v5: power level values may be floats (truncated), as canonical JSON is not enforced.
    float_power_levels: bool
    # v11+: the create event has no `creator`; the sender is the creator.
    implicit_room_creator: bool
    # v11+: `redacts` moves from the top level into `content`.
    redacts_in_content: bool
    # v12: the room ID is derived from the create event, which is never cited as an auth
    # event and carries no room_id.
    room_id_from_create_event: bool
    # v12: `additional_creators` in the create event content.
    additional_creators: bool
    # v12: creators have infinite power and may not be listed in m.room.power_levels.
    privileged_creators: bool

    @property
    def max_depth(self) -> int:
        """The largest `depth` (spec: PDU formats; 2**53-1 once canonical JSON is strict)."""
        return 2**53 - 1 if self.strict_canonical_json else 2**63 - 1

    @property
    def event_id_has_domain(self) -> bool:
        """v1/v2 event IDs name the server that minted them, which must also sign."""
        return self.event_id_format is EventIdFormat.LOCAL


def _version(identifier: str, **overrides: object) -> RoomVersion:
    base: dict[str, object] = {
        "identifier": identifier,
        "stable": True,
        "event_id_format": EventIdFormat.HASH_URLSAFE,
        "state_res": StateResAlgorithm.V2,
        "redaction_rules": RedactionRules.V9,
        "enforce_key_validity": True,
        "strict_canonical_json": True,
        "special_case_aliases_auth": False,
        "redaction_auth_rule": False,
        "limit_notifications_power_levels": True,
        "knock": True,
        "restricted_join_rule": True,
        "knock_restricted_join_rule": True,
        "integer_power_levels": True,
        "float_power_levels": False,
        "implicit_room_creator": False,
        "redacts_in_content": False,
        "room_id_from_create_event": False,
        "additional_creators": False,
        "privileged_creators": False,
    }
    base.update(overrides)
    return RoomVersion(**base)  # type: ignore[arg-type]


_BEFORE_V6 = {
    "redaction_rules": RedactionRules.V1,
    "strict_canonical_json": False,
    "special_case_aliases_auth": True,
    "limit_notifications_power_levels": False,
    "knock": False,
    "restricted_join_rule": False,
    "knock_restricted_join_rule": False,
    "integer_power_levels": False,
    "float_power_levels": True,
}

ROOM_VERSIONS: dict[str, RoomVersion] = {
    v.identifier: v
    for v in (
        _version(
            "1",
            **_BEFORE_V6,
            event_id_format=EventIdFormat.LOCAL,
            state_res=StateResAlgorithm.V1,
            enforce_key_validity=False,
            redaction_auth_rule=True,
        ),
        _version(
            "2",
            **_BEFORE_V6,
            event_id_format=EventIdFormat.LOCAL,
            enforce_key_validity=False,
            redaction_auth_rule=True,
        ),
        _version(
            "3",
            **_BEFORE_V6,
            event_id_format=EventIdFormat.HASH_BASE64,
            enforce_key_validity=False,
        ),
        _version("4", **_BEFORE_V6, enforce_key_validity=False),
        _version("5", **_BEFORE_V6),
        _version(
            "6",
            redaction_rules=RedactionRules.V6,
            knock=False,
            restricted_join_rule=False,
            knock_restricted_join_rule=False,
            integer_power_levels=False,
        ),
        _version(
            "7",
            redaction_rules=RedactionRules.V6,
            restricted_join_rule=False,
            knock_restricted_join_rule=False,
            integer_power_levels=False,
        ),
        _version(
            "8",
            redaction_rules=RedactionRules.V8,
            knock_restricted_join_rule=False,
            integer_power_levels=False,
        ),
        _version("9", knock_restricted_join_rule=False, integer_power_levels=False),
        _version("10"),
        _version(
            "11",
            redaction_rules=RedactionRules.V11,
            implicit_room_creator=True,
            redacts_in_content=True,
        ),
        _version(
            "12",
            redaction_rules=RedactionRules.V11,
            state_res=StateResAlgorithm.V2_1,
            implicit_room_creator=True,
            redacts_in_content=True,
            room_id_from_create_event=True,
            additional_creators=True,
            privileged_creators=True,
        ),
    )
}

KNOWN_ROOM_VERSIONS = ROOM_VERSIONS

# SyTest's fake federation peers handle up to v10; raised once v11 and v12 pass every test.
DEFAULT_ROOM_VERSION = "10"
