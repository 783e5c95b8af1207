"""Building, finalising and validating events (PDUs) of every room version.

Spec: server-server API "PDUs", room versions' event formats, client-server API "Size
limits", appendices "Canonical JSON" (v6+ integer range) and "Identifier Grammar".
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Mapping, Sequence
from typing import Any

from canonicaljson import encode_canonical_json
from signedjson.key import SigningKey

from homeserver.rules.signing import add_hashes_and_signature, compute_event_id
from homeserver.types.event import CREATE, Event
from homeserver.types.ids import is_user_id
from homeserver.types.room_versions import RoomVersion

MAX_EVENT_BYTES = 65_536
MAX_ID_BYTES = 255
MAX_PREV_EVENTS = 20
MAX_AUTH_EVENTS = 10
MAX_SAFE_INTEGER = 2**53 - 1
_LOCAL_ID_ALPHABET = string.ascii_letters
# v12 room IDs: `!` and the unpadded URL-safe base64 of a SHA-256 reference hash.
_HASH_ROOM_ID = re.compile(r"![A-Za-z0-9_-]{43}")


class EventFormatError(ValueError):
    """The event is malformed for its room version."""


def make_event(room_version: RoomVersion, pdu: Mapping[str, Any]) -> Event:
    """Wrap received or stored JSON as an Event, computing its ID where the version asks."""
    data = _without_derived_id(room_version, pdu)
    return Event(data, compute_event_id(room_version, data), room_version)


def stored_event(room_version: RoomVersion, pdu: Mapping[str, Any], event_id: str) -> Event:
    """An event read back from storage: its ID was computed (and checked) when it was
    persisted, so it is not hashed again on every load."""
    return Event(_without_derived_id(room_version, pdu), event_id, room_version)


def _without_derived_id(room_version: RoomVersion, pdu: Mapping[str, Any]) -> dict[str, Any]:
    """From v3 on the event ID is the event's hash, never a field of it."""
    data = dict(pdu)
    if not room_version.event_id_has_domain:
        data.pop("event_id", None)
    return data


def _check_integers(value: Any, where: str) -> None:
    """v6+ canonical JSON: integers in [-(2**53)+1, 2**53-1], and no floats."""
    if isinstance(value, bool):
        return
    if isinstance(value, float):
        raise EventFormatError(f"{where}: floats are not allowed in this room version")
    if isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise EventFormatError(f"{where}: integer out of range")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            _check_integers(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_integers(item, f"{where}[{index}]")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_identifiers(room_version: RoomVersion, pdu: Mapping[str, Any]) -> None:
    for key in ("type", "sender", "room_id", "state_key", "event_id"):
        if key not in pdu:
            continue
        value = pdu[key]
        if not isinstance(value, str):
            raise EventFormatError(f"{key} must be a string")
        if len(value.encode()) > MAX_ID_BYTES:
            raise EventFormatError(f"{key} is longer than {MAX_ID_BYTES} bytes")
    if not is_user_id(pdu["sender"]):
        raise EventFormatError("sender is not a user ID")
    room_id = pdu.get("room_id")
    if room_id is not None:
        if room_version.room_id_from_create_event:
            if not _HASH_ROOM_ID.fullmatch(room_id):
                raise EventFormatError("room_id is not a create event hash")
        elif not room_id.startswith("!") or ":" not in room_id:
            raise EventFormatError("room_id is not of the form !opaque:domain")
    if room_version.event_id_has_domain:
        event_id = pdu["event_id"]
        if not event_id.startswith("$") or ":" not in event_id:
            raise EventFormatError("event_id is not of the form $opaque:domain")


def _check_references(room_version: RoomVersion, pdu: Mapping[str, Any]) -> None:
    for key, limit in (("prev_events", MAX_PREV_EVENTS), ("auth_events", MAX_AUTH_EVENTS)):
        refs = pdu[key]
        if not isinstance(refs, list) or len(refs) > limit:
            raise EventFormatError(f"{key} must be a list of at most {limit}")
        for ref in refs:
            # v1/v2 cite [event_id, {hashes}] pairs; later versions plain event IDs.
            if room_version.event_id_has_domain:
                if not (isinstance(ref, list) and len(ref) == 2 and isinstance(ref[1], Mapping)):
                    raise EventFormatError(f"{key} must hold [event_id, hashes] pairs")
                ref = ref[0]
            if not isinstance(ref, str) or not ref.startswith("$"):
                raise EventFormatError(f"{key} must hold event IDs")


def validate_event(room_version: RoomVersion, pdu: Mapping[str, Any]) -> None:
    """Format and size checks that precede authorisation (raises EventFormatError)."""
    try:
        size = len(encode_canonical_json(pdu))
    except (TypeError, ValueError) as error:
        raise EventFormatError(f"not canonical JSON: {error}") from None
    if size > MAX_EVENT_BYTES:
        raise EventFormatError(f"event is {size} bytes; the limit is {MAX_EVENT_BYTES}")
    is_v12_create = room_version.room_id_from_create_event and pdu.get("type") == CREATE
    required = ["type", "sender", "content", "depth", "origin_server_ts", "prev_events"]
    required += ["auth_events", "hashes", "signatures"]
    if not is_v12_create:
        required.append("room_id")
    if room_version.event_id_has_domain:
        required.append("event_id")
    for key in required:
        if key not in pdu:
            raise EventFormatError(f"missing {key}")
    if is_v12_create and "room_id" in pdu:
        raise EventFormatError("a v12 create event has no room_id")
    _check_identifiers(room_version, pdu)
    for key in ("content", "hashes", "signatures"):
        if not isinstance(pdu[key], Mapping):
            raise EventFormatError(f"{key} must be an object")
    depth = pdu["depth"]
    if not _is_int(depth) or not 0 <= depth <= room_version.max_depth:
        raise EventFormatError("depth must be an integer in range")
    if not _is_int(pdu["origin_server_ts"]):
        raise EventFormatError("origin_server_ts must be an integer")
    _check_references(room_version, pdu)
    if room_version.strict_canonical_json:
        _check_integers(dict(pdu), "event")


def new_local_event_json(
    room_version: RoomVersion,
    *,
    server_name: str,
    room_id: str | None,
    sender: str,
    event_type: str,
    content: Mapping[str, Any],
    prev_event_ids: Sequence[str],
    auth_event_ids: Sequence[str],
    depth: int,
    origin_server_ts: int,
    state_key: str | None = None,
    redacts: str | None = None,
) -> dict[str, Any]:
    """The unsigned PDU of a new event, in the version's format (also a make_join
    template). `room_id` is None only for the create event of a v12 room."""
    pdu: dict[str, Any] = {
        "type": event_type,
        "sender": sender,
        "content": dict(content),
        # Spec (PDU depth): a room already at the limit stays there.
        "depth": min(depth, room_version.max_depth),
        "origin_server_ts": origin_server_ts,
    }
    if room_id is not None:
        pdu["room_id"] = room_id
    if state_key is not None:
        pdu["state_key"] = state_key
    if redacts is not None:
        if room_version.redacts_in_content:
            pdu["content"]["redacts"] = redacts
        else:
            pdu["redacts"] = redacts
    if room_version.event_id_has_domain:
        local = "".join(secrets.choice(_LOCAL_ID_ALPHABET) for _ in range(18))
        pdu["event_id"] = f"${local}:{server_name}"
        pdu["prev_events"] = [[event_id, {}] for event_id in prev_event_ids]
        pdu["auth_events"] = [[event_id, {}] for event_id in auth_event_ids]
    else:
        pdu["prev_events"] = list(prev_event_ids)
        pdu["auth_events"] = list(auth_event_ids)
    return pdu


def finalise_event(
    room_version: RoomVersion, pdu: Mapping[str, Any], server_name: str, signing_key: SigningKey
) -> Event:
    """Hash and sign a PDU as `server_name`, validate it and compute its event ID.

    Raises EventFormatError if the result breaks a size or format limit.
    """
    signed = add_hashes_and_signature(room_version, dict(pdu), server_name, signing_key)
    validate_event(room_version, signed)
    return make_event(room_version, signed)


def build_local_event(
    room_version: RoomVersion,
    *,
    server_name: str,
    signing_key: SigningKey,
    room_id: str | None,
    sender: str,
    event_type: str,
    content: Mapping[str, Any],
    prev_event_ids: Sequence[str],
    auth_event_ids: Sequence[str],
    depth: int,
    origin_server_ts: int,
    state_key: str | None = None,
    redacts: str | None = None,
) -> Event:
    """Build, hash, sign and validate an event created on this server.

    `room_id` is None only for the create event of a v12 room, whose ID derives from it.
    Raises EventFormatError if the result breaks a size or format limit.
    """
    pdu = new_local_event_json(
        room_version,
        server_name=server_name,
        room_id=room_id,
        sender=sender,
        event_type=event_type,
        content=content,
        prev_event_ids=prev_event_ids,
        auth_event_ids=auth_event_ids,
        depth=depth,
        origin_server_ts=origin_server_ts,
        state_key=state_key,
        redacts=redacts,
    )
    return finalise_event(room_version, pdu, server_name, signing_key)
