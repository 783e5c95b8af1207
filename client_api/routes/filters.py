"""Uploading and downloading filters."""

from __future__ import annotations

from typing import Any

from client_api.filter_models import FilterModel
from homeserver.http.routing import Auth, RequestContext, RouteTable

routes = RouteTable()


@routes.client(
    "POST", "/user/{user_id}/filter", auth=Auth.REQUIRED, allow_guests=True, body=FilterModel
)
async def upload_filter(ctx: RequestContext, body: FilterModel) -> dict[str, Any]:
    filter_id = await ctx.services.filters.upload(ctx.user, ctx.path("user_id"), ctx.json)
    return {"filter_id": filter_id}


@routes.client("GET", "/user/{user_id}/filter/{filter_id}", auth=Auth.REQUIRED, allow_guests=True)
async def get_filter(ctx: RequestContext) -> dict[str, Any]:
    return await ctx.services.filters.get(ctx.user, ctx.path("user_id"), ctx.path("filter_id"))
