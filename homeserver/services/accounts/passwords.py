"""Password hashing with argon2id (pynacl), off the event loop."""

from __future__ import annotations

import asyncio
from typing import Literal

import nacl.exceptions
import nacl.pwhash.argon2id as argon2id

HashCost = Literal["min", "interactive", "moderate", "sensitive"]

_LIMITS: dict[str, tuple[int, int]] = {
    "min": (argon2id.OPSLIMIT_MIN, argon2id.MEMLIMIT_MIN),
    "interactive": (argon2id.OPSLIMIT_INTERACTIVE, argon2id.MEMLIMIT_INTERACTIVE),
    "moderate": (argon2id.OPSLIMIT_MODERATE, argon2id.MEMLIMIT_MODERATE),
    "sensitive": (argon2id.OPSLIMIT_SENSITIVE, argon2id.MEMLIMIT_SENSITIVE),
}


class PasswordHasher:
    def __init__(self, cost: HashCost) -> None:
        self.opslimit, self.memlimit = _LIMITS[cost]

    def _hash(self, password: str) -> str:
        return argon2id.str(password.encode(), self.opslimit, self.memlimit).decode()

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        if not password_hash:
            return False
        try:
            return await asyncio.to_thread(
                argon2id.verify, password_hash.encode(), password.encode()
            )
        except (nacl.exceptions.InvalidkeyError, nacl.exceptions.CryptoError):
            return False
