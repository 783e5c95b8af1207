"""Login, logout and token refresh."""

from __future__ import annotations

from typing import Any

from homeserver.http.json_body import RequestBody
from homeserver.http.routing import Auth, RequestContext, RouteTable

routes = RouteTable()


class LoginBody(RequestBody):
    type: str
    identifier: dict[str, Any] | None = None
    user: str | None = None
    password: str | None = None
    device_id: str | None = None
    initial_device_display_name: str | None = None
    refresh_token: bool = False


class RefreshBody(RequestBody):
    refresh_token: str


@routes.client("GET", "/login", ratelimit="login_per_ip")
async def login_flows(ctx: RequestContext) -> dict[str, Any]:
    return {"flows": ctx.services.login.flows()}


@routes.client("POST", "/login", ratelimit="login_per_ip", body=LoginBody)
async def login(ctx: RequestContext, body: LoginBody) -> dict[str, Any]:
    result = await ctx.services.login.login(ctx.json)
    response: dict[str, Any] = {
        "user_id": result.user_id,
        "access_token": result.tokens.access_token,
        "device_id": result.device_id,
        "home_server": ctx.services.server_name,
        "well_known": {"m.homeserver": {"base_url": ctx.services.discovery.client_base_url}},
    }
    if result.tokens.refresh_token is not None:
        response["refresh_token"] = result.tokens.refresh_token
        response["expires_in_ms"] = result.tokens.expires_in_ms
    return response


@routes.client("POST", "/refresh", versions=("v3", "v1"), body=RefreshBody)
async def refresh(ctx: RequestContext, body: RefreshBody) -> dict[str, Any]:
    tokens = await ctx.services.login.refresh(body.refresh_token)
    return {
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token,
        "expires_in_ms": tokens.expires_in_ms,
    }


@routes.client("POST", "/logout", auth=Auth.REQUIRED, allow_guests=True, activity=False)
async def logout(ctx: RequestContext) -> dict[str, Any]:
    await ctx.services.login.logout(ctx.user)
    return {}


@routes.client("POST", "/logout/all", auth=Auth.REQUIRED, allow_guests=True, activity=False)
async def logout_all(ctx: RequestContext) -> dict[str, Any]:
    await ctx.services.login.logout_all(ctx.user)
    return {}
