"""What clients and servers are told about where to find this server."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Discovery:
    client_base_url: str
    federation_address: str

    @classmethod
    def build(cls, server_name: str, client_base_url: str, delegation: str | None) -> Discovery:
        if delegation:
            address = delegation
        elif server_name.rsplit(":", 1)[-1].isdigit() and not server_name.endswith("]"):
            address = server_name
        else:
            # No port in the server name: federation is expected behind TLS on 443.
            address = f"{server_name}:443"
        return cls(client_base_url, address)
