"""The authorization rules of every room version (spec: rooms/vN "Authorization rules").

`check_auth` takes an event and its auth events keyed by (type, state_key) and raises
AuthError naming the rule that rejected it. Rule numbers in comments follow the v12 text
(and the numbering of the version being described where it differs).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from homeserver.rules.auth_events import auth_types_for_event
from homeserver.rules.auth_rules_membership import check_membership
from homeserver.rules.power_levels import PowerLevels, as_int
from homeserver.rules.types import AuthError
from homeserver.types.event import (
    ALIASES,
    CREATE,
    MEMBER,
    POWER_LEVELS,
    REDACTION,
    THIRD_PARTY_INVITE,
    Event,
    StateKey,
)
from homeserver.types.ids import UserID
from homeserver.types.room_versions import ROOM_VERSIONS, RoomVersion

__all__ = ["AuthError", "check_auth", "check_cited_auth_events"]

_NAMED_LEVELS = ("users_default", "events_default", "state_default", "ban", "redact", "kick")


def _domain(user_id: str) -> str:
    return user_id.split(":", 1)[1] if ":" in user_id else ""


def _check_create(room_version: RoomVersion, event: Event) -> None:
    if event.prev_event_ids:
        raise AuthError("create event has prev_events (rule 1.1)")
    if room_version.room_id_from_create_event:
        if "room_id" in event.data:
            raise AuthError("a v12 create event must not have a room_id (rule 1.2)")
    elif _domain(event.room_id) != _domain(event.sender):
        raise AuthError("room ID and sender of the create event differ in domain (rule 1.2)")
    version = event.content.get("room_version", "1")
    if not isinstance(version, str) or version not in ROOM_VERSIONS:
        raise AuthError("unknown room_version in create event (rule 1.3)")
    if room_version.additional_creators and "additional_creators" in event.content:
        extra = event.content["additional_creators"]
        if not isinstance(extra, list) or not all(_valid_user_id(u) for u in extra):
            raise AuthError("additional_creators must be a list of user IDs (rule 1.4)")
    if not room_version.implicit_room_creator and "creator" not in event.content:
        raise AuthError("create event has no creator (rule 1.4)")


def _valid_user_id(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        UserID.parse(value)
    except ValueError:
        return False
    return True


def _check_auth_events(event: Event, auth_events: Mapping[StateKey, Event]) -> Event:
    """Rules 2-3: the auth events belong to this room and include (or imply) the create."""
    room_version = event.room_version
    for auth_event in auth_events.values():
        if auth_event.room_id != event.room_id:
            raise AuthError(f"auth event {auth_event.event_id} is from another room (rule 3.5)")
    create = auth_events.get((CREATE, ""))
    if room_version.room_id_from_create_event:
        # v12 rule 2: the room ID is the create event's ID; it is passed in with the others.
        if create is None or "!" + create.event_id[1:] != event.room_id:
            raise AuthError("room ID is not that of the create event (rule 2)")
    elif create is None:
        raise AuthError("no create event among the auth events (rule 2.4)")
    return create


def check_cited_auth_events(event: Event, cited: Sequence[Event]) -> dict[StateKey, Event]:
    """Rule 3 (v12 numbering; 2 before): the events an event cites as auth events must be
    distinct per key, of the kinds auth event selection would pick, and of the same room.

    Returns them keyed by (type, state_key), ready for `check_auth`. Rejected auth events
    (rule 3.3) are the caller's to exclude, since rejection is not part of the event.
    """
    wanted = set(
        auth_types_for_event(
            event.room_version, event.type, event.sender, event.state_key, event.content
        )
    )
    keyed: dict[StateKey, Event] = {}
    for auth_event in cited:
        if auth_event.state_key is None:
            raise AuthError(f"auth event {auth_event.event_id} is not a state event (rule 3.2)")
        key = auth_event.state_pair
        if key in keyed:
            raise AuthError(f"two auth events for {key} (rule 3.1)")
        if key not in wanted:
            raise AuthError(f"auth event for {key} is not one the event needs (rule 3.2)")
        if auth_event.room_id != event.room_id:
            raise AuthError(f"auth event {auth_event.event_id} is from another room (rule 3.5)")
        keyed[key] = auth_event
    return keyed


def check_auth(event: Event, auth_events: Mapping[StateKey, Event]) -> None:
    """Authorise `event` against `auth_events` (which may hold more than it needs).

    For v12 the create event must be present in `auth_events` although it is not listed in
    the event's own `auth_events`. Raises AuthError.
    """
    room_version = event.room_version
    if event.type == CREATE and event.state_key == "":
        _check_create(room_version, event)
        return
    create = _check_auth_events(event, auth_events)
    if create.content.get("m.federate") is False and _domain(event.sender) != _domain(
        create.sender
    ):
        raise AuthError("the room does not federate (rule 4)")
    power = PowerLevels(room_version, auth_events.get((POWER_LEVELS, "")), create)

    if room_version.special_case_aliases_auth and event.type == ALIASES:
        # v1-v5 rule 4: a server may set its own aliases.
        if event.state_key is None:
            raise AuthError("m.room.aliases without state_key (rule 4.1)")
        if event.state_key != _domain(event.sender):
            raise AuthError("m.room.aliases state_key must be the sender's domain (rule 4.2)")
        return

    if event.type == MEMBER:
        check_membership(event, auth_events, power, create)
        return

    sender_member = auth_events.get((MEMBER, event.sender))
    if sender_member is None or sender_member.membership != "join":
        raise AuthError(f"{event.sender} is not in the room (rule 6)")
    sender_level = power.user_level(event.sender)

    if event.type == THIRD_PARTY_INVITE:
        if sender_level >= power.named("invite"):
            return
        raise AuthError("power level too low to invite (rule 7.1)")

    if power.event_level(event.type, event.is_state) > sender_level:
        raise AuthError(f"power level too low to send {event.type} (rule 8)")

    state_key = event.state_key
    if state_key is not None and state_key.startswith("@") and state_key != event.sender:
        raise AuthError("state_key names another user (rule 9)")

    if event.type == POWER_LEVELS and event.state_key == "":
        _check_power_levels(event, auth_events.get((POWER_LEVELS, "")), power, sender_level)
        return

    if event.type == REDACTION and room_version.special_case_aliases_auth:
        # v1 and v2 (rule 11): redaction permission is an auth rule there.
        if sender_level >= power.named("redact"):
            return
        redacts = event.redacts or ""
        if _domain(redacts) == _domain(event.event_id):
            return
        raise AuthError("power level too low to redact (rule 11)")


def _check_power_levels(
    event: Event, previous: Event | None, power: PowerLevels, sender_level: float
) -> None:
    """Rule 10 (v12 numbering) for m.room.power_levels."""
    room_version = event.room_version
    content = event.content
    if room_version.integer_power_levels:
        for key in (*_NAMED_LEVELS, "invite"):
            if key in content and (
                isinstance(content[key], bool) or not isinstance(content[key], int)
            ):
                raise AuthError(f"{key} must be an integer (rule 10.1)")
        for key in ("events", "notifications"):
            if key in content:
                value = content[key]
                if not isinstance(value, Mapping) or any(
                    isinstance(v, bool) or not isinstance(v, int) for v in value.values()
                ):
                    raise AuthError(f"{key} must map to integers (rule 10.2)")
    users = content.get("users", {})
    if not isinstance(users, Mapping):
        raise AuthError("users must be an object (rule 10.3)")
    for user_id, level in users.items():
        if not _valid_user_id(user_id) or as_int(level, room_version) is None:
            raise AuthError("users must map user IDs to integers (rule 10.3)")
    if room_version.additional_creators and any(u in power.creators for u in users):
        raise AuthError("creators cannot be given a power level (rule 10.4)")
    if previous is None:
        return  # rule 10.5

    old = previous.content

    def level(source: Mapping[str, object], key: str) -> int | None:
        return as_int(source[key], room_version) if key in source else None

    for key in (*_NAMED_LEVELS, "invite"):  # rule 10.6
        before, after = level(old, key), level(content, key)
        if before != after:
            if before is not None and before > sender_level:
                raise AuthError(f"cannot change {key} from above your level (rule 10.6.1)")
            if after is not None and after > sender_level:
                raise AuthError(f"cannot raise {key} above your level (rule 10.6.2)")

    maps = (
        ("events", "notifications")
        if room_version.limit_notifications_power_levels
        else ("events",)
    )
    for key in maps:  # rules 10.7 and 10.8
        before_map = old.get(key) if isinstance(old.get(key), Mapping) else {}
        after_map = content.get(key) if isinstance(content.get(key), Mapping) else {}
        assert isinstance(before_map, Mapping) and isinstance(after_map, Mapping)
        for name in set(before_map) | set(after_map):
            before = level(before_map, name)
            after = level(after_map, name)
            if before == after:
                continue
            if before is not None and before > sender_level:
                raise AuthError(f"cannot change {key}.{name} from above your level (rule 10.7)")
            if after is not None and after > sender_level:
                raise AuthError(f"cannot raise {key}.{name} above your level (rule 10.8)")

    old_users = old.get("users") if isinstance(old.get("users"), Mapping) else {}
    assert isinstance(old_users, Mapping)
    for user_id in set(old_users) | set(users):  # rules 10.9 and 10.10
        before = level(old_users, user_id)
        after = level(users, user_id)
        if before == after:
            continue
        if user_id != event.sender and before is not None and before >= sender_level:
            raise AuthError(f"cannot change the level of {user_id} (rule 10.9)")
        if after is not None and after > sender_level:
            raise AuthError(f"cannot raise {user_id} above your level (rule 10.10)")
