"""Content hashes, reference hashes, event IDs and event signatures (spec: server-server
API "Signing Events", "Validating hashes and signatures on received events",
"Calculating the reference hash"; room versions' event IDs and key validity).

Verification asks a `VerifyKeyLookup` for keys the caller has already fetched, so this
module does no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any, Protocol

import nacl.exceptions
from canonicaljson import encode_canonical_json
from signedjson.key import SigningKey, VerifyKey
from signedjson.sign import sign_json
from unpaddedbase64 import decode_base64, encode_base64

from homeserver.rules.redaction import redact
from homeserver.types.ids import server_name_of
from homeserver.types.room_versions import EventIdFormat, RoomVersion


class SignatureError(Exception):
    """An event's signatures do not check out: the event must be dropped."""


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
    """The event ID: v1/v2 events carry theirs in `event_id`; later versions derive it
    from the reference hash (standard base64 in v3, URL-safe from v4)."""
    fmt = room_version.event_id_format
    if fmt is EventIdFormat.LOCAL:
        event_id = event.get("event_id")
        if not isinstance(event_id, str):
            raise ValueError("events of this room version carry their own event_id")
        return event_id
    digest = reference_hash(room_version, event)
    return "$" + encode_base64(digest, urlsafe=fmt is EventIdFormat.HASH_URLSAFE)


def add_content_hash(event: dict[str, Any]) -> dict[str, Any]:
    """Set `hashes.sha256` to the content hash (in place)."""
    event["hashes"] = {"sha256": encode_base64(content_hash(event))}
    return event


def sign_event(
    room_version: RoomVersion, event: dict[str, Any], server_name: str, signing_key: SigningKey
) -> dict[str, Any]:
    """Add `server_name`'s signature over the redacted event, keeping the others (in place).

    Used for our own events, and to co-sign others' (a restricted join we authorise).
    """
    redacted = redact(room_version, event)
    redacted.pop("signatures", None)
    redacted.pop("unsigned", None)
    signature = sign_json(redacted, server_name, signing_key)["signatures"][server_name]
    signatures = {k: dict(v) for k, v in (event.get("signatures") or {}).items()}
    signatures.setdefault(server_name, {}).update(signature)
    event["signatures"] = signatures
    return event


def add_hashes_and_signature(
    room_version: RoomVersion, event: dict[str, Any], server_name: str, signing_key: SigningKey
) -> dict[str, Any]:
    """Hash then sign an outgoing event (in place), as the spec's example code does."""
    add_content_hash(event)
    return sign_event(room_version, event, server_name, signing_key)


class VerifyKeyLookup(Protocol):
    """Verify keys the caller already holds (our own, or fetched from other servers)."""

    def get_verify_key(
        self, server_name: str, key_id: str, minimum_valid_until_ts: int
    ) -> VerifyKey | None:
        """The key, if known and valid until at least `minimum_valid_until_ts`."""
        ...


class InMemoryKeyLookup:
    """Keys held in memory, each with the time (ms) until which it may verify events.

    Serves this server's own keys, and tests.
    """

    def __init__(self, keys: Mapping[tuple[str, str], tuple[VerifyKey, int]]) -> None:
        self._keys = dict(keys)

    def get_verify_key(
        self, server_name: str, key_id: str, minimum_valid_until_ts: int
    ) -> VerifyKey | None:
        entry = self._keys.get((server_name, key_id))
        if entry is None or entry[1] < minimum_valid_until_ts:
            return None
        return entry[0]


def required_signers(room_version: RoomVersion, event: Mapping[str, Any]) -> set[str]:
    """The servers whose signatures an event needs: the sender's (but a third-party invite
    may come from elsewhere), the event ID's in v1/v2, and from v8 the server of a
    restricted join's authorising user (auth rule 5.2)."""
    content = event.get("content")
    content = content if isinstance(content, Mapping) else {}
    is_member = event.get("type") == "m.room.member"
    servers: set[str] = set()
    if not (
        is_member and content.get("membership") == "invite" and "third_party_invite" in content
    ):
        servers.add(server_name_of(str(event.get("sender", ""))))
    if room_version.event_id_has_domain:
        servers.add(server_name_of(str(event.get("event_id", ""))))
    via = content.get("join_authorised_via_users_server")
    if room_version.restricted_join_rule and is_member and isinstance(via, str):
        servers.add(server_name_of(via))
    return servers


def verify_event_signatures(
    room_version: RoomVersion, event: Mapping[str, Any], keys: VerifyKeyLookup
) -> None:
    """Check every required signer's signatures with the keys we know (raises SignatureError).

    Signatures by unknown keys, or (v5+) keys that expired before the event's
    origin_server_ts, are skipped; each required server needs at least one that verifies,
    and every signature by a usable key must verify.
    """
    signatures = event.get("signatures")
    if not isinstance(signatures, Mapping):
        raise SignatureError("the event has no signatures")
    redacted = redact(room_version, event)
    redacted.pop("signatures", None)
    redacted.pop("unsigned", None)
    message = encode_canonical_json(redacted)
    valid_at = event.get("origin_server_ts", 0) if room_version.enforce_key_validity else 0
    valid_at = valid_at if isinstance(valid_at, int) else 0
    for server_name in sorted(required_signers(room_version, event)):
        by_server = signatures.get(server_name)
        if not isinstance(by_server, Mapping):
            raise SignatureError(f"no signature from {server_name}")
        verified = False
        for key_id, signature in by_server.items():
            if not key_id.startswith("ed25519:"):
                continue
            verify_key = keys.get_verify_key(server_name, key_id, valid_at)
            if verify_key is None:
                continue
            try:
                verify_key.verify(message, decode_base64(signature))
            except (ValueError, TypeError, nacl.exceptions.CryptoError):
                raise SignatureError(f"bad signature from {server_name} ({key_id})") from None
            verified = True
        if not verified:
            raise SignatureError(f"no known key of {server_name} signed the event")


def check_content_hash(event: Mapping[str, Any]) -> bool:
    """Whether the content hash matches; a mismatch means the event must be redacted."""
    hashes = event.get("hashes")
    if not isinstance(hashes, Mapping) or not isinstance(hashes.get("sha256"), str):
        return False
    try:
        expected = decode_base64(hashes["sha256"])
    except ValueError:
        return False
    return expected == content_hash(event)


def verify_received_event(
    room_version: RoomVersion, event: Mapping[str, Any], keys: VerifyKeyLookup
) -> dict[str, Any]:
    """Steps 2-3 of the checks on receipt of a PDU: signatures (else SignatureError: drop
    the event), then the content hash. Returns the event to process: as received, or
    redacted when the hash does not match."""
    verify_event_signatures(room_version, event, keys)
    if check_content_hash(event):
        return dict(event)
    return redact(room_version, event)
