"""Hashes, event IDs and signatures: the spec's cryptographic test vectors (appendices),
byte for byte, and verification of received events."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from canonicaljson import encode_canonical_json
from signedjson.key import decode_signing_key_base64, get_verify_key
from signedjson.sign import sign_json

from homeserver.rules.signing import (
    InMemoryKeyLookup,
    SignatureError,
    add_hashes_and_signature,
    check_content_hash,
    compute_event_id,
    content_hash,
    reference_hash,
    required_signers,
    sign_event,
    verify_event_signatures,
    verify_received_event,
)
from homeserver.types.room_versions import KNOWN_ROOM_VERSIONS

SEED = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"
KEY = decode_signing_key_base64("ed25519", "1", SEED)
V1 = KNOWN_ROOM_VERSIONS["1"]
V10 = KNOWN_ROOM_VERSIONS["10"]
FOREVER = 2**62


def canonical(value: Any) -> str:
    return encode_canonical_json(value).decode()


def test_json_signing_vectors() -> None:
    assert canonical(sign_json({}, "domain", KEY)) == canonical(
        {
            "signatures": {
                "domain": {
                    "ed25519:1": "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV"
                    "/7Xg4ahLwYGYZzuHGZKM5ZAQ"
                }
            }
        }
    )
    signed = sign_json({"one": 1, "two": "Two"}, "domain", KEY)
    assert signed["signatures"]["domain"]["ed25519:1"] == (
        "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"
    )


MINIMAL_EVENT = """{
    "room_id": "!x:domain",
    "sender": "@a:domain",
    "origin": "domain",
    "origin_server_ts": 1000000,
    "signatures": {},
    "hashes": {},
    "type": "X",
    "content": {},
    "prev_events": [],
    "auth_events": [],
    "depth": 3,
    "unsigned": {
        "age_ts": 1000000
    }
}"""

MINIMAL_SIGNED = """{
    "auth_events": [],
    "content": {},
    "depth": 3,
    "hashes": {
        "sha256": "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"
    },
    "origin": "domain",
    "origin_server_ts": 1000000,
    "prev_events": [],
    "room_id": "!x:domain",
    "sender": "@a:domain",
    "signatures": {
        "domain": {
            "ed25519:1": "KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg"
        }
    },
    "type": "X",
    "unsigned": {
        "age_ts": 1000000
    }
}"""  # noqa: E501

REDACTABLE_EVENT = """{
    "content": {
        "body": "Here is the message content"
    },
    "event_id": "$0:domain",
    "origin": "domain",
    "origin_server_ts": 1000000,
    "type": "m.room.message",
    "room_id": "!r:domain",
    "sender": "@u:domain",
    "signatures": {},
    "unsigned": {
        "age_ts": 1000000
    }
}"""

REDACTABLE_SIGNED = """{
    "content": {
        "body": "Here is the message content"
    },
    "event_id": "$0:domain",
    "hashes": {
        "sha256": "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g"
    },
    "origin": "domain",
    "origin_server_ts": 1000000,
    "type": "m.room.message",
    "room_id": "!r:domain",
    "sender": "@u:domain",
    "signatures": {
        "domain": {
            "ed25519:1": "Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA"
        }
    },
    "unsigned": {
        "age_ts": 1000000
    }
}"""  # noqa: E501


@pytest.mark.parametrize(
    ("given", "expected"), [(MINIMAL_EVENT, MINIMAL_SIGNED), (REDACTABLE_EVENT, REDACTABLE_SIGNED)]
)
def test_event_signing_vectors(given: str, expected: str) -> None:
    """The spec's examples predate room versions; they sign like v1 (which keeps `origin`)."""
    event = json.loads(given)
    add_hashes_and_signature(V1, event, "domain", KEY)
    assert encode_canonical_json(event) == encode_canonical_json(json.loads(expected))


def test_content_and_reference_hashes_of_the_vector() -> None:
    event = json.loads(MINIMAL_SIGNED)
    assert check_content_hash(event)
    assert content_hash(event) == content_hash({**event, "unsigned": {"age": 5}})
    # The reference hash ignores signatures and unsigned but covers the hashes.
    assert reference_hash(V10, event) == reference_hash(V10, {**event, "signatures": {}})
    assert reference_hash(V10, event) != reference_hash(V10, {**event, "hashes": {}})


def test_event_id_formats() -> None:
    event = json.loads(MINIMAL_SIGNED)
    v3 = compute_event_id(KNOWN_ROOM_VERSIONS["3"], event)
    v4 = compute_event_id(KNOWN_ROOM_VERSIONS["4"], event)
    assert len(v4) == 44 and "+" not in v4 and "/" not in v4
    assert v3[1:].replace("+", "-").replace("/", "_") == v4[1:]
    # v1 and v2 take the ID the event carries.
    assert compute_event_id(V1, {**event, "event_id": "$a:b"}) == "$a:b"
    with pytest.raises(ValueError):
        compute_event_id(V1, event)


def test_event_id_is_the_reference_hash() -> None:
    from hashlib import sha256

    from unpaddedbase64 import encode_base64

    event = json.loads(MINIMAL_SIGNED)
    redacted = {k: v for k, v in event.items() if k not in ("signatures", "unsigned", "origin")}
    digest = sha256(encode_canonical_json(redacted)).digest()
    v11 = KNOWN_ROOM_VERSIONS["11"]  # which no longer keeps `origin`
    assert compute_event_id(v11, event) == "$" + encode_base64(digest, urlsafe=True)


def _signed_message(version: str = "10", **extra: Any) -> dict[str, Any]:
    event = {
        "room_id": "!r:domain",
        "sender": "@u:domain",
        "type": "m.room.message",
        "content": {"body": "hello"},
        "origin_server_ts": 5000,
        "depth": 1,
        "prev_events": [],
        "auth_events": [],
        **extra,
    }
    return add_hashes_and_signature(KNOWN_ROOM_VERSIONS[version], event, "domain", KEY)


def lookup(valid_until: int = FOREVER) -> InMemoryKeyLookup:
    return InMemoryKeyLookup({("domain", "ed25519:1"): (get_verify_key(KEY), valid_until)})


def test_verification_and_tampering() -> None:
    event = _signed_message()
    verify_event_signatures(V10, event, lookup())
    assert verify_received_event(V10, event, lookup()) == event

    # Changing redactable content breaks the content hash but not the signature: the
    # event is processed redacted.
    tampered = {**event, "content": {"body": "changed"}}
    assert not check_content_hash(tampered)
    assert verify_received_event(V10, tampered, lookup())["content"] == {}
    assert compute_event_id(V10, tampered) == compute_event_id(V10, event)

    # Changing a protected field breaks the signature.
    with pytest.raises(SignatureError, match="bad signature"):
        verify_event_signatures(V10, {**event, "depth": 2}, lookup())
    garbled = copy.deepcopy(event)
    garbled["signatures"]["domain"]["ed25519:1"] = "!!!"
    with pytest.raises(SignatureError, match="bad signature"):
        verify_event_signatures(V10, garbled, lookup())
    with pytest.raises(SignatureError, match="no signature from"):
        verify_event_signatures(V10, {**event, "sender": "@u:other"}, lookup())
    with pytest.raises(SignatureError, match="no known key"):
        verify_event_signatures(V10, event, InMemoryKeyLookup({}))
    with pytest.raises(SignatureError):
        verify_event_signatures(V10, {**event, "signatures": []}, lookup())


def test_unknown_keys_are_skipped() -> None:
    event = _signed_message()
    event["signatures"]["domain"]["ed25519:old"] = "bm90IGEgc2lnbmF0dXJl"
    event["signatures"]["domain"]["curve25519:x"] = "whatever"
    verify_event_signatures(V10, event, lookup())


@pytest.mark.parametrize(("version", "enforced"), [("4", False), ("5", True), ("12", True)])
def test_key_validity_from_v5(version: str, enforced: bool) -> None:
    room_version = KNOWN_ROOM_VERSIONS[version]
    event = _signed_message(version)
    verify_event_signatures(room_version, event, lookup(valid_until=5000))
    expired = lookup(valid_until=4999)
    if enforced:
        with pytest.raises(SignatureError, match="no known key"):
            verify_event_signatures(room_version, event, expired)
    else:
        verify_event_signatures(room_version, event, expired)


def test_required_signers() -> None:
    member = {"type": "m.room.member", "sender": "@u:a", "state_key": "@v:b"}
    join = {**member, "content": {"membership": "join", "join_authorised_via_users_server": "@w:c"}}
    invite_3pid = {**member, "content": {"membership": "invite", "third_party_invite": {}}}
    assert required_signers(V10, join) == {"a", "c"}
    assert required_signers(KNOWN_ROOM_VERSIONS["7"], join) == {"a"}
    assert required_signers(V10, invite_3pid) == set()
    assert required_signers(V1, {**member, "event_id": "$x:d", "content": {}}) == {"a", "d"}


def test_co_signing_a_restricted_join() -> None:
    other_key = decode_signing_key_base64("ed25519", "2", "b" * 43)
    keys = InMemoryKeyLookup(
        {
            ("domain", "ed25519:1"): (get_verify_key(KEY), FOREVER),
            ("c.test", "ed25519:2"): (get_verify_key(other_key), FOREVER),
        }
    )
    join = _signed_message(
        type="m.room.member",
        state_key="@u:domain",
        content={"membership": "join", "join_authorised_via_users_server": "@w:c.test"},
    )
    with pytest.raises(SignatureError, match=r"c\.test"):
        verify_event_signatures(V10, join, keys)
    event_id = compute_event_id(V10, join)
    sign_event(V10, join, "c.test", other_key)
    verify_event_signatures(V10, join, keys)
    assert set(join["signatures"]) == {"domain", "c.test"}
    assert compute_event_id(V10, join) == event_id  # signatures are not part of the ID
