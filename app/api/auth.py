"""Bearer-token authentication for the staff JSON API.

The API ignores the session cookie: a request is authenticated by its
``Authorization: Bearer xnt_...`` header only, so browser sessions cannot be used to
drive it cross-site, and a revoked token stops working at once.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, g, request
from sqlalchemy.exc import OperationalError

from app.api.credentials import authenticate_token, needs_touch
from app.models import User
from notices.access import STAFF_ROLES
from notices.db import begin_write, get_session
from notices.timeutil import utcnow

F = TypeVar("F", bound=Callable[..., Any])


class ApiError(Exception):
    """An error answered as ``[{"code", "description"}]`` with the HTTP status `code`."""

    def __init__(self, code: int, description: str, headers: dict[str, str] | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.headers = headers or {}


def bearer_secret() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def current_api_user() -> User:
    return g.api_user


def token_required(*roles: str) -> Callable[[F], F]:
    """Allow a valid token whose user's role is in `roles` (any staff role if none given).

    :raise ApiError 401: no, malformed, unknown or revoked token, or inactive account.
    :raise ApiError 403: the account's role may not use this endpoint.
    """
    allowed = frozenset(roles) or STAFF_ROLES
    if allowed - STAFF_ROLES:
        raise ValueError(f"unknown roles: {sorted(allowed - STAFF_ROLES)}")

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            session = get_session()
            found = authenticate_token(session, bearer_secret())
            if found is None:
                raise ApiError(401, "missing, invalid or revoked API token",
                               {"WWW-Authenticate": 'Bearer realm="api"'})
            token, user = found
            if getattr(user.role, "value", user.role) not in allowed:
                raise ApiError(403, "your role may not use this endpoint")
            if needs_touch(token):
                _touch(session, token)
            g.api_user = user
            return view(*args, **kwargs)

        wrapped.required_roles = allowed  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator


def _touch(session, token) -> None:
    """Record when a token was last used (at most every few minutes; best effort)."""
    try:
        session.commit()
        begin_write(session)
        token.last_used_at = utcnow()
        session.commit()
    except OperationalError:
        session.rollback()
        current_app.logger.warning("could not record API token use")
