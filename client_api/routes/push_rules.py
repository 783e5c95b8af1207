"""Push rules: GET /pushrules/, and reading, adding, changing and deleting one rule.

Rule IDs are path segments and may hold any character a client percent-encodes (room and
user IDs, keywords); an encoded slash decodes into the ID and is refused by the service.
Paths this API does not know under /pushrules/ answer 400 M_UNRECOGNIZED, as Synapse
does (SyTest checks them); `/pushrules` without the trailing slash is no endpoint (404).
"""

from __future__ import annotations

from typing import Any

from homeserver.http.json_body import RequestBody
from homeserver.http.routing import Auth, RequestContext, RouteTable
from homeserver.types.errors import Codes, MatrixError

routes = RouteTable()

RULE = "/pushrules/{scope}/{kind}/{rule_id:[^/]+}"


class EnabledBody(RequestBody):
    enabled: bool


class ActionsBody(RequestBody):
    actions: list[Any]


def _rule(ctx: RequestContext) -> tuple[str, str, str, str]:
    return ctx.user.user_id, ctx.path("scope"), ctx.path("kind"), ctx.path("rule_id")


@routes.client("GET", "/pushrules/", auth=Auth.REQUIRED)
async def get_all(ctx: RequestContext) -> dict[str, Any]:
    return await ctx.services.push_rules.get_all(ctx.user.user_id)


@routes.client("GET", "/pushrules/{scope}/", auth=Auth.REQUIRED)
async def get_scope(ctx: RequestContext) -> dict[str, Any]:
    return await ctx.services.push_rules.get_scope(ctx.user.user_id, ctx.path("scope"))


@routes.client("GET", "/pushrules/{scope}/{kind}/", auth=Auth.REQUIRED)
async def get_kind(ctx: RequestContext) -> list[Any]:
    return await ctx.services.push_rules.get_kind(
        ctx.user.user_id, ctx.path("scope"), ctx.path("kind")
    )


@routes.client("GET", RULE, auth=Auth.REQUIRED)
async def get_rule(ctx: RequestContext) -> dict[str, Any]:
    return await ctx.services.push_rules.get_rule(*_rule(ctx))


@routes.client("PUT", RULE, auth=Auth.REQUIRED)
async def put_rule(ctx: RequestContext) -> dict[str, Any]:
    await ctx.services.push_rules.put_rule(
        *_rule(ctx), ctx.json, before=ctx.query.get("before"), after=ctx.query.get("after")
    )
    return {}


@routes.client("DELETE", RULE, auth=Auth.REQUIRED)
async def delete_rule(ctx: RequestContext) -> dict[str, Any]:
    await ctx.services.push_rules.delete_rule(*_rule(ctx))
    return {}


@routes.client("GET", RULE + "/enabled", auth=Auth.REQUIRED)
async def get_enabled(ctx: RequestContext) -> dict[str, Any]:
    return {"enabled": await ctx.services.push_rules.get_enabled(*_rule(ctx))}


@routes.client("PUT", RULE + "/enabled", auth=Auth.REQUIRED, body=EnabledBody)
async def set_enabled(ctx: RequestContext, body: EnabledBody) -> dict[str, Any]:
    await ctx.services.push_rules.set_enabled(*_rule(ctx), body.enabled)
    return {}


@routes.client("GET", RULE + "/actions", auth=Auth.REQUIRED)
async def get_actions(ctx: RequestContext) -> dict[str, Any]:
    return {"actions": await ctx.services.push_rules.get_actions(*_rule(ctx))}


@routes.client("PUT", RULE + "/actions", auth=Auth.REQUIRED, body=ActionsBody)
async def set_actions(ctx: RequestContext, body: ActionsBody) -> dict[str, Any]:
    await ctx.services.push_rules.set_actions(*_rule(ctx), body.actions)
    return {}


# Declared last: aiohttp tries routes in order, so this only answers what none above did
# (a missing trailing slash, an empty rule ID, an unknown attribute of a rule).
@routes.client("GET", "/pushrules/{rest:.+}", auth=Auth.REQUIRED)
@routes.client("PUT", "/pushrules/{rest:.*}", auth=Auth.REQUIRED)
@routes.client("DELETE", "/pushrules/{rest:.*}", auth=Auth.REQUIRED)
async def unrecognised(ctx: RequestContext) -> dict[str, Any]:
    raise MatrixError(400, Codes.UNRECOGNIZED, "Unrecognised push rules request")
