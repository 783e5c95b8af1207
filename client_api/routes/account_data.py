"""Account data (global and per room) and room tags."""

from __future__ import annotations

from typing import Any

from homeserver.http.routing import Auth, RequestContext, RouteTable

routes = RouteTable()

USER = "/user/{user_id}"
ROOM = "/user/{user_id}/rooms/{room_id}"


@routes.client("PUT", USER + "/account_data/{type}", auth=Auth.REQUIRED, allow_guests=True)
async def put_global(ctx: RequestContext) -> dict[str, Any]:
    await ctx.services.account_data.put(
        ctx.user, ctx.path("user_id"), None, ctx.path("type"), ctx.json
    )
    return {}


@routes.client("GET", USER + "/account_data/{type}", auth=Auth.REQUIRED, allow_guests=True)
async def get_global(ctx: RequestContext) -> dict[str, Any]:
    return await ctx.services.account_data.get(
        ctx.user, ctx.path("user_id"), None, ctx.path("type")
    )


@routes.client("PUT", ROOM + "/account_data/{type}", auth=Auth.REQUIRED, allow_guests=True)
async def put_room(ctx: RequestContext) -> dict[str, Any]:
    await ctx.services.account_data.put(
        ctx.user, ctx.path("user_id"), ctx.path("room_id"), ctx.path("type"), ctx.json
    )
    return {}


@routes.client("GET", ROOM + "/account_data/{type}", auth=Auth.REQUIRED, allow_guests=True)
async def get_room(ctx: RequestContext) -> dict[str, Any]:
    return await ctx.services.account_data.get(
        ctx.user, ctx.path("user_id"), ctx.path("room_id"), ctx.path("type")
    )


@routes.client("GET", ROOM + "/tags", auth=Auth.REQUIRED, allow_guests=True)
async def get_tags(ctx: RequestContext) -> dict[str, Any]:
    return await ctx.services.account_data.tags(ctx.user, ctx.path("user_id"), ctx.path("room_id"))


@routes.client("PUT", ROOM + "/tags/{tag}", auth=Auth.REQUIRED, allow_guests=True)
async def put_tag(ctx: RequestContext) -> dict[str, Any]:
    await ctx.services.account_data.add_tag(
        ctx.user, ctx.path("user_id"), ctx.path("room_id"), ctx.path("tag"), ctx.json
    )
    return {}


@routes.client("DELETE", ROOM + "/tags/{tag}", auth=Auth.REQUIRED, allow_guests=True)
async def delete_tag(ctx: RequestContext) -> dict[str, Any]:
    await ctx.services.account_data.remove_tag(
        ctx.user, ctx.path("user_id"), ctx.path("room_id"), ctx.path("tag")
    )
    return {}
