"""Events as clients see them (spec: client-server API "Room Event Format").

Redacted events show the content the version's redaction algorithm keeps, with the
redaction in `unsigned.redacted_because`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeserver.rules.redaction import redact
from homeserver.types.event import Event

_CLIENT_KEYS = ("content", "origin_server_ts", "room_id", "sender", "type", "state_key")


def client_event(
    event: Event,
    *,
    now_ms: int,
    redacted_because: Event | None = None,
    transaction_id: str | None = None,
    prev_content: Mapping[str, Any] | None = None,
    include_room_id: bool = True,
) -> dict[str, Any]:
    source: Mapping[str, Any] = event.data
    if redacted_because is not None:
        source = redact(event.room_version, source)
    result: dict[str, Any] = {k: source[k] for k in _CLIENT_KEYS if k in source}
    result["event_id"] = event.event_id
    result["room_id"] = event.room_id
    if not include_room_id:
        result.pop("room_id")
    if event.redacts is not None and redacted_because is None:
        # v11 moved `redacts` into content; clients of older versions read the top level.
        result["redacts"] = event.redacts
    unsigned: dict[str, Any] = {"age": max(0, now_ms - event.origin_server_ts)}
    if redacted_because is not None:
        unsigned["redacted_because"] = client_event(redacted_because, now_ms=now_ms)
    if transaction_id is not None:
        unsigned["transaction_id"] = transaction_id
    if prev_content is not None:
        unsigned["prev_content"] = dict(prev_content)
    result["unsigned"] = unsigned
    return result
