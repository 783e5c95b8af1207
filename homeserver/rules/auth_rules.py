"""The authorization rules of every room version (spec: rooms/vN "Authorisation rules").

`check_auth` takes an event and its auth events keyed by (type, state_key) and raises
AuthError naming the rule that rejected it. Rule numbers follow the v12 text; the older
texts number the same rules differently:

- v1-v5: v12's rule 2 is absent and rule 4 is the m.room.aliases rule, so rules 1, 3 and
  4 of v12 are 1, 2 and 3 there; from rule 5 on the numbers agree. v1-v2 add rule 11
  (redactions).
- v6-v11: no aliases rule either, so v12's rules 3-10 are 2-9.
- Within the m.room.member rules, v8 inserted 5.2 (join_authorised_via_users_server);
  before v8 the later sub-rules are numbered one lower. v7 added knock (5.7).
- Within the m.room.power_levels rules, v10 inserted the shape checks 10.1-10.2 and v12
  the creators rule 10.4.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from homeserver.rules.auth_events import auth_types_for_event
from homeserver.rules.auth_rules_membership import check_membership
from homeserver.rules.power_levels import (
    ALL_NAMED_LEVELS,
    PowerLevels,
    as_int,
    power_levels_from_state,
    validate_power_levels_content,
)
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
from homeserver.types.ids import is_user_id, room_id_for_create_event, server_name_of
from homeserver.types.room_versions import KNOWN_ROOM_VERSIONS, RoomVersion

__all__ = ["AuthError", "check_auth", "check_cited_auth_events"]


def check_auth(event: Event, auth_events: Mapping[StateKey, Event]) -> None:
    """Authorise `event` against `auth_events` (which may hold more than it needs).

    For v12 the create event must be present in `auth_events` although it is not listed in
    the event's own `auth_events`. Rejected events must not be passed in (rule 3.3).
    Raises AuthError.
    """
    room_version = event.room_version
    _check_signed_by_sender(event)
    if event.type == CREATE:
        _check_create(room_version, event)
        return
    create = _check_auth_events(event, auth_events)
    same_server_as_creator = server_name_of(event.sender) == server_name_of(create.sender)
    if create.content.get("m.federate") is False and not same_server_as_creator:
        raise AuthError("the room does not federate (rule 4)")

    if room_version.special_case_aliases_auth and event.type == ALIASES:
        # v1-v5 rule 4: a server may set its own aliases.
        if event.state_key is None:
            raise AuthError("m.room.aliases without state_key (v1 rule 4.1)")
        if event.state_key != server_name_of(event.sender):
            raise AuthError("m.room.aliases state_key is not the sender's domain (v1 rule 4.2)")
        return

    power = power_levels_from_state(room_version, auth_events)
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

    if event.type == POWER_LEVELS and state_key == "":
        _check_power_levels(event, auth_events.get((POWER_LEVELS, "")), power, sender_level)
        return

    if event.type == REDACTION and room_version.redaction_auth_rule:
        _check_redaction(event, power, sender_level)


def _check_signed_by_sender(event: Event) -> None:
    """The preamble of the rules: the sender's server signed the event (v1/v2: and the
    server named in the event ID). A third-party invite may be sent by another server
    (spec: server-server API, "Validating hashes and signatures on received events").

    Only the presence of a signature is checked here; its validity is checked on receipt
    with the keys at hand (homeserver.rules.signing.verify_event_signatures).
    """
    signatures = event.signatures
    is_third_party_invite = (
        event.type == MEMBER
        and event.membership == "invite"
        and "third_party_invite" in event.content
    )
    if not is_third_party_invite and not signatures.get(server_name_of(event.sender)):
        raise AuthError("the event is not signed by the sender's server")
    if event.room_version.event_id_has_domain and not signatures.get(
        server_name_of(event.event_id)
    ):
        raise AuthError("the event is not signed by the server named in its event ID")


def _check_create(room_version: RoomVersion, event: Event) -> None:
    """Rule 1."""
    if event.prev_event_ids:
        raise AuthError("the create event has prev_events (rule 1.1)")
    if room_version.room_id_from_create_event:
        if "room_id" in event.data:
            raise AuthError("a v12 create event must not have a room_id (rule 1.2)")
    elif server_name_of(event.room_id) != server_name_of(event.sender):
        raise AuthError("room ID and sender of the create event differ in domain (rule 1.2)")
    if "room_version" in event.content:
        version = event.content["room_version"]
        if not isinstance(version, str) or version not in KNOWN_ROOM_VERSIONS:
            raise AuthError("unknown room_version in the create event (rule 1.3)")
    if room_version.additional_creators and "additional_creators" in event.content:
        extra = event.content["additional_creators"]
        if not isinstance(extra, list) or not all(is_user_id(u) for u in extra):
            raise AuthError("additional_creators is not a list of user IDs (rule 1.4)")
    if not room_version.implicit_room_creator and "creator" not in event.content:
        raise AuthError("the create event has no creator (v1 rule 1.4)")


def _check_auth_events(event: Event, auth_events: Mapping[StateKey, Event]) -> Event:
    """Rules 2 and 3.4-3.5: the auth events name this room and include (or imply) the
    create event, which is returned."""
    for auth_event in auth_events.values():
        if auth_event.room_id != event.room_id:
            raise AuthError(f"auth event {auth_event.event_id} is from another room (rule 3.5)")
    create = auth_events.get((CREATE, ""))
    if event.room_version.room_id_from_create_event:
        # v12 rule 2: the room ID names the create event, passed in with the auth events.
        if create is None or room_id_for_create_event(create.event_id) != event.room_id:
            raise AuthError("the room ID does not name an accepted create event (rule 2)")
    elif create is None:
        raise AuthError("no create event among the auth events (v1 rule 2.4)")
    return create


def check_cited_auth_events(event: Event, cited: Sequence[Event]) -> dict[StateKey, Event]:
    """Rules 3.1-3.2 and 3.5 (2.x before v12): the events an event cites as auth events
    are distinct per key, of the kinds auth event selection would pick, and of this room.

    Returns them keyed by (type, state_key), ready for `check_auth` (to which a v12 caller
    adds the create event). Rejected auth events (rule 3.3) are the caller's to exclude,
    since rejection is not part of the event.
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


def _check_power_levels(
    event: Event, previous: Event | None, power: PowerLevels, sender_level: float
) -> None:
    """Rule 10 for m.room.power_levels."""
    room_version = event.room_version
    content = event.content
    validate_power_levels_content(room_version, content, power.creators)  # rules 10.1-10.4
    if previous is None:
        return  # rule 10.5

    old = previous.content

    def level(source: object, key: str) -> int | None:
        if not isinstance(source, Mapping) or key not in source:
            return None
        return as_int(source[key], room_version)

    for key in ALL_NAMED_LEVELS:  # rule 10.6
        before, after = level(old, key), level(content, key)
        if before == after:
            continue
        if before is not None and before > sender_level:
            raise AuthError(f"cannot change {key} from above your level (rule 10.6.1)")
        if after is not None and after > sender_level:
            raise AuthError(f"cannot raise {key} above your level (rule 10.6.2)")

    # v6 brought `notifications` under rules 10.7 and 10.8.
    maps = (
        ("events", "notifications")
        if room_version.limit_notifications_power_levels
        else ("events",)
    )
    for key in maps:
        before_map, after_map = old.get(key), content.get(key)
        names = set(_keys(before_map)) | set(_keys(after_map))
        for name in sorted(names):
            before, after = level(before_map, name), level(after_map, name)
            if before == after:
                continue
            if before is not None and before > sender_level:
                raise AuthError(f"cannot change {key}.{name} from above your level (rule 10.7)")
            if after is not None and after > sender_level:
                raise AuthError(f"cannot raise {key}.{name} above your level (rule 10.8)")

    before_users, after_users = old.get("users"), content.get("users")
    for user_id in sorted(set(_keys(before_users)) | set(_keys(after_users))):
        before, after = level(before_users, user_id), level(after_users, user_id)
        if before == after:
            continue
        if user_id != event.sender and before is not None and before >= sender_level:
            raise AuthError(f"cannot change the level of {user_id} (rule 10.9)")
        if after is not None and after > sender_level:
            raise AuthError(f"cannot raise {user_id} above your level (rule 10.10)")


def _keys(value: object) -> list[str]:
    return list(value) if isinstance(value, Mapping) else []


def _check_redaction(event: Event, power: PowerLevels, sender_level: float) -> None:
    """v1-v2 rule 11: the redact level, or a redaction of an event from the same server."""
    if sender_level >= power.named("redact"):
        return  # rule 11.1
    redacts = event.redacts
    if redacts is not None and server_name_of(redacts) == server_name_of(event.event_id):
        return  # rule 11.2
    raise AuthError("power level too low to redact another server's event (v1 rule 11.3)")
