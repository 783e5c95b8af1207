"""The one error model: every Matrix error code, and the exception that carries one."""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Codes(StrEnum):
    FORBIDDEN = "M_FORBIDDEN"
    UNKNOWN_TOKEN = "M_UNKNOWN_TOKEN"
    MISSING_TOKEN = "M_MISSING_TOKEN"
    USER_LOCKED = "M_USER_LOCKED"
    USER_SUSPENDED = "M_USER_SUSPENDED"
    BAD_JSON = "M_BAD_JSON"
    NOT_JSON = "M_NOT_JSON"
    NOT_FOUND = "M_NOT_FOUND"
    LIMIT_EXCEEDED = "M_LIMIT_EXCEEDED"
    UNRECOGNIZED = "M_UNRECOGNIZED"
    UNKNOWN = "M_UNKNOWN"
    UNAUTHORIZED = "M_UNAUTHORIZED"
    USER_DEACTIVATED = "M_USER_DEACTIVATED"
    USER_IN_USE = "M_USER_IN_USE"
    INVALID_USERNAME = "M_INVALID_USERNAME"
    ROOM_IN_USE = "M_ROOM_IN_USE"
    INVALID_ROOM_STATE = "M_INVALID_ROOM_STATE"
    THREEPID_IN_USE = "M_THREEPID_IN_USE"
    THREEPID_NOT_FOUND = "M_THREEPID_NOT_FOUND"
    THREEPID_AUTH_FAILED = "M_THREEPID_AUTH_FAILED"
    THREEPID_DENIED = "M_THREEPID_DENIED"
    SERVER_NOT_TRUSTED = "M_SERVER_NOT_TRUSTED"
    UNSUPPORTED_ROOM_VERSION = "M_UNSUPPORTED_ROOM_VERSION"
    INCOMPATIBLE_ROOM_VERSION = "M_INCOMPATIBLE_ROOM_VERSION"
    BAD_STATE = "M_BAD_STATE"
    GUEST_ACCESS_FORBIDDEN = "M_GUEST_ACCESS_FORBIDDEN"
    CAPTCHA_NEEDED = "M_CAPTCHA_NEEDED"
    CAPTCHA_INVALID = "M_CAPTCHA_INVALID"
    MISSING_PARAM = "M_MISSING_PARAM"
    INVALID_PARAM = "M_INVALID_PARAM"
    TOO_LARGE = "M_TOO_LARGE"
    EXCLUSIVE = "M_EXCLUSIVE"
    RESOURCE_LIMIT_EXCEEDED = "M_RESOURCE_LIMIT_EXCEEDED"
    CANNOT_LEAVE_SERVER_NOTICE_ROOM = "M_CANNOT_LEAVE_SERVER_NOTICE_ROOM"
    WEAK_PASSWORD = "M_WEAK_PASSWORD"
    UNABLE_TO_AUTHORISE_JOIN = "M_UNABLE_TO_AUTHORISE_JOIN"
    UNABLE_TO_GRANT_JOIN = "M_UNABLE_TO_GRANT_JOIN"
    BAD_ALIAS = "M_BAD_ALIAS"
    DUPLICATE_ANNOTATION = "M_DUPLICATE_ANNOTATION"
    NOT_YET_UPLOADED = "M_NOT_YET_UPLOADED"
    CANNOT_OVERWRITE_MEDIA = "M_CANNOT_OVERWRITE_MEDIA"
    UNKNOWN_POS = "M_UNKNOWN_POS"
    URL_NOT_SET = "M_URL_NOT_SET"
    BAD_STATUS = "M_BAD_STATUS"
    CONNECTION_FAILED = "M_CONNECTION_FAILED"
    CONNECTION_TIMEOUT = "M_CONNECTION_TIMEOUT"
    WRONG_ROOM_KEYS_VERSION = "M_WRONG_ROOM_KEYS_VERSION"
    INVITE_BLOCKED = "M_INVITE_BLOCKED"
    PROFILE_TOO_LARGE = "M_PROFILE_TOO_LARGE"
    KEY_TOO_LARGE = "M_KEY_TOO_LARGE"


class MatrixError(Exception):
    """An error with a Matrix errcode, rendered as `{"errcode", "error", **extra}`."""

    def __init__(self, status: int, errcode: Codes | str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.errcode = str(errcode)
        self.message = message
        self.extra = extra

    def to_json(self) -> dict[str, Any]:
        return {"errcode": self.errcode, "error": self.message, **self.extra}


class Forbidden(MatrixError):
    def __init__(self, message: str = "Forbidden", **extra: Any) -> None:
        super().__init__(403, Codes.FORBIDDEN, message, **extra)


class NotFound(MatrixError):
    def __init__(self, message: str = "Not found", **extra: Any) -> None:
        super().__init__(404, Codes.NOT_FOUND, message, **extra)


class BadRequest(MatrixError):
    """A 400 with any of the request-shape codes (defaults to M_INVALID_PARAM)."""

    def __init__(self, message: str, errcode: Codes = Codes.INVALID_PARAM, **extra: Any) -> None:
        super().__init__(400, errcode, message, **extra)


class Unauthorized(MatrixError):
    """401: missing, unknown or expired access token."""

    def __init__(self, errcode: Codes, message: str, **extra: Any) -> None:
        super().__init__(401, errcode, message, **extra)


class LimitExceeded(MatrixError):
    def __init__(self, retry_after_ms: int) -> None:
        super().__init__(
            429, Codes.LIMIT_EXCEEDED, "Too many requests", retry_after_ms=retry_after_ms
        )
        self.retry_after_ms = retry_after_ms


class InteractiveAuthRequired(MatrixError):
    """401 from user-interactive auth: the body lists flows and progress, and an error
    only when a stage was attempted and failed."""

    def __init__(self, body: dict[str, Any], failure: MatrixError | None = None) -> None:
        errcode = failure.errcode if failure else Codes.UNAUTHORIZED
        message = failure.message if failure else "Additional authentication required"
        super().__init__(401, errcode, message)
        self.body = body
        self.failure = failure

    def to_json(self) -> dict[str, Any]:
        if self.failure is None:
            return dict(self.body)
        return {**self.body, **self.failure.to_json()}
