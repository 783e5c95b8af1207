"""Authorisation of m.room.member events (rule 5 in v12 numbering; see auth_rules for the
numbering of other versions)."""

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
from homeserver.types.ids import is_user_id, server_name_of

_ABSENT = object()


def check_membership(
    event: Event, auth_events: Mapping[StateKey, Event], power: PowerLevels, create: Event
) -> None:
    room_version = event.room_version
    target = event.state_key
    membership = event.membership
    if target is None or "membership" not in event.content:
        raise AuthError("member event without state_key or membership (rule 5.1)")

    # Rule 5.2 (v8+): the authorising server signed the event. Only the signature's
    # presence is checked here; it is verified on receipt with the other signatures.
    via = event.content.get("join_authorised_via_users_server", _ABSENT)
    if (
        room_version.restricted_join_rule
        and via is not _ABSENT
        and not (is_user_id(via) and event.signatures.get(server_name_of(via)))
    ):
        raise AuthError("not signed by the authorising user's server (rule 5.2)")

    sender_membership = _membership_of(auth_events, event.sender)
    target_membership = _membership_of(auth_events, target)

    if membership == "join":
        _check_join(event, auth_events, power, create, sender_membership)
    elif membership == "invite":
        _check_invite(event, auth_events, power, sender_membership, target_membership)
    elif membership == "leave":
        _check_leave(event, power, sender_membership, target_membership)
    elif membership == "ban":
        _check_ban(event, power, sender_membership)
    elif membership == "knock" and room_version.knock:
        _check_knock(event, auth_events, sender_membership)
    else:
        raise AuthError(f"unknown membership {membership!r} (rule 5.8)")


def _membership_of(auth_events: Mapping[StateKey, Event], user_id: str) -> str | None:
    member = auth_events.get((MEMBER, user_id))
    return member.membership if member is not None else None


def _join_rule(auth_events: Mapping[StateKey, Event]) -> str | None:
    event = auth_events.get((JOIN_RULES, ""))
    rule = event.content.get("join_rule") if event is not None else None
    return rule if isinstance(rule, str) else None


def _check_join(
    event: Event,
    auth_events: Mapping[StateKey, Event],
    power: PowerLevels,
    create: Event,
    sender_membership: str | None,
) -> None:
    """Rule 5.3."""
    room_version = event.room_version
    # v11 made the create event's sender the creator; `creator` in content before.
    creator = create.sender if room_version.implicit_room_creator else create.content.get("creator")
    if event.prev_event_ids == (create.event_id,) and event.state_key == creator:
        return  # rule 5.3.1
    if event.sender != event.state_key:
        raise AuthError("cannot join on behalf of another user (rule 5.3.2)")
    if sender_membership == "ban":
        raise AuthError("the user is banned (rule 5.3.3)")
    join_rule = _join_rule(auth_events)
    # v7 let members of knock rooms join once invited, as in invite rooms.
    if join_rule == "invite" or (join_rule == "knock" and room_version.knock):
        if sender_membership in ("invite", "join"):
            return
        raise AuthError("the room is invite-only (rule 5.3.4)")
    if (join_rule == "restricted" and room_version.restricted_join_rule) or (
        join_rule == "knock_restricted" and room_version.knock_restricted_join_rule
    ):
        if sender_membership in ("join", "invite"):
            return  # rule 5.3.5.1
        via = event.content.get("join_authorised_via_users_server")
        if (
            not isinstance(via, str)
            or _membership_of(auth_events, via) != "join"
            or power.user_level(via) < power.named("invite")
        ):
            raise AuthError("no member who can invite authorised the join (rule 5.3.5.2)")
        return  # rule 5.3.5.3
    if join_rule == "public":
        return  # rule 5.3.6
    raise AuthError("the room cannot be joined (rule 5.3.7)")


def _check_invite(
    event: Event,
    auth_events: Mapping[StateKey, Event],
    power: PowerLevels,
    sender_membership: str | None,
    target_membership: str | None,
) -> None:
    """Rule 5.4."""
    if "third_party_invite" in event.content:
        _check_third_party_invite(event, auth_events, target_membership)
        return
    if sender_membership != "join":
        raise AuthError("the inviter is not in the room (rule 5.4.2)")
    if target_membership in ("join", "ban"):
        raise AuthError("the invitee is already joined or banned (rule 5.4.3)")
    if power.user_level(event.sender) >= power.named("invite"):
        return  # rule 5.4.4
    raise AuthError("power level too low to invite (rule 5.4.5)")


def _check_leave(
    event: Event, power: PowerLevels, sender_membership: str | None, target_membership: str | None
) -> None:
    """Rule 5.5: leaving, rejecting an invite, rescinding a knock, kicking, unbanning."""
    if event.sender == event.state_key:
        # v7 added rescinding a knock.
        allowed = ("invite", "join", "knock") if event.room_version.knock else ("invite", "join")
        if sender_membership in allowed:
            return
        raise AuthError("cannot leave a room you are not in (rule 5.5.1)")
    if sender_membership != "join":
        raise AuthError("the sender is not in the room (rule 5.5.2)")
    sender_level = power.user_level(event.sender)
    if target_membership == "ban" and sender_level < power.named("ban"):
        raise AuthError("power level too low to unban (rule 5.5.3)")
    target = event.state_key or ""
    if sender_level >= power.named("kick") and power.user_level(target) < sender_level:
        return  # rule 5.5.4
    raise AuthError("power level too low to kick this user (rule 5.5.5)")


def _check_ban(event: Event, power: PowerLevels, sender_membership: str | None) -> None:
    """Rule 5.6."""
    if sender_membership != "join":
        raise AuthError("the sender is not in the room (rule 5.6.1)")
    sender_level = power.user_level(event.sender)
    target = event.state_key or ""
    if sender_level >= power.named("ban") and power.user_level(target) < sender_level:
        return  # rule 5.6.2
    raise AuthError("power level too low to ban this user (rule 5.6.3)")


def _check_knock(
    event: Event, auth_events: Mapping[StateKey, Event], sender_membership: str | None
) -> None:
    """Rule 5.7 (v7+)."""
    join_rule = _join_rule(auth_events)
    # v10 allowed knocking on knock_restricted rooms as well.
    if not (
        join_rule == "knock"
        or (join_rule == "knock_restricted" and event.room_version.knock_restricted_join_rule)
    ):
        raise AuthError("the room does not allow knocking (rule 5.7.1)")
    if event.sender != event.state_key:
        raise AuthError("cannot knock on behalf of another user (rule 5.7.2)")
    if sender_membership not in ("ban", "invite", "join"):
        return  # rule 5.7.3
    raise AuthError("cannot knock while banned, invited or joined (rule 5.7.4)")


def _check_third_party_invite(
    event: Event, auth_events: Mapping[StateKey, Event], target_membership: str | None
) -> None:
    """Rule 5.4.1: an invite on behalf of a third-party identifier, proven by a `signed`
    block that an identity server signed with a key published in the room."""
    if target_membership == "ban":
        raise AuthError("the invitee is banned (rule 5.4.1.1)")
    third_party = event.content["third_party_invite"]
    signed = third_party.get("signed") if isinstance(third_party, Mapping) else None
    if not isinstance(signed, Mapping):
        raise AuthError("third_party_invite has no signed block (rule 5.4.1.2)")
    mxid, token = signed.get("mxid"), signed.get("token")
    if not isinstance(mxid, str) or not isinstance(token, str):
        raise AuthError("the signed block lacks mxid or token (rule 5.4.1.3)")
    if mxid != event.state_key:
        raise AuthError("the signed mxid is not the invitee (rule 5.4.1.4)")
    invite = auth_events.get((THIRD_PARTY_INVITE, token))
    if invite is None:
        raise AuthError("no m.room.third_party_invite for this token (rule 5.4.1.5)")
    if invite.sender != event.sender:
        raise AuthError("the third-party invite was made by someone else (rule 5.4.1.6)")
    if any(_signed_by(signed, key) for key in _public_keys(invite.content)):
        return  # rule 5.4.1.7
    raise AuthError("no valid signature on the third-party invite (rule 5.4.1.8)")


def _public_keys(content: Mapping[str, Any]) -> list[str]:
    """Rule 5.4.1.7.1-2: `public_key`, and each `public_key` in `public_keys`."""
    keys = []
    if isinstance(content.get("public_key"), str):
        keys.append(content["public_key"])
    entries = content.get("public_keys")
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, Mapping) and isinstance(entry.get("public_key"), str):
            keys.append(entry["public_key"])
    return keys


def _signed_by(signed: Mapping[str, Any], public_key: str) -> bool:
    """Whether any ed25519 signature in `signed` verifies with this public key (appendices:
    "Checking for a signature")."""
    signatures = signed.get("signatures")
    if not isinstance(signatures, Mapping):
        return False
    message = encode_canonical_json(
        {k: v for k, v in signed.items() if k not in ("signatures", "unsigned")}
    )
    try:
        verify_key = nacl.signing.VerifyKey(decode_base64(public_key))
    except (ValueError, TypeError, nacl.exceptions.CryptoError):
        return False
    for by_server in signatures.values():
        if not isinstance(by_server, Mapping):
            continue
        for key_id, signature in by_server.items():
            if not isinstance(key_id, str) or not key_id.startswith("ed25519:"):
                continue
            try:
                verify_key.verify(message, decode_base64(signature))
            except (ValueError, TypeError, nacl.exceptions.CryptoError):
                continue
            return True
    return False
