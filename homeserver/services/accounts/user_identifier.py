"""Resolving the `identifier` (or legacy `user`) object of login and UIA requests."""

from __future__ import annotations

from typing import Any

from homeserver.types.errors import BadRequest, Codes, Forbidden


def requested_user_id(body: dict[str, Any], server_name: str) -> str:
    """The full user ID a login or password stage names, qualified with our server name.

    Third-party identifiers are refused: this server holds no 3PID bindings.
    """
    identifier = body.get("identifier")
    if identifier is None:
        user = body.get("user")
        if user is None:
            raise BadRequest("Missing identifier", Codes.MISSING_PARAM)
        identifier = {"type": "m.id.user", "user": user}
    if not isinstance(identifier, dict):
        raise BadRequest("identifier must be an object", Codes.BAD_JSON)
    kind = identifier.get("type")
    if kind in ("m.id.thirdparty", "m.id.phone"):
        raise Forbidden("No account is bound to that third-party identifier")
    if kind != "m.id.user":
        raise BadRequest(f"Unknown identifier type: {kind!r}", Codes.UNKNOWN)
    user = identifier.get("user")
    if not isinstance(user, str) or not user:
        raise BadRequest("identifier.user must be a non-empty string", Codes.INVALID_PARAM)
    if not user.startswith("@"):
        return f"@{user.lower()}:{server_name}"
    return user
