"""GET /capabilities."""

from __future__ import annotations

from typing import Any

from homeserver.http.routing import Auth, RequestContext, RouteTable

routes = RouteTable()


@routes.client("GET", "/capabilities", auth=Auth.REQUIRED, allow_guests=True)
async def capabilities(ctx: RequestContext) -> dict[str, Any]:
    return {"capabilities": ctx.services.capabilities.for_user(ctx.user)}
