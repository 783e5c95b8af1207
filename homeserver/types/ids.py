"""Matrix identifier grammar (spec appendices: server names, user IDs).

Parsing is strict for identifiers this server mints and tolerant where the
spec asks servers to accept historical forms.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

MAX_USER_ID_BYTES = 255

_PORT = r"(?::(?P<port>[0-9]{1,5}))?"
_DNS_NAME = re.compile(r"^(?P<host>[A-Za-z0-9.-]{1,255})" + _PORT + r"\Z")
_IPV6 = re.compile(r"^\[(?P<host>[0-9A-Fa-f:.]{2,45})\]" + _PORT + r"\Z")
_LOCALPART = re.compile(r"^[a-z0-9._=\-/+]+\Z")


def is_valid_server_name(name: str) -> bool:
    """The `server_name` grammar: hostname with an optional port below 65536."""
    match = _IPV6.match(name)
    if match:
        try:
            ipaddress.IPv6Address(match.group("host"))
        except ValueError:
            return False
    else:
        match = _DNS_NAME.match(name)
        if not match:
            return False
        host = match.group("host")
        # A dotted quad must be a real IPv4 address, not a DNS name of digits.
        if re.fullmatch(r"[0-9]{1,3}(\.[0-9]{1,3}){3}", host):
            try:
                ipaddress.IPv4Address(host)
            except ValueError:
                return False
    port = match.group("port")
    return port is None or 0 < int(port) < 65536


def is_valid_localpart(localpart: str) -> bool:
    """A localpart this server may allocate: the spec's current character set."""
    return bool(_LOCALPART.match(localpart))


@dataclass(frozen=True, slots=True)
class UserID:
    localpart: str
    domain: str

    @classmethod
    def parse(cls, raw: str) -> UserID:
        """Parse `@localpart:domain`, accepting historical localparts (anything but `:`/NUL)."""
        if not isinstance(raw, str) or not raw.startswith("@") or ":" not in raw:
            raise ValueError(f"not a user ID: {raw!r}")
        localpart, domain = raw[1:].split(":", 1)
        if "\x00" in localpart or not is_valid_server_name(domain):
            raise ValueError(f"not a user ID: {raw!r}")
        return cls(localpart, domain)

    def __str__(self) -> str:
        return f"@{self.localpart}:{self.domain}"

    @property
    def is_compliant(self) -> bool:
        return is_valid_localpart(self.localpart) and len(str(self).encode()) <= MAX_USER_ID_BYTES


def is_user_id(value: object) -> bool:
    """Whether `value` passes the user ID validation applied to an event's `sender`."""
    if not isinstance(value, str):
        return False
    try:
        UserID.parse(value)
    except ValueError:
        return False
    return True


def server_name_of(identifier: str) -> str:
    """The server name after the first `:` of a user, room (before v12), event (v1/v2) or
    alias identifier; empty when it has none."""
    return identifier.split(":", 1)[1] if ":" in identifier else ""


def room_id_for_create_event(create_event_id: str) -> str:
    """v12: a room is named by its create event's ID, with the `!` sigil instead of `$`."""
    return "!" + create_event_id[1:]


def create_event_id_for_room(room_id: str) -> str:
    """v12: the ID of the create event a room ID was derived from."""
    return "$" + room_id[1:]
