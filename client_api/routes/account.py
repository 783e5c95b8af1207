"""whoami, password change and deactivation."""

from __future__ import annotations

from typing import Any

from homeserver.http.json_body import RequestBody
from homeserver.http.routing import Auth, RequestContext, RouteTable

routes = RouteTable()


class PasswordBody(RequestBody):
    new_password: str
    logout_devices: bool = True
    auth: dict[str, Any] | None = None


class DeactivateBody(RequestBody):
    auth: dict[str, Any] | None = None
    id_server: str | None = None
    erase: bool = False


@routes.client("GET", "/account/whoami", auth=Auth.REQUIRED, allow_guests=True)
async def whoami(ctx: RequestContext) -> dict[str, Any]:
    return {
        "user_id": ctx.user.user_id,
        "device_id": ctx.user.device_id,
        "is_guest": ctx.user.is_guest,
    }


@routes.client("POST", "/account/password", auth=Auth.REQUIRED, body=PasswordBody)
async def change_password(ctx: RequestContext, body: PasswordBody) -> dict[str, Any]:
    await ctx.services.account.change_password(ctx.user, ctx.http.path, ctx.json)
    return {}


@routes.client(
    "POST", "/account/deactivate", auth=Auth.REQUIRED, body=DeactivateBody, activity=False
)
async def deactivate(ctx: RequestContext, body: DeactivateBody) -> dict[str, Any]:
    await ctx.services.account.deactivate(ctx.user, ctx.http.path, ctx.json)
    # No identity server bindings are ever made by this server, so none were removed.
    return {"id_server_unbind_result": "no-support"}
