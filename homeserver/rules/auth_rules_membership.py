"""Authorization of m.room.member events (rule 5 in v12 numbering; 5 or 4 earlier)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import nacl.exceptions
import nacl.signing
from canonicaljson import encode_canonical_json
from unpaddedbase64 import decode_base64

from homeserver.rules.power_levels import PowerLevels
from homeserver.rules.types import AuthError
from homeserver.types.event import JOIN_RULES, MEMBER, THIRD_PARTY_INVITE, Event, StateKey

_CAN_LEAVE_SELF = ("invite", "join", "knock")


def _is_user_id(value: object) -> bool:
    return isinstance(value, str) and value.startswith("@") and ":" in value


def _membership_of(auth_events: Mapping[StateKey, Event], user_id: str) -> str | None:
    member = auth_events.get((MEMBER, user_id))
    return member.membership if member is not None else None


def _join_rule(auth_events: Mapping[StateKey, Event]) -> str | None:
    event = auth_events.get((JOIN_RULES, ""))
    rule = event.content.get("join_rule") if event is not None else None
    return rule if isinstance(rule, str) else None


def check_membership(
    event: Event, auth_events: Mapping[StateKey, Event], power: PowerLevels, create: Event
) -> None:
    room_version = event.room_version
    target = event.state_key
    membership = event.membership
    if target is None or membership is None:
        raise AuthError("member event without state_key or membership (rule 5.1)")
    sender = event.sender

    via = event.content.get("join_authorised_via_users_server")
    # Rule 5.2: the authorising server's signature is checked with the other signature
    # checks on receipt, where keys are at hand; here only the shape is checked.
    if room_version.restricted_join_rule and via is not None and not _is_user_id(via):
        raise AuthError("join_authorised_via_users_server must be a user ID (rule 5.2)")

    sender_membership = _membership_of(auth_events, sender)
    target_membership = _membership_of(auth_events, target)
    join_rule = _join_rule(auth_events)

    if membership == "join":
        _check_join(event, auth_events, power, create, sender_membership, join_rule)
        return
    if membership == "invite":
        _check_invite(event, auth_events, power, sender_membership, target_membership)
        return
    if membership == "leave":
        if sender == target:  # rule 5.5.1
            if sender_membership in _CAN_LEAVE_SELF:
                return
            raise AuthError("cannot leave a room you are not in (rule 5.5.1)")
        if sender_membership != "join":
            raise AuthError("sender is not in the room (rule 5.5.2)")
        sender_level = power.user_level(sender)
        if target_membership == "ban" and sender_level < power.named("ban"):
            raise AuthError("power level too low to unban (rule 5.5.3)")
        if sender_level >= power.named("kick") and power.user_level(target) < sender_level:
            return  # rule 5.5.4
        raise AuthError("power level too low to kick this user (rule 5.5.5)")
    if membership == "ban":
        if sender_membership != "join":
            raise AuthError("sender is not in the room (rule 5.6.1)")
        sender_level = power.user_level(sender)
        if sender_level >= power.named("ban") and power.user_level(target) < sender_level:
            return
        raise AuthError("power level too low to ban this user (rule 5.6.3)")
    if membership == "knock" and room_version.knock:
        allowed = (
            ("knock", "knock_restricted") if room_version.knock_restricted_join_rule else ("knock",)
        )
        if join_rule not in allowed:
            raise AuthError("the room does not allow knocking (rule 5.7.1)")
        if sender != target:
            raise AuthError("cannot knock on behalf of another user (rule 5.7.2)")
        if sender_membership not in ("ban", "invite", "join"):
            return
        raise AuthError("cannot knock while banned, invited or joined (rule 5.7.4)")
    raise AuthError(f"unknown membership {membership!r} (rule 5.8)")


def _only_previous_event_is_create(event: Event, create: Event) -> bool:
    return list(event.prev_event_ids) == [create.event_id]


def _check_join(
    event: Event,
    auth_events: Mapping[StateKey, Event],
    power: PowerLevels,
    create: Event,
    sender_membership: str | None,
    join_rule: str | None,
) -> None:
    room_version = event.room_version
    target = event.state_key
    if room_version.implicit_room_creator:
        creator: Any = create.sender
    else:
        creator = create.content.get("creator")
    if _only_previous_event_is_create(event, create) and target == creator:
        return  # rule 5.3.1
    if event.sender != target:
        raise AuthError("cannot join on behalf of another user (rule 5.3.2)")
    if sender_membership == "ban":
        raise AuthError("the user is banned (rule 5.3.3)")
    invite_like = ("invite", "knock") if room_version.knock else ("invite",)
    if join_rule in invite_like:
        if sender_membership in ("invite", "join"):
            return
        raise AuthError("the room is invite-only (rule 5.3.4)")
    restricted = []
    if room_version.restricted_join_rule:
        restricted.append("restricted")
    if room_version.knock_restricted_join_rule:
        restricted.append("knock_restricted")
    if join_rule in restricted:
        if sender_membership in ("join", "invite"):
            return  # rule 5.3.5.1
        via = event.content.get("join_authorised_via_users_server")
        if (
            not isinstance(via, str)
            or _membership_of(auth_events, via) != "join"
            or power.user_level(via) < power.named("invite")
        ):
            raise AuthError("the join was not authorised by a member who can invite (rule 5.3.5.2)")
        return
    if join_rule == "public":
        return
    raise AuthError("the room cannot be joined (rule 5.3.7)")


def _check_invite(
    event: Event,
    auth_events: Mapping[StateKey, Event],
    power: PowerLevels,
    sender_membership: str | None,
    target_membership: str | None,
) -> None:
    third_party = event.content.get("third_party_invite")
    if third_party is not None:
        _check_third_party_invite(event, auth_events, third_party, target_membership)
        return
    if sender_membership != "join":
        raise AuthError("the inviter is not in the room (rule 5.4.2)")
    if target_membership in ("join", "ban"):
        raise AuthError("the invitee is already joined or banned (rule 5.4.3)")
    if power.user_level(event.sender) >= power.named("invite"):
        return
    raise AuthError("power level too low to invite (rule 5.4.5)")


def _check_third_party_invite(
    event: Event,
    auth_events: Mapping[StateKey, Event],
    third_party: Any,
    target_membership: str | None,
) -> None:
    if target_membership == "ban":
        raise AuthError("the invitee is banned (rule 5.4.1.1)")
    signed = third_party.get("signed") if isinstance(third_party, Mapping) else None
    if not isinstance(signed, Mapping):
        raise AuthError("third_party_invite has no signed block (rule 5.4.1.2)")
    mxid, token = signed.get("mxid"), signed.get("token")
    if not isinstance(mxid, str) or not isinstance(token, str):
        raise AuthError("signed block lacks mxid or token (rule 5.4.1.3)")
    if mxid != event.state_key:
        raise AuthError("signed mxid does not match the invitee (rule 5.4.1.4)")
    invite = auth_events.get((THIRD_PARTY_INVITE, token))
    if invite is None:
        raise AuthError("no m.room.third_party_invite for this token (rule 5.4.1.5)")
    if invite.sender != event.sender:
        raise AuthError("the third-party invite was made by someone else (rule 5.4.1.6)")
    if any(_signed_by(signed, key) for key in _public_keys(invite.content)):
        return  # rule 5.4.1.7
    raise AuthError("no valid signature on the third-party invite (rule 5.4.1.8)")


def _public_keys(content: Mapping[str, Any]) -> list[str]:
    keys = []
    if isinstance(content.get("public_key"), str):
        keys.append(content["public_key"])
    for entry in content.get("public_keys") or []:
        if isinstance(entry, Mapping) and isinstance(entry.get("public_key"), str):
            keys.append(entry["public_key"])
    return keys


def _signed_by(signed: Mapping[str, Any], public_key: str) -> bool:
    """Whether any signature in `signed` verifies with this ed25519 public key."""
    signatures = signed.get("signatures")
    if not isinstance(signatures, Mapping):
        return False
    message = encode_canonical_json(
        {k: v for k, v in signed.items() if k not in ("signatures", "unsigned")}
    )
    try:
        verify_key = nacl.signing.VerifyKey(decode_base64(public_key))
    except (ValueError, nacl.exceptions.CryptoError):
        return False
    for by_server in signatures.values():
        if not isinstance(by_server, Mapping):
            continue
        for signature in by_server.values():
            try:
                verify_key.verify(message, decode_base64(signature))
            except (ValueError, TypeError, nacl.exceptions.BadSignatureError):
                continue
            return True
    return False
