"""The client-server API (/_matrix/client) as thin aiohttp routes over the services."""

from __future__ import annotations

from aiohttp import web

from client_api.routes import (
    account,
    account_data,
    capabilities,
    devices,
    directory,
    ephemeral,
    filters,
    login,
    membership,
    notifications,
    presence,
    profile,
    push_rules,
    pushers,
    registration,
    room_reads,
    rooms,
    sync,
    sync_websocket,
    to_device,
    versions,
)

ROUTE_MODULES = (
    versions,
    registration,
    login,
    account,
    devices,
    capabilities,
    profile,
    filters,
    account_data,
    to_device,
    rooms,
    membership,
    room_reads,
    directory,
    sync,
    sync_websocket,
    ephemeral,
    presence,
    pushers,
    push_rules,
    notifications,
)


def install_client_api(app: web.Application) -> None:
    for module in ROUTE_MODULES:
        module.routes.install(app)
