"""User-interactive authentication: one mechanism for every endpoint that needs it.

Sessions live in the database so a flow survives restarts and spans worker processes.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from homeserver.services.accounts.passwords import PasswordHasher
from homeserver.services.accounts.user_identifier import requested_user_id
from homeserver.services.common.clock import Clock
from homeserver.types.errors import (
    BadRequest,
    Codes,
    Forbidden,
    InteractiveAuthRequired,
    MatrixError,
)
from storage.stores import Stores
from storage.stores.uia import UiaSessionRecord

DUMMY = "m.login.dummy"
PASSWORD = "m.login.password"
REGISTRATION_TOKEN = "m.login.registration_token"


class _NotTheRequester(Forbidden):
    """Authenticating as someone else is refused outright (403), not retried as a failed
    stage: it is an attempt to use another user's credentials for this user's request."""


@dataclass(frozen=True)
class UiaRequest:
    """What an endpoint protects: where, with which flows, for whom, and the request body."""

    uri: str
    method: str
    flows: list[list[str]]
    body: dict[str, Any]
    user_id: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class UiaOutcome:
    session_id: str
    # The body of the first request in the session overlaid with the latest one, so clients
    # need not repeat every parameter on the final call.
    body: dict[str, Any]
    completed: dict[str, Any]
    server_data: dict[str, Any]


StageChecker = Callable[[dict[str, Any], UiaRequest], Awaitable[Any]]


class UiaService:
    def __init__(
        self,
        stores: Stores,
        clock: Clock,
        hasher: PasswordHasher,
        server_name: str,
        session_timeout_ms: int,
        registration_tokens: list[str],
    ) -> None:
        self.stores = stores
        self.clock = clock
        self.hasher = hasher
        self.server_name = server_name
        self.session_timeout_ms = session_timeout_ms
        self.registration_tokens = set(registration_tokens)
        self._checkers: dict[str, StageChecker] = {
            DUMMY: self._check_dummy,
            PASSWORD: self._check_password,
            REGISTRATION_TOKEN: self._check_registration_token,
        }

    async def authenticate(self, request: UiaRequest) -> UiaOutcome:
        """Advance the flow by the request's `auth` stage; return once a flow is complete.

        Raises `InteractiveAuthRequired` (401) while stages remain, or when one failed.
        """
        body = {k: v for k, v in request.body.items() if k != "auth"}
        auth = request.body.get("auth")
        if auth is not None and not isinstance(auth, dict):
            raise BadRequest("auth must be an object", Codes.BAD_JSON)
        session = await self._session(request, auth, body)
        completed = dict(session.completed)
        failure: MatrixError | None = None
        stage = auth.get("type") if auth else None
        if stage is not None:
            if not any(stage in flow for flow in request.flows):
                failure = BadRequest(f"Auth stage {stage!r} is not offered here", Codes.UNKNOWN)
            else:
                try:
                    result = await self._checkers[stage](auth or {}, request)
                except _NotTheRequester:
                    raise
                except MatrixError as error:
                    failure = error
                else:
                    completed[stage] = result
                    await self.stores.uia.mark_stage_completed(session.session_id, stage, result)
        if any(all(s in completed for s in flow) for flow in request.flows):
            return UiaOutcome(
                session.session_id,
                {**session.clientdict, **body},
                completed,
                session.server_data,
            )
        challenge: dict[str, Any] = {
            "flows": [{"stages": flow} for flow in request.flows],
            "params": request.params,
            "session": session.session_id,
            "completed": list(completed),
        }
        raise InteractiveAuthRequired(challenge, failure)

    async def finish(self, session_id: str) -> None:
        """A completed session must not authorise a second operation."""
        await self.stores.uia.delete(session_id)

    async def remember(self, session_id: str, key: str, value: Any) -> None:
        await self.stores.uia.set_server_data(session_id, key, value)

    async def registered_in_session(self, auth: object) -> str | None:
        """The account a completed registration session created, if `auth` names one."""
        if not isinstance(auth, dict) or not isinstance(auth.get("session"), str):
            return None
        session = await self.stores.uia.get(auth["session"], self._oldest_live_ts())
        if session is None:
            return None
        user_id = session.server_data.get("registered_user_id")
        return user_id if isinstance(user_id, str) else None

    async def expire_old_sessions(self) -> int:
        return await self.stores.uia.delete_expired(self._oldest_live_ts())

    def _oldest_live_ts(self) -> int:
        return self.clock.time_ms() - self.session_timeout_ms

    async def _session(
        self, request: UiaRequest, auth: dict[str, Any] | None, body: dict[str, Any]
    ) -> UiaSessionRecord:
        session_id = auth.get("session") if auth else None
        if session_id is None:
            session_id = secrets.token_urlsafe(18)
            now = self.clock.time_ms()
            await self.stores.uia.create(
                session_id, request.uri, request.method, request.user_id, body, now
            )
            return UiaSessionRecord(
                session_id, request.uri, request.method, request.user_id, body, {}, {}, now
            )
        if not isinstance(session_id, str):
            raise BadRequest("auth.session must be a string", Codes.INVALID_PARAM)
        session = await self.stores.uia.get(session_id, self._oldest_live_ts())
        if session is None:
            raise BadRequest("Unknown or expired auth session", Codes.UNKNOWN)
        if (session.uri, session.method, session.user_id) != (
            request.uri,
            request.method,
            request.user_id,
        ):
            raise Forbidden("Requested operation has changed during the auth session")
        return session

    async def _check_dummy(self, auth: dict[str, Any], request: UiaRequest) -> bool:
        return True

    async def _check_password(self, auth: dict[str, Any], request: UiaRequest) -> str:
        password = auth.get("password")
        if not isinstance(password, str):
            raise BadRequest("Missing password", Codes.MISSING_PARAM)
        user_id = requested_user_id(auth, self.server_name)
        if request.user_id is not None and user_id != request.user_id:
            raise _NotTheRequester("The password stage must authenticate the requesting user")
        user = await self.stores.users.get(user_id)
        if user is None or user.deactivated:
            raise Forbidden("Invalid username or password")
        if not await self.hasher.verify(user.password_hash, password):
            raise Forbidden("Invalid username or password")
        return user_id

    async def _check_registration_token(self, auth: dict[str, Any], request: UiaRequest) -> str:
        token = auth.get("token")
        if not isinstance(token, str):
            raise BadRequest("Missing token", Codes.MISSING_PARAM)
        if token not in self.registration_tokens:
            raise MatrixError(401, Codes.UNAUTHORIZED, "Invalid registration token")
        return token

    def is_valid_registration_token(self, token: str) -> bool:
        return token in self.registration_tokens
