"""Pushers: listing and setting where a user's notifications are sent."""

from __future__ import annotations

from typing import Any

from homeserver.http.json_body import RequestBody
from homeserver.http.routing import Auth, RequestContext, RouteTable

routes = RouteTable()


class SetPusherBody(RequestBody):
    kind: str | None
    app_id: str
    pushkey: str
    app_display_name: str | None = None
    device_display_name: str | None = None
    profile_tag: str | None = None
    lang: str | None = None
    data: dict[str, Any] | None = None
    append: bool = False


@routes.client("GET", "/pushers", auth=Auth.REQUIRED)
async def get_pushers(ctx: RequestContext) -> dict[str, Any]:
    return {"pushers": await ctx.services.pushers.list(ctx.user.user_id)}


@routes.client("POST", "/pushers/set", auth=Auth.REQUIRED, body=SetPusherBody)
async def set_pusher(ctx: RequestContext, body: SetPusherBody) -> dict[str, Any]:
    await ctx.services.pushers.set(ctx.user, body.model_dump())
    return {}
