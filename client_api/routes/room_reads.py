"""Reading rooms: state, members, events, history."""

from __future__ import annotations

from typing import Any

from client_api.filter_models import inline_room_event_filter
from homeserver.http.json_body import RequestBody
from homeserver.http.query import query_int, query_str
from homeserver.http.routing import Auth, RequestContext, RouteTable
from homeserver.rules.client_format import client_event
from homeserver.rules.event_filter import EventFilter
from homeserver.types.errors import BadRequest, Codes
from homeserver.types.stream_token import InvalidToken, StreamToken

routes = RouteTable()
ROOM = "/rooms/{room_id}"


@routes.client("GET", "/events", auth=Auth.REQUIRED, allow_guests=True)
async def events(ctx: RequestContext) -> dict[str, Any]:
    raw = query_str(ctx.query, "from")
    try:
        since = StreamToken.parse(raw) if raw is not None else None
    except InvalidToken:
        raise BadRequest("Invalid from token", Codes.INVALID_PARAM) from None
    timeout_ms = query_int(ctx.query, "timeout", 0, minimum=0)
    assert timeout_ms is not None
    return await ctx.services.event_stream.events(
        ctx.user, since, timeout_ms, query_str(ctx.query, "room_id")
    )


@routes.client("GET", "/joined_rooms", auth=Auth.REQUIRED, allow_guests=True)
async def joined_rooms(ctx: RequestContext) -> dict[str, Any]:
    return {"joined_rooms": await ctx.services.room_history.joined_rooms(ctx.user.user_id)}


@routes.client("GET", ROOM + "/state", auth=Auth.REQUIRED, allow_guests=True)
async def get_state(ctx: RequestContext) -> list[dict[str, Any]]:
    return await ctx.services.room_history.state_events(ctx.path("room_id"), ctx.user)


async def _state_event(ctx: RequestContext, state_key: str) -> dict[str, Any]:
    event = await ctx.services.room_history.state_event(
        ctx.path("room_id"), ctx.user, ctx.path("event_type"), state_key
    )
    fmt = ctx.query.get("format", "content")
    if fmt == "event":
        return client_event(event, now_ms=ctx.services.clock.time_ms())
    if fmt != "content":
        raise BadRequest("format must be content or event", Codes.INVALID_PARAM)
    return dict(event.content)


@routes.client(
    "GET", ROOM + "/state/{event_type}/{state_key}", auth=Auth.REQUIRED, allow_guests=True
)
async def get_state_event(ctx: RequestContext) -> dict[str, Any]:
    return await _state_event(ctx, ctx.path("state_key"))


@routes.client("GET", ROOM + "/state/{event_type}", auth=Auth.REQUIRED, allow_guests=True)
@routes.client("GET", ROOM + "/state/{event_type}/", auth=Auth.REQUIRED, allow_guests=True)
async def get_state_event_empty_key(ctx: RequestContext) -> dict[str, Any]:
    return await _state_event(ctx, "")


@routes.client("GET", ROOM + "/members", auth=Auth.REQUIRED, allow_guests=True)
async def members(ctx: RequestContext) -> dict[str, Any]:
    chunk = await ctx.services.room_history.members(
        ctx.path("room_id"),
        ctx.user,
        at=query_str(ctx.query, "at"),
        membership=query_str(ctx.query, "membership"),
        not_membership=query_str(ctx.query, "not_membership"),
    )
    return {"chunk": chunk}


@routes.client("GET", ROOM + "/joined_members", auth=Auth.REQUIRED, allow_guests=True)
async def joined_members(ctx: RequestContext) -> dict[str, Any]:
    return {"joined": await ctx.services.room_history.joined_members(ctx.path("room_id"), ctx.user)}


@routes.client("GET", ROOM + "/event/{event_id}", auth=Auth.REQUIRED, allow_guests=True)
async def get_event(ctx: RequestContext) -> dict[str, Any]:
    return await ctx.services.room_history.event(
        ctx.path("room_id"), ctx.path("event_id"), ctx.user
    )


@routes.client("GET", ROOM + "/messages", auth=Auth.REQUIRED, allow_guests=True)
async def messages(ctx: RequestContext) -> dict[str, Any]:
    direction = ctx.query.get("dir", "b")
    if direction not in ("b", "f"):
        raise BadRequest("dir must be b or f", Codes.INVALID_PARAM)
    raw_filter = query_str(ctx.query, "filter")
    event_filter = EventFilter.from_json(
        inline_room_event_filter(raw_filter) if raw_filter else None
    )
    limit = query_int(ctx.query, "limit", event_filter.limit or 10, minimum=0)
    assert limit is not None
    page = await ctx.services.room_history.messages(
        ctx.path("room_id"),
        ctx.user,
        from_token=query_str(ctx.query, "from"),
        to_token=query_str(ctx.query, "to"),
        backwards=direction == "b",
        limit=limit,
        event_filter=event_filter,
    )
    response: dict[str, Any] = {"chunk": page.chunk, "start": page.start}
    if page.end is not None:
        response["end"] = page.end
    if page.state:
        response["state"] = page.state
    return response


@routes.client("GET", ROOM + "/context/{event_id}", auth=Auth.REQUIRED, allow_guests=True)
async def context(ctx: RequestContext) -> dict[str, Any]:
    raw_filter = query_str(ctx.query, "filter")
    event_filter = EventFilter.from_json(
        inline_room_event_filter(raw_filter) if raw_filter else None
    )
    limit = query_int(ctx.query, "limit", 10, minimum=0)
    assert limit is not None
    return await ctx.services.room_history.context(
        ctx.path("room_id"), ctx.path("event_id"), ctx.user, limit=limit, event_filter=event_filter
    )


@routes.client(
    "GET", ROOM + "/timestamp_to_event", versions=("v1",), auth=Auth.REQUIRED, allow_guests=True
)
async def timestamp_to_event(ctx: RequestContext) -> dict[str, Any]:
    ts = query_int(ctx.query, "ts", None, minimum=0)
    if ts is None:
        raise BadRequest("Missing query parameter: ts", Codes.MISSING_PARAM)
    direction = ctx.query.get("dir")
    if direction not in ("f", "b"):
        raise BadRequest("dir must be f or b", Codes.INVALID_PARAM)
    return await ctx.services.room_history.event_at_timestamp(
        ctx.path("room_id"), ctx.user, ts, forwards=direction == "f"
    )


class ReportBody(RequestBody):
    reason: str | None = None
    score: int | None = None


@routes.client("POST", ROOM + "/report/{event_id}", auth=Auth.REQUIRED, body=ReportBody)
async def report_event(ctx: RequestContext, body: ReportBody) -> dict[str, Any]:
    await ctx.services.room_history.report(
        ctx.path("room_id"), ctx.user, ctx.path("event_id"), body.reason, body.score
    )
    return {}


@routes.client("POST", ROOM + "/report", auth=Auth.REQUIRED, body=ReportBody)
async def report_room(ctx: RequestContext, body: ReportBody) -> dict[str, Any]:
    await ctx.services.room_history.report(ctx.path("room_id"), ctx.user, None, body.reason, None)
    return {}
