"""Room aliases and the room directory listing of a room."""

from __future__ import annotations

from typing import Any, Literal

from homeserver.http.json_body import RequestBody
from homeserver.http.query import query_int, query_str
from homeserver.http.routing import Auth, RequestContext, RouteTable

routes = RouteTable()


class AliasBody(RequestBody):
    room_id: str


class VisibilityBody(RequestBody):
    visibility: Literal["public", "private"] = "public"


@routes.client("PUT", "/directory/room/{alias}", auth=Auth.REQUIRED, body=AliasBody)
async def create_alias(ctx: RequestContext, body: AliasBody) -> dict[str, Any]:
    await ctx.services.directory.create_alias(ctx.user, ctx.path("alias"), body.room_id)
    return {}


@routes.client("GET", "/directory/room/{alias}")
async def resolve_alias(ctx: RequestContext) -> dict[str, Any]:
    room_id, servers = await ctx.services.aliases.resolve(ctx.path("alias"))
    return {"room_id": room_id, "servers": servers}


@routes.client("DELETE", "/directory/room/{alias}", auth=Auth.REQUIRED)
async def delete_alias(ctx: RequestContext) -> dict[str, Any]:
    await ctx.services.directory.delete_alias(ctx.user, ctx.path("alias"))
    return {}


@routes.client("GET", "/rooms/{room_id}/aliases", auth=Auth.REQUIRED)
async def room_aliases(ctx: RequestContext) -> dict[str, Any]:
    return {"aliases": await ctx.services.directory.room_aliases(ctx.user, ctx.path("room_id"))}


@routes.client("GET", "/directory/list/room/{room_id}")
async def get_visibility(ctx: RequestContext) -> dict[str, Any]:
    return {"visibility": await ctx.services.directory.visibility(ctx.path("room_id"))}


@routes.client("PUT", "/directory/list/room/{room_id}", auth=Auth.REQUIRED, body=VisibilityBody)
async def set_visibility(ctx: RequestContext, body: VisibilityBody) -> dict[str, Any]:
    await ctx.services.directory.set_visibility(ctx.user, ctx.path("room_id"), body.visibility)
    return {}


class PublicRoomsFilter(RequestBody):
    generic_search_term: str | None = None
    room_types: list[str | None] | None = None


class PublicRoomsBody(RequestBody):
    limit: int | None = None
    since: str | None = None
    server: str | None = None
    filter: PublicRoomsFilter | None = None
    include_all_networks: bool = False
    third_party_instance_id: str | None = None


@routes.client("GET", "/publicRooms", auth=Auth.OPTIONAL, allow_guests=True)
async def public_rooms(ctx: RequestContext) -> dict[str, Any]:
    return await ctx.services.public_rooms.list(
        limit=query_int(ctx.query, "limit", None, minimum=0),
        since=query_str(ctx.query, "since"),
        search=None,
    )


@routes.client("POST", "/publicRooms", auth=Auth.REQUIRED, allow_guests=True, body=PublicRoomsBody)
async def search_public_rooms(ctx: RequestContext, body: PublicRoomsBody) -> dict[str, Any]:
    return await ctx.services.public_rooms.list(
        limit=body.limit,
        since=body.since,
        search=body.filter.generic_search_term if body.filter else None,
    )
