"""Content hashes, reference hashes, event IDs, and event signatures (spec: server-server
API, "Signing Events" and "Calculating the reference hash"; room versions' event IDs)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Protocol

from canonicaljson import encode_canonical_json
from signedjson.key import SigningKey, VerifyKey
from signedjson.sign import SignatureVerifyException, sign_json, verify_signed_json
from unpaddedbase64 import decode_base64, encode_base64

from homeserver.rules.redaction import redact
from homeserver.types.room_versions import EventIdFormat, RoomVersion


class SignatureError(Exception):
    """An event's hashes or signatures do not check out."""


def content_hash(event: Mapping[str, Any]) -> bytes:
    """SHA-256 over the whole event minus `unsigned`, `signatures` and `hashes`."""
    stripped = {k: v for k, v in event.items() if k not in ("unsigned", "signatures", "hashes")}
    return hashlib.sha256(encode_canonical_json(stripped)).digest()


def reference_hash(room_version: RoomVersion, event: Mapping[str, Any]) -> bytes:
    """SHA-256 over the redacted event minus `signatures` and `unsigned`."""
    redacted = redact(room_version, event)
    redacted.pop("signatures", None)
    redacted.pop("unsigned", None)
    return hashlib.sha256(encode_canonical_json(redacted)).digest()


def compute_event_id(room_version: RoomVersion, event: Mapping[str, Any]) -> str:
    """The event ID for hash-based versions; v1/v2 events carry theirs in `event_id`."""
    fmt = room_version.event_id_format
    if fmt is EventIdFormat.LOCAL:
        event_id = event.get("event_id")
        if not isinstance(event_id, str):
            raise ValueError("events of this room version carry their own event_id")
        return event_id
    digest = reference_hash(room_version, event)
    if fmt is EventIdFormat.HASH_BASE64:
        return "$" + encode_base64(digest)
    return "$" + encode_base64(digest, urlsafe=True)


def add_hashes_and_signature(
    room_version: RoomVersion,
    event: dict[str, Any],
    server_name: str,
    signing_key: SigningKey,
) -> dict[str, Any]:
    """Set `hashes.sha256` and add our signature over the redacted event (in place)."""
    event["hashes"] = {"sha256": encode_base64(content_hash(event))}
    redacted = redact(room_version, event)
    redacted.pop("unsigned", None)
    signed = sign_json(redacted, server_name, signing_key)
    signatures = dict(event.get("signatures") or {})
    signatures[server_name] = {
        **signatures.get(server_name, {}),
        **signed["signatures"][server_name],
    }
    event["signatures"] = signatures
    return event


class VerifyKeyLookup(Protocol):
    """Where verify keys come from: our own keys here, remote ones via federation later."""

    async def get_verify_key(self, server_name: str, key_id: str) -> VerifyKey | None: ...


class LocalKeyLookup:
    """Knows a fixed set of keys, e.g. this server's own."""

    def __init__(self, keys: Mapping[tuple[str, str], VerifyKey]) -> None:
        self._keys = dict(keys)

    async def get_verify_key(self, server_name: str, key_id: str) -> VerifyKey | None:
        return self._keys.get((server_name, key_id))


def check_content_hash(event: Mapping[str, Any]) -> bool:
    """Whether the content hash matches; a mismatch means the event must be redacted."""
    hashes = event.get("hashes")
    if not isinstance(hashes, Mapping) or not isinstance(hashes.get("sha256"), str):
        return False
    try:
        expected = decode_base64(hashes["sha256"])
    except Exception:
        return False
    return expected == content_hash(event)


async def verify_signature(
    room_version: RoomVersion,
    event: Mapping[str, Any],
    server_name: str,
    keys: VerifyKeyLookup,
) -> None:
    """Check that `server_name` signed the redacted event with a key we can find."""
    signatures = event.get("signatures")
    if not isinstance(signatures, Mapping) or not isinstance(signatures.get(server_name), Mapping):
        raise SignatureError(f"no signature from {server_name}")
    redacted = redact(room_version, event)
    redacted.pop("unsigned", None)
    for key_id in signatures[server_name]:
        if not key_id.startswith("ed25519:"):
            continue
        verify_key = await keys.get_verify_key(server_name, key_id)
        if verify_key is None:
            continue
        try:
            verify_signed_json(redacted, server_name, verify_key)
        except SignatureVerifyException as error:
            raise SignatureError(f"bad signature from {server_name}: {error}") from None
        return
    raise SignatureError(f"no known key of {server_name} signed the event")


async def verify_join_authorisation(event: Any, keys: VerifyKeyLookup) -> None:
    """Auth rule 5.2 (v8+): a join naming `join_authorised_via_users_server` must carry a
    valid signature of that user's server. It needs key lookups, so it runs with the other
    signature checks on receipt rather than inside the synchronous auth rules."""
    via = event.content.get("join_authorised_via_users_server")
    if not event.room_version.restricted_join_rule or not isinstance(via, str):
        return
    server = via.split(":", 1)[1] if ":" in via else ""
    await verify_signature(event.room_version, dict(event.data), server, keys)
