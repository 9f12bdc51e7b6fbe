"""Encryption at rest for connected accounts' tokens and API keys (Fernet).

The key comes from ``KONTOR_ENCRYPTION_KEY``: one or more keys, comma-separated, newest
first. Each is a Fernet key (``kontor integrations new-key`` prints one) or any other
passphrase, which is stretched with HKDF. When the variable is unset the key is derived
from SECRET_KEY. To rotate: put the new key first, keep the old one after it, run
``kontor integrations rotate-key`` (every secret is re-encrypted with the new key), then
drop the old key.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


class CannotDecrypt(Exception):
    """A stored secret was encrypted with a key that is no longer configured."""


def _fernet_key(material: str) -> bytes:
    raw = material.strip().encode()
    try:
        if len(base64.urlsafe_b64decode(raw)) == 32:
            return raw
    except (ValueError, TypeError):
        pass
    derived = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"kontor", info=b"kontor-integrations"
    ).derive(raw)
    return base64.urlsafe_b64encode(derived)


def keys(setting: str | None = None, secret_key: str | None = None) -> list[bytes]:
    """The Fernet keys, newest first."""
    config = current_app.config if setting is None and secret_key is None else {}
    setting = setting if setting is not None else config.get("ENCRYPTION_KEY")
    if setting:
        parts = [p for p in setting.split(",") if p.strip()]
        if parts:
            return [_fernet_key(p) for p in parts]
    secret = secret_key if secret_key is not None else config["SECRET_KEY"]
    return [_fernet_key(secret)]


def _box() -> MultiFernet:
    return MultiFernet([Fernet(k) for k in keys()])


def new_key() -> str:
    """A fresh random key for KONTOR_ENCRYPTION_KEY."""
    return Fernet.generate_key().decode()


def encrypt(value: dict[str, Any]) -> str:
    """Encrypt a JSON-serialisable dict with the newest key."""
    return _box().encrypt(json.dumps(value, sort_keys=True).encode()).decode()


def decrypt(token: str) -> dict[str, Any]:
    """Decrypt what encrypt() made, with whichever configured key made it."""
    try:
        return json.loads(_box().decrypt(token.encode()))
    except InvalidToken:
        raise CannotDecrypt(
            "a stored secret cannot be decrypted with KONTOR_ENCRYPTION_KEY"
        ) from None


def rotate(token: str) -> str:
    """Re-encrypt `token` with the newest key."""
    try:
        return _box().rotate(token.encode()).decode()
    except InvalidToken:
        raise CannotDecrypt(
            "a stored secret cannot be decrypted with KONTOR_ENCRYPTION_KEY"
        ) from None
