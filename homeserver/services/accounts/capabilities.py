"""What /capabilities advertises, derived from configuration and supported room versions."""

from __future__ import annotations

from typing import Any

from homeserver.types.requester import Requester


class CapabilitiesService:
    def __init__(
        self, password_change_enabled: bool, default_room_version: str, room_versions: list[str]
    ) -> None:
        self.password_change_enabled = password_change_enabled
        self.default_room_version = default_room_version
        self.room_versions = room_versions

    def for_user(self, requester: Requester) -> dict[str, Any]:
        return {
            "m.change_password": {
                "enabled": self.password_change_enabled and not requester.is_guest
            },
            "m.room_versions": {
                "default": self.default_room_version,
                "available": {version: "stable" for version in self.room_versions},
            },
            "m.set_displayname": {"enabled": True},
            "m.set_avatar_url": {"enabled": True},
            # No third-party identifiers can be bound on this server yet.
            "m.3pid_changes": {"enabled": False},
            "m.get_login_token": {"enabled": False},
            "m.profile_fields": {"enabled": True},
        }
