"""One /sync request as the service sees it (shared by the HTTP and WebSocket routes)."""

from __future__ import annotations

from dataclasses import dataclass

from homeserver.rules.event_filter import Filter
from homeserver.types.requester import Requester
from homeserver.types.stream_token import StreamToken


@dataclass(frozen=True)
class SyncRequest:
    requester: Requester
    since: StreamToken | None
    timeout_ms: int
    full_state: bool
    filter: Filter
    set_presence: str | None = None
