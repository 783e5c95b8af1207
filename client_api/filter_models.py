"""The shape of filter JSON, checked at the edge before anything stores or applies it."""

from __future__ import annotations

import functools
import json
from typing import Annotated, Any, Literal

from pydantic import Field

from homeserver.http.json_body import RequestBody, validate_body
from homeserver.rules.event_filter import Filter
from homeserver.types.errors import BadRequest, Codes

Limit = Annotated[int, Field(ge=0)]
# Type patterns are matched against every event a filter is applied to: bounded in number
# and length (spec-valid filters name a handful of short types).
MAX_TYPE_PATTERNS = 100
MAX_TYPE_PATTERN_LENGTH = 255
TypePatterns = Annotated[
    list[Annotated[str, Field(max_length=MAX_TYPE_PATTERN_LENGTH)]],
    Field(max_length=MAX_TYPE_PATTERNS),
]
# Filters name rooms and users by ID; anything else is a client bug worth a 400.
RoomIds = list[Annotated[str, Field(pattern=r"^!")]]
UserIds = list[Annotated[str, Field(pattern=r"^@")]]


class EventFilterModel(RequestBody):
    limit: Limit | None = None
    types: TypePatterns | None = None
    not_types: TypePatterns | None = None
    senders: UserIds | None = None
    not_senders: UserIds | None = None


class RoomEventFilterModel(EventFilterModel):
    rooms: RoomIds | None = None
    not_rooms: RoomIds | None = None
    contains_url: bool | None = None
    lazy_load_members: bool | None = None
    include_redundant_members: bool | None = None
    unread_thread_notifications: bool | None = None


class RoomFilterModel(RequestBody):
    rooms: RoomIds | None = None
    not_rooms: RoomIds | None = None
    include_leave: bool | None = None
    timeline: RoomEventFilterModel | None = None
    state: RoomEventFilterModel | None = None
    ephemeral: RoomEventFilterModel | None = None
    account_data: RoomEventFilterModel | None = None


class FilterModel(RequestBody):
    event_fields: list[str] | None = None
    event_format: Literal["client", "federation"] | None = None
    presence: EventFilterModel | None = None
    account_data: EventFilterModel | None = None
    room: RoomFilterModel | None = None


def _parse_inline(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        raise BadRequest("filter is neither a filter ID nor JSON", Codes.NOT_JSON) from None
    if not isinstance(value, dict):
        raise BadRequest("filter must be a JSON object", Codes.BAD_JSON)
    return value


@functools.lru_cache(maxsize=1024)
def inline_filter(raw: str) -> Filter:
    """A whole filter given as JSON in a query parameter (e.g. /sync?filter={...}).

    Clients repeat the same filter on every long-poll, and validating it was a noticeable
    part of an empty sync: parsed filters (frozen) are kept by their text. Invalid ones
    raise, and exceptions are not cached."""
    data = _parse_inline(raw)
    validate_body(FilterModel, data)
    return Filter.from_json(data)


def inline_room_event_filter(raw: str) -> dict[str, Any]:
    """A RoomEventFilter given as JSON in a query parameter (/messages, /context)."""
    data = _parse_inline(raw)
    validate_body(RoomEventFilterModel, data)
    return data
