"""Typed access to query-string parameters."""

from __future__ import annotations

from collections.abc import Mapping

from homeserver.types.errors import BadRequest, Codes


def query_str(query: Mapping[str, str], name: str, *, required: bool = False) -> str | None:
    value = query.get(name)
    if value is None and required:
        raise BadRequest(f"Missing query parameter: {name}", Codes.MISSING_PARAM)
    return value


def query_int(
    query: Mapping[str, str],
    name: str,
    default: int | None = None,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int | None:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(
            f"Query parameter {name} must be an integer", Codes.INVALID_PARAM
        ) from None
    # Anything past a signed 64-bit integer could not be stored or compared in SQL.
    if (
        not -(2**63) <= value < 2**63
        or (minimum is not None and value < minimum)
        or (maximum is not None and value > maximum)
    ):
        raise BadRequest(f"Query parameter {name} is out of range", Codes.INVALID_PARAM)
    return value


def query_bool(query: Mapping[str, str], name: str, default: bool) -> bool:
    raw = query.get(name)
    if raw is None:
        return default
    if raw in ("true", "1"):
        return True
    if raw in ("false", "0"):
        return False
    raise BadRequest(f"Query parameter {name} must be true or false", Codes.INVALID_PARAM)
