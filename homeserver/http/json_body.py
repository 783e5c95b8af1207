"""Turning request bodies and query strings into validated values, or Matrix errors."""

from __future__ import annotations

import json
import math
import re
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from homeserver.types.errors import BadRequest, Codes

Model = TypeVar("Model", bound=BaseModel)


class RequestBody(BaseModel):
    """Base of every request model: strict types, unknown keys tolerated (clients add some)."""

    model_config = ConfigDict(strict=True, extra="allow", frozen=True)


# Deeper JSON is refused: nothing in Matrix nests like this, and what is stored is later
# walked recursively (canonical JSON, freezing, redaction).
MAX_JSON_DEPTH = 100
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def parse_json_object(raw: bytes) -> dict[str, Any]:
    """An empty body counts as `{}`; anything else must be a JSON object whose strings are
    valid Unicode and whose numbers are finite, nested at most MAX_JSON_DEPTH deep."""
    if not raw.strip():
        return {}
    try:
        value = json.loads(raw, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError):
        raise BadRequest("Content not JSON", Codes.NOT_JSON) from None
    if not isinstance(value, dict):
        raise BadRequest("Content must be a JSON object", Codes.BAD_JSON)
    # Both checks cost nothing for the bodies that cannot fail them.
    if raw.count(b"{") + raw.count(b"[") > MAX_JSON_DEPTH and _depth(value) > MAX_JSON_DEPTH:
        raise BadRequest(f"JSON nested deeper than {MAX_JSON_DEPTH} levels", Codes.BAD_JSON)
    if _SURROGATE_ESCAPE.search(raw) is not None:
        try:
            json.dumps(value, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            raise BadRequest("Strings must be valid Unicode", Codes.BAD_JSON) from None
    return value


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON, whatever Python's parser tolerates.
    raise ValueError(name)


def _finite_float(text: str) -> float:
    # 1e400 parses as infinity, which no JSON can carry onwards.
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def _depth(value: Any) -> int:
    """The nesting depth of parsed JSON, without recursion."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


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
