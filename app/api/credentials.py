"""Machine credentials: Open311 client keys and staff API tokens.

Both are high-entropy secrets (256 bits) shown once when issued. Only a SHA-256 hash is
stored, with a short random lookup prefix that is part of the secret's text, so checking
one costs an indexed look-up and a constant-time comparison. A slow hash is not needed:
it protects low-entropy passwords and receipt codes, not 256-bit random values.

Text form: ``xnk_<prefix>_<secret>`` for client keys, ``xnt_<prefix>_<secret>`` for tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import Session, select

from app.models import ApiClient, ApiToken, User
from intake.models import Event
from notices.timeutil import as_utc, utcnow

KEY_KIND = "xnk"
# The text prefix of tokens, not a secret.
TOKEN_KIND = "xnt"  # noqa: S105  # nosec B105
PREFIX_CHARS = 8  # hex
LAST_USED_RESOLUTION = timedelta(minutes=5)


class CredentialError(ValueError):
    """Issuing or revoking failed; the message is for the administrator."""


@dataclass(frozen=True)
class Issued:
    id: int
    secret: str  # shown once, never stored


def _new_secret(kind: str) -> tuple[str, str]:
    prefix = secrets.token_hex(PREFIX_CHARS // 2)
    return prefix, f"{kind}_{prefix}_{secrets.token_urlsafe(32)}"


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _split(secret: str | None, kind: str) -> str | None:
    """The lookup prefix of a well-formed secret of `kind`, else None."""
    if not secret or len(secret) > 128:
        return None
    parts = secret.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != kind or len(parts[1]) != PREFIX_CHARS or not parts[2]:
        return None
    return parts[1]


# -- Open311 client keys ---------------------------------------------------------------

def issue_key(session: Session, name: str, *, created_by_id: int | None = None) -> Issued:
    name = (name or "").strip()
    if not name or len(name) > 128:
        raise CredentialError("client name must be 1-128 characters")
    prefix, secret = _new_secret(KEY_KIND)
    client = ApiClient(name=name, key_prefix=prefix, key_hash=hash_secret(secret),
                       created_by_id=created_by_id)
    session.add(client)
    session.flush()
    session.add(Event(kind="api_key_issued", actor_id=created_by_id,
                      data={"api_client_id": client.id, "name": name}))
    return Issued(client.id, secret)


def revoke_key(session: Session, client_id: int, *, actor_id: int | None = None) -> ApiClient:
    client = session.get(ApiClient, client_id)
    if client is None:
        raise CredentialError(f"no API client with id {client_id}")
    if client.revoked_at is None:
        client.revoked_at = utcnow()
        session.add(Event(kind="api_key_revoked", actor_id=actor_id,
                          data={"api_client_id": client.id}))
    return client


def authenticate_key(session: Session, secret: str | None) -> ApiClient | None:
    """The active client whose key this is, or None (unknown, malformed or revoked)."""
    prefix = _split(secret, KEY_KIND)
    if prefix is None:
        return None
    digest = hash_secret(secret.strip())
    for client in session.exec(select(ApiClient).where(ApiClient.key_prefix == prefix)):
        if hmac.compare_digest(client.key_hash, digest) and client.revoked_at is None:
            return client
    return None


# -- staff API tokens ---------------------------------------------------------------------

def issue_token(session: Session, username: str, *, name: str = "",
                actor_id: int | None = None) -> Issued:
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None or not user.is_active:
        raise CredentialError(f"no active staff account {username!r}")
    prefix, secret = _new_secret(TOKEN_KIND)
    token = ApiToken(user_id=user.id, name=(name or "").strip()[:64], token_prefix=prefix,
                     token_hash=hash_secret(secret))
    session.add(token)
    session.flush()
    session.add(Event(kind="api_token_issued", actor_id=actor_id,
                      data={"api_token_id": token.id, "user_id": user.id}))
    return Issued(token.id, secret)


def revoke_token(session: Session, token_id: int, *, actor_id: int | None = None) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise CredentialError(f"no API token with id {token_id}")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.add(Event(kind="api_token_revoked", actor_id=actor_id,
                          data={"api_token_id": token.id, "user_id": token.user_id}))
    return token


def authenticate_token(session: Session, secret: str | None) -> tuple[ApiToken, User] | None:
    """The live token and its active user, or None."""
    prefix = _split(secret, TOKEN_KIND)
    if prefix is None:
        return None
    digest = hash_secret(secret.strip())
    for token in session.exec(select(ApiToken).where(ApiToken.token_prefix == prefix)):
        if not hmac.compare_digest(token.token_hash, digest) or token.revoked_at is not None:
            continue
        user = session.get(User, token.user_id)
        if user is None or not user.is_active:
            return None
        return token, user
    return None


def needs_touch(token: ApiToken) -> bool:
    """Whether last_used_at is stale enough to be worth a write."""
    return token.last_used_at is None or \
        utcnow() - as_utc(token.last_used_at) > LAST_USED_RESOLUTION
