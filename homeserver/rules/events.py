"""Building, finalising and validating events (PDUs) of every room version.

Spec: server-server API "PDUs" and "Size limits", room versions' event formats, and
appendices "Canonical JSON" (v6+ integer range).
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping, Sequence
from typing import Any

from canonicaljson import encode_canonical_json
from signedjson.key import SigningKey

from homeserver.rules.signing import add_hashes_and_signature, compute_event_id
from homeserver.types.event import CREATE, Event
from homeserver.types.room_versions import EventIdFormat, RoomVersion

MAX_EVENT_BYTES = 65_536
MAX_ID_BYTES = 255
MAX_PREV_EVENTS = 20
MAX_AUTH_EVENTS = 10
MAX_SAFE_INTEGER = 2**53 - 1
_LOCAL_ID_ALPHABET = string.ascii_letters


class EventFormatError(ValueError):
    """The event is malformed for its room version."""


def make_event(room_version: RoomVersion, pdu: Mapping[str, Any]) -> Event:
    """Wrap received or stored JSON as an Event, computing its ID where the version asks."""
    data = dict(pdu)
    if room_version.event_id_format is not EventIdFormat.LOCAL:
        data.pop("event_id", None)
    return Event(data, compute_event_id(room_version, data), room_version)


def _check_integers(value: Any, where: str) -> None:
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


def validate_event(room_version: RoomVersion, pdu: Mapping[str, Any]) -> None:
    """Shape and size checks that apply before authorisation (raises EventFormatError)."""
    try:
        size = len(encode_canonical_json(dict(pdu)))
    except (TypeError, ValueError) as error:
        raise EventFormatError(f"not canonical JSON: {error}") from None
    if size > MAX_EVENT_BYTES:
        raise EventFormatError(f"event is {size} bytes; the limit is {MAX_EVENT_BYTES}")
    is_v12_create = room_version.room_id_from_create_event and pdu.get("type") == CREATE
    required = ["type", "sender", "content", "depth", "origin_server_ts", "prev_events"]
    required += ["auth_events", "hashes", "signatures"]
    if not is_v12_create:
        required.append("room_id")
    if room_version.event_id_format is EventIdFormat.LOCAL:
        required.append("event_id")
    for key in required:
        if key not in pdu:
            raise EventFormatError(f"missing {key}")
    for key in ("type", "sender", "room_id", "state_key", "event_id"):
        value = pdu.get(key)
        if value is None:
            continue
        if not isinstance(value, str):
            raise EventFormatError(f"{key} must be a string")
        if len(value.encode()) > MAX_ID_BYTES:
            raise EventFormatError(f"{key} is longer than {MAX_ID_BYTES} bytes")
    if is_v12_create and "room_id" in pdu:
        raise EventFormatError("a v12 create event has no room_id")
    if not isinstance(pdu["content"], Mapping):
        raise EventFormatError("content must be an object")
    depth = pdu["depth"]
    if isinstance(depth, bool) or not isinstance(depth, int) or not 0 <= depth <= MAX_SAFE_INTEGER:
        raise EventFormatError("depth must be an integer in range")
    if not isinstance(pdu["origin_server_ts"], int) or isinstance(pdu["origin_server_ts"], bool):
        raise EventFormatError("origin_server_ts must be an integer")
    for key, limit in (("prev_events", MAX_PREV_EVENTS), ("auth_events", MAX_AUTH_EVENTS)):
        refs = pdu[key]
        if not isinstance(refs, list) or len(refs) > limit:
            raise EventFormatError(f"{key} must be a list of at most {limit}")
        for ref in refs:
            ref_id = ref[0] if isinstance(ref, list) and ref else ref
            if not isinstance(ref_id, str):
                raise EventFormatError(f"{key} must hold event IDs")
    if room_version.strict_canonical_json:
        _check_integers(dict(pdu), "event")


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
    pdu: dict[str, Any] = {
        "type": event_type,
        "sender": sender,
        "content": dict(content),
        "depth": min(depth, MAX_SAFE_INTEGER),
        "origin_server_ts": origin_server_ts,
        "signatures": {},
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
    if room_version.event_id_format is EventIdFormat.LOCAL:
        local = "".join(secrets.choice(_LOCAL_ID_ALPHABET) for _ in range(18))
        pdu["event_id"] = f"${local}:{server_name}"
        pdu["prev_events"] = [[event_id, {}] for event_id in prev_event_ids]
        pdu["auth_events"] = [[event_id, {}] for event_id in auth_event_ids]
    else:
        pdu["prev_events"] = list(prev_event_ids)
        pdu["auth_events"] = list(auth_event_ids)
    if not room_version.redacts_in_content:
        # `origin` is part of the format before v11 (which dropped it with these changes).
        pdu["origin"] = server_name
    add_hashes_and_signature(room_version, pdu, server_name, signing_key)
    validate_event(room_version, pdu)
    return make_event(room_version, pdu)
