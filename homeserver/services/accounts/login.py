"""Password login, logout and token refresh."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from homeserver.services.accounts.auth import AuthService, IssuedTokens
from homeserver.services.accounts.devices import DeviceService
from homeserver.services.accounts.passwords import PasswordHasher
from homeserver.services.accounts.user_identifier import requested_user_id
from homeserver.services.common.ratelimit import RateLimiter
from homeserver.types.errors import BadRequest, Codes, Forbidden, MatrixError
from homeserver.types.ids import UserID
from homeserver.types.requester import Requester
from storage.stores import Stores

PASSWORD_LOGIN = "m.login.password"


@dataclass(frozen=True)
class LoginResult:
    user_id: str
    device_id: str
    tokens: IssuedTokens


class LoginService:
    def __init__(
        self,
        stores: Stores,
        hasher: PasswordHasher,
        auth: AuthService,
        devices: DeviceService,
        ratelimiter: RateLimiter,
        server_name: str,
        password_login_enabled: bool,
    ) -> None:
        self.stores = stores
        self.hasher = hasher
        self.auth = auth
        self.devices = devices
        self.ratelimiter = ratelimiter
        self.server_name = server_name
        self.password_login_enabled = password_login_enabled

    def flows(self) -> list[dict[str, Any]]:
        return [{"type": PASSWORD_LOGIN}] if self.password_login_enabled else []

    async def login(self, body: dict[str, Any]) -> LoginResult:
        kind = body.get("type")
        if kind != PASSWORD_LOGIN or not self.password_login_enabled:
            raise BadRequest(f"Unknown login type {kind!r}", Codes.UNKNOWN)
        password = body.get("password")
        if not isinstance(password, str):
            raise BadRequest("Missing password", Codes.MISSING_PARAM)
        user_id = await self._existing_user_id(requested_user_id(body, self.server_name))
        self.ratelimiter.check("login_per_account", user_id)
        user = await self.stores.users.get(user_id)
        if user is None:
            self.ratelimiter.check("login_failures_per_account", user_id)
            raise Forbidden("Invalid username or password")
        if user.deactivated:
            raise MatrixError(403, Codes.USER_DEACTIVATED, "This account has been deactivated")
        if not await self.hasher.verify(user.password_hash, password):
            self.ratelimiter.check("login_failures_per_account", user_id)
            raise Forbidden("Invalid username or password")
        device_id = body.get("device_id")
        display_name = body.get("initial_device_display_name")
        async with self.stores.db.transaction() as conn:
            device_id = await self.devices.create(user_id, device_id, display_name, conn=conn)
            tokens = await self.auth.issue_tokens(
                user_id, device_id, refreshable=body.get("refresh_token") is True, conn=conn
            )
        return LoginResult(user_id, device_id, tokens)

    async def _existing_user_id(self, user_id: str) -> str:
        """Accept any letter case for our own users, as their IDs are stored lower-case."""
        try:
            parsed = UserID.parse(user_id)
        except ValueError:
            raise Forbidden("Invalid username or password") from None
        if parsed.domain != self.server_name:
            raise Forbidden("Invalid username or password")
        if await self.stores.users.exists(user_id):
            return user_id
        return f"@{parsed.localpart.lower()}:{parsed.domain}"

    async def logout(self, requester: Requester) -> None:
        """The spec deletes the device along with its access token."""
        await self.devices.delete(requester.user_id, [requester.device_id])

    async def logout_all(self, requester: Requester) -> None:
        await self.devices.delete_all(requester.user_id)

    async def refresh(self, refresh_token: str) -> IssuedTokens:
        return await self.auth.refresh(refresh_token)
