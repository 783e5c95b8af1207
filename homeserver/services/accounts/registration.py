"""Account registration: username rules, the UIA flow of /register, guests, admin creation."""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from typing import Any

from homeserver.services.accounts.auth import AuthService, IssuedTokens
from homeserver.services.accounts.devices import DeviceService
from homeserver.services.accounts.passwords import PasswordHasher
from homeserver.services.accounts.uia import DUMMY, REGISTRATION_TOKEN, UiaRequest, UiaService
from homeserver.services.common.clock import Clock
from homeserver.types.errors import BadRequest, Codes, Forbidden, MatrixError
from homeserver.types.ids import MAX_USER_ID_BYTES, is_valid_localpart
from storage.stores import Stores
from storage.stores.users import UserAlreadyExists

_GENERATED_LOCALPART_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True)
class RegistrationPolicy:
    enabled: bool
    require_registration_token: bool
    allow_guests: bool
    reserved_localparts: frozenset[str]
    password_min_length: int


@dataclass(frozen=True)
class Registered:
    user_id: str
    device_id: str | None
    tokens: IssuedTokens | None

    def to_json(self, server_name: str) -> dict[str, Any]:
        body: dict[str, Any] = {"user_id": self.user_id, "home_server": server_name}
        if self.tokens is not None:
            body["access_token"] = self.tokens.access_token
            body["device_id"] = self.device_id
            if self.tokens.refresh_token is not None:
                body["refresh_token"] = self.tokens.refresh_token
                body["expires_in_ms"] = self.tokens.expires_in_ms
        return body


class RegistrationService:
    def __init__(
        self,
        stores: Stores,
        clock: Clock,
        hasher: PasswordHasher,
        auth: AuthService,
        devices: DeviceService,
        uia: UiaService,
        server_name: str,
        policy: RegistrationPolicy,
    ) -> None:
        self.stores = stores
        self.clock = clock
        self.hasher = hasher
        self.auth = auth
        self.devices = devices
        self.uia = uia
        self.server_name = server_name
        self.policy = policy

    def flows(self) -> list[list[str]]:
        if self.policy.require_registration_token:
            return [[REGISTRATION_TOKEN]]
        return [[DUMMY]]

    def user_id_for(self, localpart: str) -> str:
        return f"@{localpart}:{self.server_name}"

    def check_username(self, username: str) -> str:
        """Map a requested username to a localpart, or raise the spec's error for it."""
        localpart = username.lower()
        if not localpart or not is_valid_localpart(localpart):
            raise BadRequest(
                "User ID can only contain characters a-z, 0-9, or '=_-./+'",
                Codes.INVALID_USERNAME,
            )
        if localpart.startswith("_"):
            raise BadRequest("User ID may not begin with '_'", Codes.INVALID_USERNAME)
        if len(self.user_id_for(localpart).encode()) > MAX_USER_ID_BYTES:
            raise BadRequest("User ID is too long", Codes.INVALID_USERNAME)
        if localpart in self.policy.reserved_localparts:
            raise BadRequest("That user ID is reserved", Codes.EXCLUSIVE)
        return localpart

    async def check_available(self, username: str) -> None:
        localpart = self.check_username(username)
        if await self.stores.users.exists(self.user_id_for(localpart)):
            raise BadRequest("User ID already taken", Codes.USER_IN_USE)

    def check_password_strength(self, password: str) -> None:
        if len(password) < self.policy.password_min_length:
            raise BadRequest(
                f"Password must be at least {self.policy.password_min_length} characters",
                Codes.WEAK_PASSWORD,
            )

    async def register(self, body: dict[str, Any], uri: str, *, guest: bool) -> Registered:
        """The whole of POST /register, after the route has checked the body's shape."""
        if guest:
            return await self._register_guest(body)
        if not self.policy.enabled:
            raise Forbidden("Registration has been disabled")
        already = await self.uia.registered_in_session(body.get("auth"))
        if already is not None:
            # A retry of a completed registration logs in the account it created.
            return await self._login_new_account(already, body)
        # Checked before the auth flow starts, so a client learns at once that a name is taken.
        username = body.get("username")
        guest_token = body.get("guest_access_token")
        upgraded_guest = None
        if isinstance(guest_token, str):
            upgraded_guest = await self._guest_to_upgrade(guest_token, username)
        elif isinstance(username, str):
            await self.check_available(username)
        password = body.get("password")
        if isinstance(password, str):
            self.check_password_strength(password)
        outcome = await self.uia.authenticate(
            UiaRequest(uri=uri, method="POST", flows=self.flows(), body=body)
        )
        body = outcome.body
        password = body.get("password")
        password_hash = await self.hasher.hash(password) if isinstance(password, str) else None
        username = body.get("username")
        if upgraded_guest is not None:
            if not await self.stores.users.upgrade_guest(upgraded_guest, password_hash):
                raise BadRequest("User ID already taken", Codes.USER_IN_USE)
            # Cached tokens of the account still say it is a guest's.
            self.auth.forget_cached(upgraded_guest)
            user_id = upgraded_guest
        else:
            user_id = await self.create_account(
                username if isinstance(username, str) else None, password_hash
            )
        await self.uia.remember(outcome.session_id, "registered_user_id", user_id)
        return await self._login_new_account(user_id, body)

    async def _guest_to_upgrade(self, guest_token: str, username: object) -> str:
        """The guest account a registration with `guest_access_token` makes a full one
        (spec: Guest Access): the token's own, which `username` must name. Naming anyone
        else is refused as a taken name, as Synapse does."""
        if not isinstance(username, str):
            raise BadRequest("username is required to upgrade a guest account", Codes.MISSING_PARAM)
        user_id = self.user_id_for(self.check_username(username))
        guest = await self.auth.authenticate(guest_token)
        if not guest.is_guest or guest.user_id != user_id:
            raise BadRequest("User ID already taken", Codes.USER_IN_USE)
        return user_id

    async def create_account(
        self,
        username: str | None,
        password_hash: str | None,
        *,
        is_admin: bool = False,
        is_guest: bool = False,
    ) -> str:
        """Insert the user row; without a username a random localpart is chosen.

        The display name starts as the localpart, as clients expect a name from the start.
        """
        if username is not None:
            localpart = self.check_username(username)
            if not await self._insert_user(localpart, password_hash, is_admin, is_guest):
                raise BadRequest("User ID already taken", Codes.USER_IN_USE)
            return self.user_id_for(localpart)
        for _ in range(10):
            localpart = "".join(secrets.choice(_GENERATED_LOCALPART_ALPHABET) for _ in range(12))
            if await self._insert_user(localpart, password_hash, is_admin, is_guest):
                return self.user_id_for(localpart)
        raise MatrixError(500, Codes.UNKNOWN, "Could not allocate a user ID")

    async def _insert_user(
        self, localpart: str, password_hash: str | None, is_admin: bool, is_guest: bool
    ) -> bool:
        user_id = self.user_id_for(localpart)
        try:
            async with self.stores.db.transaction() as conn:
                await self.stores.users.create(
                    user_id,
                    password_hash,
                    self.clock.time_ms(),
                    is_admin=is_admin,
                    is_guest=is_guest,
                    conn=conn,
                )
                await self.stores.profiles.set_field(user_id, "displayname", localpart, conn=conn)
        except UserAlreadyExists:
            return False
        return True

    async def _login_new_account(self, user_id: str, body: dict[str, Any]) -> Registered:
        if body.get("inhibit_login") is True:
            return Registered(user_id, None, None)
        device_id = body.get("device_id")
        display_name = body.get("initial_device_display_name")
        async with self.stores.db.transaction() as conn:
            device_id = await self.devices.create(
                user_id,
                device_id if isinstance(device_id, str) else None,
                display_name if isinstance(display_name, str) else None,
                conn=conn,
            )
            tokens = await self.auth.issue_tokens(
                user_id, device_id, refreshable=body.get("refresh_token") is True, conn=conn
            )
        return Registered(user_id, device_id, tokens)

    async def _register_guest(self, body: dict[str, Any]) -> Registered:
        if not self.policy.allow_guests:
            raise Forbidden("Guest access is disabled")
        user_id = await self.create_account(None, None, is_guest=True)
        # The spec: every parameter but the device display name is ignored for guests.
        display_name = body.get("initial_device_display_name")
        return await self._login_new_account(user_id, {"initial_device_display_name": display_name})

    async def create_admin_or_user(self, username: str, password: str, *, admin: bool) -> str:
        """For operators (`homeserver register-user`): no UIA, no registration switch."""
        self.check_password_strength(password)
        return await self.create_account(username, await self.hasher.hash(password), is_admin=admin)
