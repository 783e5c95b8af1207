"""Pushers (spec: Push Notifications, POST /pushers/set and GET /pushers).

A pusher belongs to the device that set it and is removed with that device, so logging out
elsewhere on a password change takes the other devices' pushers with it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from homeserver.outbound import AddressFilter, RefusedAddress
from homeserver.services.common.clock import Clock
from homeserver.types.errors import BadRequest, Codes
from homeserver.types.requester import Requester
from storage.stores import Stores
from storage.stores.pushers import PusherRecord

NOTIFY_PATH = "/_matrix/push/v1/notify"
MAX_PUSHKEY_BYTES = 512
MAX_APP_ID_LENGTH = 64
KINDS = ("http", "email")


class PusherService:
    def __init__(
        self, stores: Stores, clock: Clock, address_filter: AddressFilter | None = None
    ) -> None:
        self.stores = stores
        self.clock = clock
        self.address_filter = address_filter or AddressFilter()

    async def list(self, user_id: str) -> list[dict[str, Any]]:
        return [_to_json(pusher) for pusher in await self.stores.pushers.for_user(user_id)]

    async def set(self, requester: Requester, body: dict[str, Any]) -> None:
        """Create, update (kind set) or delete (kind null) the user's pusher for an app ID
        and pushkey."""
        app_id, pushkey = body["app_id"], body["pushkey"]
        if len(app_id) > MAX_APP_ID_LENGTH:
            raise BadRequest(f"app_id is longer than {MAX_APP_ID_LENGTH} characters")
        if len(pushkey.encode()) > MAX_PUSHKEY_BYTES:
            raise BadRequest(f"pushkey is longer than {MAX_PUSHKEY_BYTES} bytes")
        kind = body["kind"]
        if kind is None:
            await self.stores.pushers.delete(requester.user_id, app_id, pushkey)
            return
        missing = [
            key
            for key in ("app_display_name", "device_display_name", "lang", "data")
            if body.get(key) is None
        ]
        if missing:
            raise BadRequest(f"Missing parameters: {', '.join(missing)}", Codes.MISSING_PARAM)
        if kind not in KINDS:
            raise BadRequest(f"Unknown pusher kind {kind!r}: use one of {', '.join(KINDS)}")
        data = body["data"]
        if kind == "http":
            _check_http_data(data, self.address_filter)
        else:
            # Email pushers send to an address bound to the account; this server binds none.
            raise BadRequest(
                "Email pushers need an e-mail address bound to the account",
                Codes.THREEPID_NOT_FOUND,
            )
        await self.stores.pushers.set(
            PusherRecord(
                user_id=requester.user_id,
                app_id=app_id,
                pushkey=pushkey,
                device_id=requester.device_id,
                kind=kind,
                app_display_name=body["app_display_name"],
                device_display_name=body["device_display_name"],
                profile_tag=body.get("profile_tag"),
                lang=body["lang"],
                data=data,
                created_ts=self.clock.time_ms(),
            ),
            replace_other_users=not body.get("append", False),
        )


def _check_http_data(data: dict[str, Any], address_filter: AddressFilter) -> None:
    url = data.get("url")
    if url is None:
        raise BadRequest("HTTP pushers need data.url", Codes.MISSING_PARAM)
    if not isinstance(url, str):
        raise BadRequest("data.url must be a string", Codes.BAD_JSON)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        raise BadRequest("data.url is not a valid URL") from None
    # The spec asks for HTTPS; plain HTTP is accepted, as Synapse does, for gateways on a
    # private network and in development.
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise BadRequest("data.url must be an absolute HTTPS URL")
    if parts.path != NOTIFY_PATH:
        raise BadRequest(f"data.url must have the path {NOTIFY_PATH}")
    # Refused now rather than failing every delivery later: a gateway on an internal
    # address would let any user make this server send requests inside its network.
    # Names are judged when delivery resolves them.
    try:
        address_filter.check_host(parts.hostname or "")
    except RefusedAddress:
        raise BadRequest(
            "data.url points to a private, loopback or otherwise internal address, which"
            " this server does not send push notifications to"
        ) from None
    # data.format is kept as given, not checked: Synapse accepts any value (SyTest sends
    # one outside the spec's enum), and anything but event_id_only means full notifications.


def _to_json(pusher: PusherRecord) -> dict[str, Any]:
    result: dict[str, Any] = {
        "pushkey": pusher.pushkey,
        "kind": pusher.kind,
        "app_id": pusher.app_id,
        "app_display_name": pusher.app_display_name,
        "device_display_name": pusher.device_display_name,
        "lang": pusher.lang,
        "data": pusher.data,
    }
    if pusher.profile_tag is not None:
        result["profile_tag"] = pusher.profile_tag
    return result
