"""GET /notifications: the events that notified the user, newest first."""

from __future__ import annotations

from typing import Any

from homeserver.http.query import query_int, query_str
from homeserver.http.routing import Auth, RequestContext, RouteTable

routes = RouteTable()


@routes.client("GET", "/notifications", auth=Auth.REQUIRED)
async def notifications(ctx: RequestContext) -> dict[str, Any]:
    return await ctx.services.notifications.list(
        ctx.user,
        query_str(ctx.query, "from"),
        query_int(ctx.query, "limit", minimum=1),
        query_str(ctx.query, "only"),
    )
