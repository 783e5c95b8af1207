"""GET /sync."""

from __future__ import annotations

from typing import Any

from client_api.filter_models import inline_filter
from homeserver.http.query import query_bool, query_int, query_str
from homeserver.http.routing import Auth, RequestContext, RouteTable
from homeserver.rules.event_filter import Filter
from homeserver.services.sync.sync_request import SyncRequest
from homeserver.types.errors import BadRequest, Codes
from homeserver.types.stream_token import InvalidToken, StreamToken

routes = RouteTable()

_PRESENCE_STATES = ("online", "offline", "unavailable")
# Filters are immutable; most clients sync without one, so build it once.
_NO_FILTER = Filter()


async def parse_sync_request(ctx: RequestContext) -> SyncRequest:
    """The query parameters of /sync (shared with the WebSocket endpoint)."""
    since_raw = query_str(ctx.query, "since")
    since = None
    if since_raw is not None:
        try:
            since = StreamToken.parse(since_raw)
        except InvalidToken:
            raise BadRequest("Invalid since token", Codes.INVALID_PARAM) from None
    set_presence = query_str(ctx.query, "set_presence")
    if set_presence is not None and set_presence not in _PRESENCE_STATES:
        raise BadRequest("set_presence must be online, offline or unavailable", Codes.INVALID_PARAM)
    raw_filter = query_str(ctx.query, "filter")
    if raw_filter is None:
        sync_filter = _NO_FILTER
    elif raw_filter.lstrip().startswith("{"):
        sync_filter = inline_filter(raw_filter)
    else:
        sync_filter = await ctx.services.filters.load(ctx.user, raw_filter)
    timeout_ms = query_int(ctx.query, "timeout", 0, minimum=0)
    assert timeout_ms is not None
    return SyncRequest(
        requester=ctx.user,
        since=since,
        timeout_ms=timeout_ms,
        full_state=query_bool(ctx.query, "full_state", False),
        filter=sync_filter,
        set_presence=set_presence,
    )


@routes.client("GET", "/sync", auth=Auth.REQUIRED, allow_guests=True)
async def sync(ctx: RequestContext) -> dict[str, Any]:
    return await ctx.services.sync.sync(await parse_sync_request(ctx))
