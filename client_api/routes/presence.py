"""GET/PUT /presence/{userId}/status."""

from __future__ import annotations

from typing import Any

from homeserver.http.json_body import RequestBody
from homeserver.http.routing import Auth, RequestContext, RouteTable

routes = RouteTable()


class PresenceBody(RequestBody):
    presence: str
    status_msg: str | None = None


@routes.client(
    "PUT",
    "/presence/{user_id}/status",
    auth=Auth.REQUIRED,
    allow_guests=True,
    body=PresenceBody,
    activity=False,
)
async def set_presence(ctx: RequestContext, body: PresenceBody) -> dict[str, Any]:
    await ctx.services.presence.set_status(
        ctx.user, ctx.path("user_id"), body.presence, body.status_msg
    )
    return {}


@routes.client("GET", "/presence/{user_id}/status", auth=Auth.REQUIRED, allow_guests=True)
async def get_presence(ctx: RequestContext) -> dict[str, Any]:
    return await ctx.services.presence.get_status(ctx.user, ctx.path("user_id"))
