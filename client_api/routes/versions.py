"""Discovery: /versions and the .well-known documents."""

from __future__ import annotations

from homeserver.http.routing import RequestContext, RouteTable

routes = RouteTable()

# The versions whose client-server API this server serves; raised as features land.
SPEC_VERSIONS = [
    "r0.0.1",
    "r0.1.0",
    "r0.2.0",
    "r0.3.0",
    "r0.4.0",
    "r0.5.0",
    "r0.6.0",
    "r0.6.1",
    "v1.1",
    "v1.2",
    "v1.3",
    "v1.4",
    "v1.5",
    "v1.6",
    "v1.7",
    "v1.8",
    "v1.9",
    "v1.10",
    "v1.11",
    "v1.12",
]


@routes.route("GET", "/_matrix/client/versions")
async def versions(ctx: RequestContext) -> dict[str, object]:
    return {"versions": SPEC_VERSIONS, "unstable_features": {}}


@routes.route("GET", "/.well-known/matrix/client")
async def well_known_client(ctx: RequestContext) -> dict[str, object]:
    return {"m.homeserver": {"base_url": ctx.services.discovery.client_base_url}}


@routes.route("GET", "/.well-known/matrix/server")
async def well_known_server(ctx: RequestContext) -> dict[str, object]:
    return {"m.server": ctx.services.discovery.federation_address}
