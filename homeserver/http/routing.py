"""Endpoints are declared once: method, paths, auth, rate limit, request model, handler.

`RouteTable.install` wraps each handler so that authentication, rate limiting, body
parsing and JSON serialisation happen the same way everywhere.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel

from homeserver.http.json_body import parse_json_object, validate_body
from homeserver.services.container import Services
from homeserver.types.errors import Codes, MatrixError, Unauthorized
from homeserver.types.requester import Requester

SERVICES_KEY = web.AppKey("services", Services)
TRUST_X_FORWARDED_KEY = web.AppKey("trust_x_forwarded", bool)
ENDPOINT_NAME_KEY = web.RequestKey("endpoint_name", str)
REQUESTER_KEY = web.RequestKey("requester", Requester)

CLIENT_PREFIX = "/_matrix/client"
V3 = ("v3", "r0")


class Auth(enum.Enum):
    NONE = "none"
    OPTIONAL = "optional"
    REQUIRED = "required"


JsonResult = dict[str, Any] | list[Any] | tuple[int, dict[str, Any]] | web.StreamResponse


@dataclass
class RequestContext:
    http: web.Request
    services: Services
    requester: Requester | None
    json: dict[str, Any]
    client_ip: str

    @property
    def user(self) -> Requester:
        """The requester of an endpoint declared with Auth.REQUIRED."""
        assert self.requester is not None
        return self.requester

    def path(self, name: str) -> str:
        return self.http.match_info[name]

    @property
    def query(self) -> Any:
        return self.http.query


Handler = Callable[..., Awaitable[JsonResult]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    paths: tuple[str, ...]
    handler: Handler
    auth: Auth
    allow_guests: bool
    ratelimit: str | None
    body: type[BaseModel] | None
    # Whether a successful call counts as the user being active (presence).
    activity: bool


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
    )


def access_token_of(request: web.Request) -> str | None:
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized(Codes.MISSING_TOKEN, "Malformed Authorization header")
        return token.strip()
    return request.query.get("access_token")


def client_ip_of(request: web.Request) -> str:
    if request.app[TRUST_X_FORWARDED_KEY]:
        forwarded = request.headers.get("X-Forwarded-For")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.remote or "unknown"


@dataclass
class RouteTable:
    endpoints: list[Endpoint] = field(default_factory=list)

    def route(
        self,
        method: str,
        *paths: str,
        auth: Auth = Auth.NONE,
        allow_guests: bool = False,
        ratelimit: str | None = None,
        body: type[BaseModel] | None = None,
        activity: bool = True,
    ) -> Callable[[Handler], Handler]:
        """`activity`: a successful non-GET call marks the user active (presence)."""

        def register(handler: Handler) -> Handler:
            self.endpoints.append(
                Endpoint(
                    method,
                    tuple(paths),
                    handler,
                    auth,
                    allow_guests,
                    ratelimit,
                    body,
                    activity and method != "GET",
                )
            )
            return handler

        return register

    def client(
        self, method: str, path: str, *, versions: Iterable[str] = V3, **options: Any
    ) -> Callable[[Handler], Handler]:
        """A client-server endpoint under /_matrix/client/<version><path>."""
        paths = [f"{CLIENT_PREFIX}/{version}{path}" for version in versions]
        return self.route(method, *paths, **options)

    def install(self, app: web.Application) -> None:
        for endpoint in self.endpoints:
            wrapped = _wrap(endpoint)
            for path in endpoint.paths:
                app.router.add_route(endpoint.method, path, wrapped)


def _wrap(endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    name = endpoint.handler.__module__.rsplit(".", 1)[-1] + "." + endpoint.handler.__name__

    async def handle(request: web.Request) -> web.StreamResponse:
        request[ENDPOINT_NAME_KEY] = name
        services = request.app[SERVICES_KEY]
        client_ip = client_ip_of(request)
        requester = await _authenticate(request, endpoint, services, client_ip)
        if endpoint.ratelimit is not None:
            key = requester.user_id if requester is not None else client_ip
            services.ratelimiter.check(endpoint.ratelimit, key)
        data: dict[str, Any] = {}
        if request.method in ("POST", "PUT", "DELETE"):
            data = parse_json_object(await request.read())
        ctx = RequestContext(request, services, requester, data, client_ip)
        if endpoint.body is not None:
            result = await endpoint.handler(ctx, validate_body(endpoint.body, data))
        else:
            result = await endpoint.handler(ctx)
        if endpoint.activity and requester is not None:
            await services.presence.note_action(requester.user_id)
        if isinstance(result, web.StreamResponse):
            return result
        if isinstance(result, tuple):
            return json_response(result[1], status=result[0])
        return json_response(result)

    return handle


async def _authenticate(
    request: web.Request, endpoint: Endpoint, services: Services, client_ip: str
) -> Requester | None:
    if endpoint.auth is Auth.NONE:
        return None
    token = access_token_of(request)
    if token is None:
        if endpoint.auth is Auth.OPTIONAL:
            return None
        raise Unauthorized(Codes.MISSING_TOKEN, "Missing access token")
    requester = await services.auth.authenticate(token)
    if requester.is_guest and not endpoint.allow_guests:
        raise MatrixError(403, Codes.GUEST_ACCESS_FORBIDDEN, "Guest access not allowed")
    request[REQUESTER_KEY] = requester
    services.devices.note_seen(
        requester.user_id, requester.device_id, client_ip, request.headers.get("User-Agent")
    )
    return requester
