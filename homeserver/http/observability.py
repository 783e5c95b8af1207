"""/metrics (Prometheus text format) and /health."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from homeserver.http.routing import SERVICES_KEY, json_response


async def metrics(request: web.Request) -> web.Response:
    response = web.Response(body=generate_latest())
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response


async def health(request: web.Request) -> web.Response:
    """200 while the database answers, 503 otherwise (for load balancers and probes)."""
    if await request.app[SERVICES_KEY].health.database_reachable():
        return json_response({"status": "ok"})
    return json_response({"status": "unavailable", "database": "unreachable"}, status=503)


def install(app: web.Application, *, metrics_enabled: bool) -> None:
    app.router.add_get("/health", health)
    if metrics_enabled:
        app.router.add_get("/metrics", metrics)
