"""PUT /sendToDevice."""

from __future__ import annotations

from typing import Any

from homeserver.http.json_body import RequestBody
from homeserver.http.routing import Auth, RequestContext, RouteTable

routes = RouteTable()


class SendToDeviceBody(RequestBody):
    messages: dict[str, dict[str, dict[str, Any]]]


@routes.client(
    "PUT",
    "/sendToDevice/{event_type}/{txn_id}",
    auth=Auth.REQUIRED,
    allow_guests=True,
    body=SendToDeviceBody,
)
async def send_to_device(ctx: RequestContext, body: SendToDeviceBody) -> dict[str, Any]:
    await ctx.services.to_device.send(
        ctx.user, ctx.path("event_type"), ctx.path("txn_id"), body.messages
    )
    return {}
