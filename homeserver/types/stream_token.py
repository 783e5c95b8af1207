"""The sync token: one position per stream, opaque to clients.

Serialised as `s` and the positions joined by `_`, in field order (events, account data,
receipts, typing, presence, to-device, device lists, push rules).
Tokens from before a stream existed (fewer fields) read the missing positions as 0.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from enum import StrEnum


class Stream(StrEnum):
    EVENTS = "events"
    ACCOUNT_DATA = "account_data"
    RECEIPTS = "receipts"
    TYPING = "typing"
    PRESENCE = "presence"
    TO_DEVICE = "to_device"
    DEVICE_LISTS = "device_lists"
    PUSH_RULES = "push_rules"


# Positions are Postgres bigints: a token naming a larger one cannot be ours.
MAX_POSITION = 2**63 - 1


class InvalidToken(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class StreamToken:
    events: int = 0
    account_data: int = 0
    receipts: int = 0
    typing: int = 0
    presence: int = 0
    to_device: int = 0
    device_lists: int = 0
    push_rules: int = 0

    def serialize(self) -> str:
        return "s" + "_".join(str(getattr(self, f.name)) for f in fields(self))

    @classmethod
    def parse(cls, raw: str) -> StreamToken:
        if not raw.startswith("s"):
            raise InvalidToken(raw)
        parts = raw[1:].split("_")
        names = [f.name for f in fields(cls)]
        if len(parts) > len(names):
            raise InvalidToken(raw)
        try:
            values = [int(part) for part in parts]
        except ValueError:
            raise InvalidToken(raw) from None
        if any(value < 0 or value > MAX_POSITION for value in values):
            raise InvalidToken(raw)
        return cls(**dict(zip(names, values, strict=False)))

    def get(self, stream: Stream) -> int:
        return int(getattr(self, stream.value))

    def advance(self, stream: Stream, position: int) -> StreamToken:
        """This token with `stream` moved forward to `position` (never backwards)."""
        if position <= self.get(stream):
            return self
        return replace(self, **{stream.value: position})

    def is_after(self, other: StreamToken) -> bool:
        """Whether any stream of this token is ahead of `other`."""
        return any(getattr(self, f.name) > getattr(other, f.name) for f in fields(self))

    def merged_max(self, other: StreamToken) -> StreamToken:
        return StreamToken(
            **{f.name: max(getattr(self, f.name), getattr(other, f.name)) for f in fields(self)}
        )
