"""Reporter PII at rest: Fernet encryption with key rotation, keyed hashes, masking."""

from __future__ import annotations

import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class PiiVault:
    """Encrypts with the first key, decrypts with any; `rotate` re-encrypts with the first."""

    def __init__(self, keys: list[str], hash_key: bytes) -> None:
        if not keys:
            raise ValueError("at least one PII key is required")
        self._fernet = MultiFernet([Fernet(k.encode() if isinstance(k, str) else k) for k in keys])
        self._hash_key = hash_key

    @classmethod
    def from_config(cls, pii_keys: str, hash_key: str) -> PiiVault:
        return cls([k.strip() for k in pii_keys.split(",") if k.strip()], hash_key.encode())

    def encrypt(self, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        return self._fernet.encrypt(value.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str | None) -> str | None:
        if not token:
            return None
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            return None

    def rotate(self, token: str | None) -> str | None:
        return self._fernet.rotate(token.encode("ascii")).decode("ascii") if token else token

    def keyed_hash(self, value: str | None) -> str | None:
        """HMAC-SHA256 of a normalised value: lets us match senders without storing them."""
        if not value:
            return None
        normalised = value.strip().lower().encode("utf-8")
        return hmac.new(self._hash_key, normalised, hashlib.sha256).hexdigest()


def mask_phone(phone: str | None) -> str:
    if not phone:
        return ""
    digits = phone.strip()
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 8 else "****"


def mask_email(email: str | None) -> str:
    if not email or "@" not in email:
        return ""
    local, _, domain = email.partition("@")
    return (local[:1] or "*") + "***@" + domain


def mask_name(name: str | None) -> str:
    if not name:
        return ""
    return name[0] + "*" * max(1, len(name) - 1)
