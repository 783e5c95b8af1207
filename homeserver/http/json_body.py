"""Turning request bodies and query strings into validated values, or Matrix errors."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from homeserver.types.errors import BadRequest, Codes

Model = TypeVar("Model", bound=BaseModel)


class RequestBody(BaseModel):
    """Base of every request model: strict types, unknown keys tolerated (clients add some)."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True)


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """An empty body counts as `{}`; anything else must be a JSON object."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise BadRequest("Content not JSON", Codes.NOT_JSON) from None
    if not isinstance(value, dict):
        raise BadRequest("Content must be a JSON object", Codes.BAD_JSON)
    return value


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON, whatever Python's parser tolerates.
    raise ValueError(name)


def validation_error(error: ValidationError) -> BadRequest:
    """The first problem of a failed validation: M_MISSING_PARAM, M_BAD_JSON or M_INVALID_PARAM."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    kind = first["type"]
    if kind == "missing":
        return BadRequest(f"Missing parameter: {where}", Codes.MISSING_PARAM)
    if kind.endswith("_type") or kind in ("model_attributes_type", "dict_type", "list_type"):
        return BadRequest(f"Invalid type for {where}: {first['msg']}", Codes.BAD_JSON)
    return BadRequest(f"Invalid value for {where}: {first['msg']}", Codes.INVALID_PARAM)


def validate_body(model: type[Model], data: dict[str, Any]) -> Model:
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise validation_error(error) from None
