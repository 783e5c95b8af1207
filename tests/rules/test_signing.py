"""Hashes and signatures against the spec's cryptographic test vectors (appendices)."""

from __future__ import annotations

import nacl.signing
from signedjson.key import get_verify_key
from signedjson.sign import sign_json
from unpaddedbase64 import decode_base64

from homeserver.rules.signing import (
    LocalKeyLookup,
    SignatureError,
    add_hashes_and_signature,
    check_content_hash,
    compute_event_id,
    verify_signature,
)
from homeserver.types.room_versions import ROOM_VERSIONS

SEED = "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1"


def _key() -> nacl.signing.SigningKey:
    key = nacl.signing.SigningKey(decode_base64(SEED))
    key.alg = "ed25519"  # type: ignore[attr-defined]
    key.version = "1"  # type: ignore[attr-defined]
    return key


def test_json_signing_vectors() -> None:
    assert sign_json({}, "domain", _key())["signatures"]["domain"]["ed25519:1"] == (
        "K8280/U9SSy9IVtjBuVeLr+HpOB4BQFWbg+UZaADMtTdGYI7Geitb76LTrr5QV/7Xg4ahLwYGYZzuHGZKM5ZAQ"
    )
    signed = sign_json({"one": 1, "two": "Two"}, "domain", _key())
    assert signed["signatures"]["domain"]["ed25519:1"] == (
        "KqmLSbO39/Bzb0QIYE82zqLwsA+PDzYIpIRA2sRQ4sL53+sN6/fpNSoqE7BP7vBZhG6kYdD13EIMJpvhJI+6Bw"
    )


def test_minimal_event_vector() -> None:
    event = {
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
        "unsigned": {"age_ts": 1000000},
    }
    add_hashes_and_signature(ROOM_VERSIONS["1"], event, "domain", _key())
    assert event["hashes"] == {"sha256": "5jM4wQpv6lnBo7CLIghJuHdW+s2CMBJPUOGOC89ncos"}
    assert event["signatures"]["domain"]["ed25519:1"] == (
        "KxwGjPSDEtvnFgU00fwFz+l6d2pJM6XBIaMEn81SXPTRl16AqLAYqfIReFGZlHi5KLjAWbOoMszkwsQma+lYAg"
    )
    assert event["unsigned"] == {"age_ts": 1000000}


def test_redactable_event_vector() -> None:
    event = {
        "content": {"body": "Here is the message content"},
        "event_id": "$0:domain",
        "origin": "domain",
        "origin_server_ts": 1000000,
        "type": "m.room.message",
        "room_id": "!r:domain",
        "sender": "@u:domain",
        "signatures": {},
        "unsigned": {"age_ts": 1000000},
    }
    add_hashes_and_signature(ROOM_VERSIONS["1"], event, "domain", _key())
    assert event["hashes"] == {"sha256": "onLKD1bGljeBWQhWZ1kaP9SorVmRQNdN5aM2JYU2n/g"}
    assert event["signatures"]["domain"]["ed25519:1"] == (
        "Wm+VzmOUOz08Ds+0NTWb1d4CZrVsJSikkeRxh6aCcUwu6pNC78FunoD7KNWzqFn241eYHYMGCA5McEiVPdhzBA"
    )


async def test_verification_and_tampering() -> None:
    version = ROOM_VERSIONS["10"]
    key = _key()
    lookup = LocalKeyLookup({("domain", "ed25519:1"): get_verify_key(key)})
    event = {
        "room_id": "!r:domain",
        "sender": "@u:domain",
        "type": "m.room.message",
        "content": {"body": "hello"},
        "origin_server_ts": 1,
        "depth": 1,
        "prev_events": [],
        "auth_events": [],
    }
    add_hashes_and_signature(version, event, "domain", key)
    await verify_signature(version, event, "domain", lookup)
    assert check_content_hash(event)

    # Changing redactable content breaks the content hash but not the signature.
    tampered = {**event, "content": {"body": "changed"}}
    assert not check_content_hash(tampered)
    await verify_signature(version, tampered, "domain", lookup)
    assert compute_event_id(version, tampered) == compute_event_id(version, event)

    # Changing a protected field breaks the signature.
    forged = {**event, "sender": "@mallory:domain"}
    try:
        await verify_signature(version, forged, "domain", lookup)
    except SignatureError:
        pass
    else:
        raise AssertionError("forged event verified")
    try:
        await verify_signature(version, event, "other", lookup)
    except SignatureError:
        pass
    else:
        raise AssertionError("unsigned server verified")


def test_event_id_formats() -> None:
    event = {
        "room_id": "!r:domain",
        "sender": "@u:domain",
        "type": "X",
        "content": {},
        "origin_server_ts": 1,
        "depth": 1,
        "prev_events": [],
        "auth_events": [],
        "hashes": {"sha256": "abc"},
    }
    v3 = compute_event_id(ROOM_VERSIONS["3"], event)
    v4 = compute_event_id(ROOM_VERSIONS["4"], event)
    assert v3.startswith("$") and v4.startswith("$")
    assert len(v4) == 44 and "+" not in v4 and "/" not in v4
    assert v3[1:].replace("+", "-").replace("/", "_") == v4[1:]
    assert compute_event_id(ROOM_VERSIONS["1"], {**event, "event_id": "$a:b"}) == "$a:b"


async def test_join_authorisation_signature() -> None:
    from homeserver.rules.signing import verify_join_authorisation
    from tests.rules.builder import KEY, SERVER, Room

    lookup = LocalKeyLookup({(SERVER, f"ed25519:{KEY.version}"): get_verify_key(KEY)})
    room = Room("10").public()
    signed_by_us = room.build(
        "m.room.member",
        "@carol:a.test",
        {"membership": "join", "join_authorised_via_users_server": "@alice:a.test"},
        state_key="@carol:a.test",
    )
    await verify_join_authorisation(signed_by_us, lookup)
    elsewhere = room.build(
        "m.room.member",
        "@carol:a.test",
        {"membership": "join", "join_authorised_via_users_server": "@zed:b.test"},
        state_key="@carol:a.test",
    )
    try:
        await verify_join_authorisation(elsewhere, lookup)
    except SignatureError:
        pass
    else:
        raise AssertionError("unsigned authorisation accepted")
