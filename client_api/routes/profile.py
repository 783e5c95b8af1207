"""Profiles: the whole profile and single fields."""

from __future__ import annotations

from typing import Any

from homeserver.http.routing import Auth, RequestContext, RouteTable

routes = RouteTable()


@routes.client("GET", "/profile/{user_id}", auth=Auth.OPTIONAL, allow_guests=True)
async def get_profile(ctx: RequestContext) -> dict[str, Any]:
    return await ctx.services.profiles.get_profile(ctx.path("user_id"))


@routes.client("GET", "/profile/{user_id}/{field}", auth=Auth.OPTIONAL, allow_guests=True)
async def get_profile_field(ctx: RequestContext) -> dict[str, Any]:
    return await ctx.services.profiles.get_field(ctx.path("user_id"), ctx.path("field"))


@routes.client("PUT", "/profile/{user_id}/{field}", auth=Auth.REQUIRED, allow_guests=True)
async def set_profile_field(ctx: RequestContext) -> dict[str, Any]:
    await ctx.services.profiles.set_field(
        ctx.user, ctx.path("user_id"), ctx.path("field"), ctx.json
    )
    return {}


@routes.client("DELETE", "/profile/{user_id}/{field}", auth=Auth.REQUIRED, allow_guests=True)
async def delete_profile_field(ctx: RequestContext) -> dict[str, Any]:
    await ctx.services.profiles.delete_field(ctx.user, ctx.path("user_id"), ctx.path("field"))
    return {}
