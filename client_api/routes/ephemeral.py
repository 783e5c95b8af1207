"""Typing, receipts and read markers."""

from __future__ import annotations

from typing import Any

from homeserver.http.json_body import RequestBody
from homeserver.http.routing import Auth, RequestContext, RouteTable

routes = RouteTable()
ROOM = "/rooms/{room_id}"


class TypingBody(RequestBody):
    typing: bool
    timeout: int | None = None


class ReceiptBody(RequestBody):
    thread_id: str | None = None


@routes.client(
    "PUT", ROOM + "/typing/{user_id}", auth=Auth.REQUIRED, allow_guests=True, body=TypingBody
)
async def typing(ctx: RequestContext, body: TypingBody) -> dict[str, Any]:
    await ctx.services.typing.set_typing(
        ctx.user, ctx.path("room_id"), ctx.path("user_id"), body.typing, body.timeout
    )
    return {}


@routes.client(
    "POST",
    ROOM + "/receipt/{receipt_type}/{event_id}",
    auth=Auth.REQUIRED,
    allow_guests=True,
    body=ReceiptBody,
)
async def receipt(ctx: RequestContext, body: ReceiptBody) -> dict[str, Any]:
    await ctx.services.receipts.receipt(
        ctx.user,
        ctx.path("room_id"),
        ctx.path("receipt_type"),
        ctx.path("event_id"),
        body.thread_id,
    )
    return {}


@routes.client("POST", ROOM + "/read_markers", auth=Auth.REQUIRED, allow_guests=True)
async def read_markers(ctx: RequestContext) -> dict[str, Any]:
    await ctx.services.receipts.read_markers(ctx.user, ctx.path("room_id"), ctx.json)
    return {}
