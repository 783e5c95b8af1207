"""Device management."""

from __future__ import annotations

from typing import Any

from homeserver.http.json_body import RequestBody
from homeserver.http.routing import Auth, RequestContext, RouteTable

routes = RouteTable()


class UpdateDeviceBody(RequestBody):
    display_name: str | None = None


class DeleteDeviceBody(RequestBody):
    auth: dict[str, Any] | None = None


class DeleteDevicesBody(RequestBody):
    devices: list[str]
    auth: dict[str, Any] | None = None


@routes.client("GET", "/devices", auth=Auth.REQUIRED)
async def list_devices(ctx: RequestContext) -> dict[str, Any]:
    devices = await ctx.services.devices.list(ctx.user.user_id)
    return {"devices": [device.to_json() for device in devices]}


@routes.client("GET", "/devices/{device_id}", auth=Auth.REQUIRED)
async def get_device(ctx: RequestContext) -> dict[str, Any]:
    device = await ctx.services.devices.get(ctx.user.user_id, ctx.path("device_id"))
    return device.to_json()


@routes.client("PUT", "/devices/{device_id}", auth=Auth.REQUIRED, body=UpdateDeviceBody)
async def update_device(ctx: RequestContext, body: UpdateDeviceBody) -> dict[str, Any]:
    device_id = ctx.path("device_id")
    if body.display_name is None:
        await ctx.services.devices.get(ctx.user.user_id, device_id)
    else:
        await ctx.services.devices.rename(ctx.user.user_id, device_id, body.display_name)
    return {}


@routes.client("DELETE", "/devices/{device_id}", auth=Auth.REQUIRED, body=DeleteDeviceBody)
async def delete_device(ctx: RequestContext, body: DeleteDeviceBody) -> dict[str, Any]:
    await ctx.services.account.delete_devices(
        ctx.user, ctx.http.path, "DELETE", [ctx.path("device_id")], ctx.json
    )
    return {}


@routes.client("POST", "/delete_devices", auth=Auth.REQUIRED, body=DeleteDevicesBody)
async def delete_devices(ctx: RequestContext, body: DeleteDevicesBody) -> dict[str, Any]:
    await ctx.services.account.delete_devices(
        ctx.user, ctx.http.path, "POST", body.devices, ctx.json
    )
    return {}
