"""User profiles: displayname, avatar_url, m.tz and custom namespaced fields (spec v1.16+)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from canonicaljson import encode_canonical_json

from homeserver.types.errors import BadRequest, Codes, Forbidden, MatrixError, NotFound
from homeserver.types.ids import UserID
from homeserver.types.requester import Requester
from storage.stores import Stores

DISPLAYNAME = "displayname"
AVATAR_URL = "avatar_url"
TIMEZONE = "m.tz"

_FIELD_NAME = re.compile(r"^(avatar_url|displayname|m\.tz|[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+)\Z")
MAX_PROFILE_BYTES = 64 * 1024
MAX_KEY_BYTES = 255
MAX_DISPLAYNAME_LENGTH = 256

ProfileListener = Callable[[str, dict[str, Any]], Awaitable[None]]


class ProfileService:
    def __init__(self, stores: Stores, server_name: str) -> None:
        self.stores = stores
        self.server_name = server_name
        # Called after a displayname/avatar change; rooms use it to update member events.
        self._listeners: list[ProfileListener] = []

    def on_change(self, listener: ProfileListener) -> None:
        self._listeners.append(listener)

    async def _local_user(self, user_id: str) -> str:
        try:
            parsed = UserID.parse(user_id)
        except ValueError:
            raise BadRequest("Invalid user ID", Codes.INVALID_PARAM) from None
        if parsed.domain != self.server_name:
            raise NotFound("Profile not found: remote profiles need federation")
        user = await self.stores.users.get(user_id)
        if user is None or user.deactivated:
            raise NotFound("Profile not found")
        return user_id

    async def get_profile(self, user_id: str) -> dict[str, Any]:
        return await self.stores.profiles.get(await self._local_user(user_id))

    async def get_field(self, user_id: str, field: str) -> dict[str, Any]:
        profile = await self.get_profile(user_id)
        if field not in profile:
            raise NotFound(f"The profile has no {field!r} field")
        return {field: profile[field]}

    def _check_guest(self, requester: Requester, field: str) -> None:
        # Guest access lets guests set their display name and nothing else of the profile.
        if requester.is_guest and field != DISPLAYNAME:
            raise Forbidden("Guests may only set their display name")

    def _check_field(self, field: str) -> None:
        if len(field.encode()) > MAX_KEY_BYTES:
            raise BadRequest("Profile key too long", Codes.KEY_TOO_LARGE)
        if not _FIELD_NAME.match(field):
            raise BadRequest(f"Invalid profile field name {field!r}", Codes.INVALID_PARAM)

    async def set_field(
        self, requester: Requester, user_id: str, field: str, body: dict[str, Any]
    ) -> None:
        if requester.user_id != user_id:
            raise Forbidden("You may only change your own profile")
        self._check_guest(requester, field)
        self._check_field(field)
        if field not in body:
            raise BadRequest(f"Missing parameter: {field}", Codes.MISSING_PARAM)
        value = body[field]
        _check_value(field, value)
        profile = await self.stores.profiles.get(user_id)
        profile[field] = value
        if len(encode_canonical_json(profile)) > MAX_PROFILE_BYTES:
            raise MatrixError(400, Codes.PROFILE_TOO_LARGE, "The profile would exceed 64 KiB")
        await self.stores.profiles.set_field(user_id, field, value)
        if field in (DISPLAYNAME, AVATAR_URL):
            for listener in self._listeners:
                await listener(user_id, profile)

    async def delete_field(self, requester: Requester, user_id: str, field: str) -> None:
        if requester.user_id != user_id:
            raise Forbidden("You may only change your own profile")
        self._check_guest(requester, field)
        self._check_field(field)
        await self.stores.profiles.delete_field(user_id, field)
        if field in (DISPLAYNAME, AVATAR_URL):
            profile = await self.stores.profiles.get(user_id)
            for listener in self._listeners:
                await listener(user_id, profile)


def _check_value(field: str, value: Any) -> None:
    if field == DISPLAYNAME:
        if not isinstance(value, str):
            raise BadRequest("displayname must be a string", Codes.BAD_JSON)
        if len(value) > MAX_DISPLAYNAME_LENGTH:
            raise BadRequest("displayname is too long", Codes.INVALID_PARAM)
    elif field == AVATAR_URL:
        # Any string, as Synapse accepts: clients only fetch mxc:// ones.
        if not isinstance(value, str):
            raise BadRequest("avatar_url must be a string", Codes.BAD_JSON)
    elif field == TIMEZONE and not isinstance(value, str):
        raise BadRequest("m.tz must be a string", Codes.BAD_JSON)
