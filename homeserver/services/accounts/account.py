"""Account management: password change, deactivation and device deletion behind UIA."""

from __future__ import annotations

from typing import Any

from homeserver.services.accounts.devices import DeviceService
from homeserver.services.accounts.passwords import PasswordHasher
from homeserver.services.accounts.registration import RegistrationService
from homeserver.services.accounts.uia import PASSWORD, UiaRequest, UiaService
from homeserver.types.errors import BadRequest, Codes
from homeserver.types.requester import Requester
from storage.stores import Stores


class AccountService:
    def __init__(
        self,
        stores: Stores,
        hasher: PasswordHasher,
        uia: UiaService,
        devices: DeviceService,
        registration: RegistrationService,
    ) -> None:
        self.stores = stores
        self.hasher = hasher
        self.uia = uia
        self.devices = devices
        self.registration = registration

    async def _reauthenticate(
        self, requester: Requester, uri: str, method: str, body: dict[str, Any]
    ) -> str:
        user = await self.stores.users.get(requester.user_id)
        flows = [[PASSWORD]] if user is not None and user.password_hash else []
        outcome = await self.uia.authenticate(
            UiaRequest(uri=uri, method=method, flows=flows, body=body, user_id=requester.user_id)
        )
        return outcome.session_id

    async def change_password(self, requester: Requester, uri: str, body: dict[str, Any]) -> None:
        new_password = body.get("new_password")
        if not isinstance(new_password, str):
            raise BadRequest("Missing new_password", Codes.MISSING_PARAM)
        self.registration.check_password_strength(new_password)
        session_id = await self._reauthenticate(requester, uri, "POST", body)
        password_hash = await self.hasher.hash(new_password)
        async with self.stores.db.transaction() as conn:
            await self.stores.users.set_password_hash(requester.user_id, password_hash, conn=conn)
            if body.get("logout_devices", True) is not False:
                await self.devices.delete_all(
                    requester.user_id, except_device_id=requester.device_id, conn=conn
                )
        await self.uia.finish(session_id)

    async def deactivate(self, requester: Requester, uri: str, body: dict[str, Any]) -> None:
        session_id = await self._reauthenticate(requester, uri, "POST", body)
        async with self.stores.db.transaction() as conn:
            await self.stores.users.mark_deactivated(
                requester.user_id, erase=body.get("erase") is True, conn=conn
            )
            await self.stores.profiles.delete_all(requester.user_id, conn=conn)
            await self.devices.delete_all(requester.user_id, conn=conn)
        await self.uia.finish(session_id)

    async def delete_devices(
        self,
        requester: Requester,
        uri: str,
        method: str,
        device_ids: list[str],
        body: dict[str, Any],
    ) -> list[str]:
        session_id = await self._reauthenticate(requester, uri, method, body)
        deleted = await self.devices.delete(requester.user_id, device_ids)
        await self.uia.finish(session_id)
        return deleted
