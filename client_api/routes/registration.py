"""POST /register, /register/available and the registration-token validity check."""

from __future__ import annotations

from typing import Any

from homeserver.http.json_body import RequestBody
from homeserver.http.query import query_str
from homeserver.http.routing import RequestContext, RouteTable
from homeserver.types.errors import BadRequest, Codes, Forbidden

routes = RouteTable()


class RegisterBody(RequestBody):
    username: str | None = None
    password: str | None = None
    device_id: str | None = None
    initial_device_display_name: str | None = None
    inhibit_login: bool = False
    refresh_token: bool = False
    auth: dict[str, Any] | None = None
    guest_access_token: str | None = None


@routes.client("POST", "/register", ratelimit="registration_per_ip", body=RegisterBody)
async def register(ctx: RequestContext, body: RegisterBody) -> dict[str, Any]:
    kind = ctx.query.get("kind", "user")
    if kind not in ("user", "guest"):
        raise BadRequest(f"Unknown account kind {kind!r}", Codes.INVALID_PARAM)
    registered = await ctx.services.registration.register(
        ctx.json, ctx.http.path, guest=kind == "guest"
    )
    return registered.to_json(ctx.services.server_name)


@routes.client("GET", "/register/available", ratelimit="registration_per_ip")
async def register_available(ctx: RequestContext) -> dict[str, Any]:
    username = query_str(ctx.query, "username", required=True)
    assert username is not None
    await ctx.services.registration.check_available(username)
    return {"available": True}


@routes.client(
    "GET",
    "/register/m.login.registration_token/validity",
    versions=("v1",),
    ratelimit="registration_per_ip",
)
async def registration_token_validity(ctx: RequestContext) -> dict[str, Any]:
    token = query_str(ctx.query, "token", required=True)
    assert token is not None
    if not ctx.services.registration.policy.enabled:
        raise Forbidden("Registration is disabled")
    return {"valid": ctx.services.uia.is_valid_registration_token(token)}
