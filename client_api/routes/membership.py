"""Membership endpoints."""

from __future__ import annotations

from typing import Any

from homeserver.http.json_body import RequestBody
from homeserver.http.routing import Auth, RequestContext, RouteTable

routes = RouteTable()
ROOM = "/rooms/{room_id}"


class ReasonBody(RequestBody):
    reason: str | None = None


class TargetBody(RequestBody):
    user_id: str
    reason: str | None = None


class InviteBody(TargetBody):
    is_direct: bool = False


async def _join(ctx: RequestContext, room: str, body: ReasonBody) -> dict[str, Any]:
    room_id = await ctx.services.membership.join(
        room, ctx.user.user_id, body.reason, is_guest=ctx.user.is_guest, extra_content=ctx.json
    )
    return {"room_id": room_id}


@routes.client("POST", "/join/{room}", auth=Auth.REQUIRED, allow_guests=True, body=ReasonBody)
async def join_by_id_or_alias(ctx: RequestContext, body: ReasonBody) -> dict[str, Any]:
    return await _join(ctx, ctx.path("room"), body)


@routes.client("POST", ROOM + "/join", auth=Auth.REQUIRED, allow_guests=True, body=ReasonBody)
async def join(ctx: RequestContext, body: ReasonBody) -> dict[str, Any]:
    return await _join(ctx, ctx.path("room_id"), body)


@routes.client("POST", "/knock/{room}", auth=Auth.REQUIRED, body=ReasonBody)
async def knock(ctx: RequestContext, body: ReasonBody) -> dict[str, Any]:
    room_id = await ctx.services.membership.knock(ctx.path("room"), ctx.user.user_id, body.reason)
    return {"room_id": room_id}


@routes.client("POST", ROOM + "/invite", auth=Auth.REQUIRED, body=InviteBody)
async def invite(ctx: RequestContext, body: InviteBody) -> dict[str, Any]:
    await ctx.services.membership.invite(
        ctx.path("room_id"), ctx.user.user_id, body.user_id, body.reason, is_direct=body.is_direct
    )
    return {}


@routes.client("POST", ROOM + "/leave", auth=Auth.REQUIRED, allow_guests=True, body=ReasonBody)
async def leave(ctx: RequestContext, body: ReasonBody) -> dict[str, Any]:
    await ctx.services.membership.leave(ctx.path("room_id"), ctx.user.user_id, body.reason)
    return {}


@routes.client("POST", ROOM + "/forget", auth=Auth.REQUIRED, allow_guests=True)
async def forget(ctx: RequestContext) -> dict[str, Any]:
    await ctx.services.membership.forget(ctx.path("room_id"), ctx.user.user_id)
    return {}


@routes.client("POST", ROOM + "/kick", auth=Auth.REQUIRED, body=TargetBody)
async def kick(ctx: RequestContext, body: TargetBody) -> dict[str, Any]:
    await ctx.services.membership.kick(
        ctx.path("room_id"), ctx.user.user_id, body.user_id, body.reason
    )
    return {}


@routes.client("POST", ROOM + "/ban", auth=Auth.REQUIRED, body=TargetBody)
async def ban(ctx: RequestContext, body: TargetBody) -> dict[str, Any]:
    await ctx.services.membership.ban(
        ctx.path("room_id"), ctx.user.user_id, body.user_id, body.reason
    )
    return {}


@routes.client("POST", ROOM + "/unban", auth=Auth.REQUIRED, body=TargetBody)
async def unban(ctx: RequestContext, body: TargetBody) -> dict[str, Any]:
    await ctx.services.membership.unban(
        ctx.path("room_id"), ctx.user.user_id, body.user_id, body.reason
    )
    return {}
