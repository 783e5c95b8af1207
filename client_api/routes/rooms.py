"""Creating rooms, sending events and state, redacting."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from homeserver.http.json_body import RequestBody
from homeserver.http.routing import Auth, RequestContext, RouteTable
from homeserver.services.rooms.room_creation import CreateRoomRequest

routes = RouteTable()
ROOM = "/rooms/{room_id}"


class StateEventModel(RequestBody):
    type: str
    state_key: str = ""
    content: dict[str, Any]


class CreateRoomBody(RequestBody):
    visibility: Literal["public", "private"] = "private"
    room_alias_name: str | None = None
    name: str | None = None
    topic: str | None = None
    invite: list[str] = Field(default_factory=list)
    invite_3pid: list[dict[str, Any]] = Field(default_factory=list)
    room_version: str | None = None
    creation_content: dict[str, Any] = Field(default_factory=dict)
    initial_state: list[StateEventModel] = Field(default_factory=list)
    preset: Literal["private_chat", "public_chat", "trusted_private_chat"] | None = None
    is_direct: bool = False
    power_level_content_override: dict[str, Any] | None = None


@routes.client("POST", "/createRoom", auth=Auth.REQUIRED, body=CreateRoomBody)
async def create_room(ctx: RequestContext, body: CreateRoomBody) -> dict[str, Any]:
    room_id, alias = await ctx.services.room_creation.create(
        CreateRoomRequest(
            creator=ctx.user.user_id,
            visibility=body.visibility,
            preset=body.preset,
            room_version=body.room_version,
            room_alias_name=body.room_alias_name,
            name=body.name,
            topic=body.topic,
            invite=body.invite,
            is_direct=body.is_direct,
            creation_content=body.creation_content,
            initial_state=[item.model_dump() for item in body.initial_state],
            power_level_content_override=body.power_level_content_override,
        )
    )
    response: dict[str, Any] = {"room_id": room_id}
    if alias is not None:
        response["room_alias"] = alias
    return response


async def _send(ctx: RequestContext, txn_id: str | None) -> dict[str, Any]:
    sent = await ctx.services.room_events.send_message(
        ctx.user, ctx.path("room_id"), ctx.path("event_type"), ctx.json, txn_id
    )
    return {"event_id": sent.event.event_id}


@routes.client("PUT", ROOM + "/send/{event_type}/{txn_id}", auth=Auth.REQUIRED, allow_guests=True)
async def send_event(ctx: RequestContext) -> dict[str, Any]:
    return await _send(ctx, ctx.path("txn_id"))


@routes.client("POST", ROOM + "/send/{event_type}", auth=Auth.REQUIRED, allow_guests=True)
async def send_event_without_txn(ctx: RequestContext) -> dict[str, Any]:
    """The r0-era form without a transaction ID (still used by SyTest and old bots): each
    call sends a new event, and nothing is recorded for retries."""
    return await _send(ctx, None)


async def _put_state(ctx: RequestContext, state_key: str) -> dict[str, Any]:
    sent = await ctx.services.room_events.set_state(
        ctx.user, ctx.path("room_id"), ctx.path("event_type"), state_key, ctx.json
    )
    return {"event_id": sent.event.event_id}


@routes.client("PUT", ROOM + "/state/{event_type}/{state_key}", auth=Auth.REQUIRED)
async def put_state(ctx: RequestContext) -> dict[str, Any]:
    return await _put_state(ctx, ctx.path("state_key"))


@routes.client("PUT", ROOM + "/state/{event_type}", auth=Auth.REQUIRED)
@routes.client("PUT", ROOM + "/state/{event_type}/", auth=Auth.REQUIRED)
async def put_state_empty_key(ctx: RequestContext) -> dict[str, Any]:
    return await _put_state(ctx, "")


class RedactBody(RequestBody):
    reason: str | None = None


@routes.client(
    "PUT",
    ROOM + "/redact/{event_id}/{txn_id}",
    auth=Auth.REQUIRED,
    allow_guests=True,
    body=RedactBody,
)
async def redact(ctx: RequestContext, body: RedactBody) -> dict[str, Any]:
    sent = await ctx.services.room_events.redact(
        ctx.user, ctx.path("room_id"), ctx.path("event_id"), ctx.json, ctx.path("txn_id")
    )
    return {"event_id": sent.event.event_id}


class UpgradeBody(RequestBody):
    new_version: str
    additional_creators: list[str] = Field(default_factory=list)


@routes.client("POST", ROOM + "/upgrade", auth=Auth.REQUIRED, body=UpgradeBody)
async def upgrade(ctx: RequestContext, body: UpgradeBody) -> dict[str, Any]:
    new_room = await ctx.services.room_upgrade.upgrade(
        ctx.path("room_id"), ctx.user.user_id, body.new_version, body.additional_creators
    )
    return {"replacement_room": new_room}
