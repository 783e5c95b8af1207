"""Talking to other machines: the one outbound HTTP client, its address filter and
backoff (DESIGN rule 16). Uses only homeserver.types and libraries."""

from homeserver.outbound.address_filter import AddressFilter, RefusedAddress, parse_networks
from homeserver.outbound.backoff import Backoff
from homeserver.outbound.client import (
    BadResponse,
    ConnectionFailed,
    DestinationRefused,
    HttpStatusError,
    JsonResponse,
    OutboundClient,
    OutboundError,
    OutboundSettings,
    RequestTimedOut,
    ResponseTooLarge,
)

__all__ = [
    "AddressFilter",
    "Backoff",
    "BadResponse",
    "ConnectionFailed",
    "DestinationRefused",
    "HttpStatusError",
    "JsonResponse",
    "OutboundClient",
    "OutboundError",
    "OutboundSettings",
    "RefusedAddress",
    "RequestTimedOut",
    "ResponseTooLarge",
    "parse_networks",
]
