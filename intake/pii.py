"""Reporter PII at rest: Fernet encryption with key rotation, keyed hashes, masking."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

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

    def decrypt(self, token: str | None, *, ttl: int | None = None) -> str | None:
        """The plain text, or None for a token that is not ours or older than `ttl` seconds."""
        if not token:
            return None
        try:
            return self._fernet.decrypt(token.encode("ascii"), ttl=ttl).decode("utf-8")
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


# What a reporter may type about themselves into the text: numbers, addresses, ID numbers,
# their receipt code (quoted in a reply to the acknowledgement).
_CONTACT_PATTERNS = (
    re.compile(r"(?<![\w@.])[\w.+-]+@[\w-]+(?:\.[\w-]+)+"),
    re.compile(r"(?<!\d)[1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[\dXx](?!\d)"),
    re.compile(r"(?<!\d)(?:\+?86[-\s]?)?1[3-9]\d(?:[-\s]?\d{4}){2}(?!\d)"),
    re.compile(r"(?<!\d)0\d{2,3}[-—\s]?\d{7,8}(?!\d)"),
    re.compile(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}\b"),
)


def redact_contacts(text: str, names: Iterable[str | None] = ()) -> str:
    """The text with contact details and the given names replaced by ＊＊＊ (for units)."""
    for pattern in _CONTACT_PATTERNS:
        text = pattern.sub("＊＊＊", text)
    for name in names:
        if name and len(name.strip()) >= 2:
            text = text.replace(name.strip(), "＊＊＊")
    return text
