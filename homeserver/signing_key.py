"""The server's ed25519 signing key: generated on first start, then read back."""

from __future__ import annotations

import os
import secrets
import string
from pathlib import Path

from signedjson.key import SigningKey, generate_signing_key, read_signing_keys, write_signing_keys

_KEY_ID_ALPHABET = string.ascii_letters + string.digits


def load_or_create_signing_key(path: Path) -> SigningKey:
    if path.exists():
        with path.open() as handle:
            keys = read_signing_keys(handle)
        if not keys:
            raise ValueError(f"{path} holds no signing key")
        return keys[0]
    version = "a_" + "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(4))
    key = generate_signing_key(version)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created private from the start: the key signs everything this server says.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        write_signing_keys(handle, [key])
    return key
