"""The role check every staff route uses.

It sits in the lowest package so that intake, routing and app views can all use it
without importing upward; `app.auth` loads the signed-in user into `g.staff`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, g, redirect, request, url_for

F = TypeVar("F", bound=Callable[..., Any])

STAFF_ROLES = frozenset({"admin", "taskforce", "operator", "unit", "inspector"})


def current_staff() -> Any | None:
    return g.get("staff")


def staff_required(*roles: str) -> Callable[[F], F]:
    """Allow signed-in staff whose role is in `roles` (any staff role if none given).

    :raise 403: signed in with another role. Anonymous visitors are sent to the login page.
    """
    allowed = frozenset(roles) or STAFF_ROLES
    unknown = allowed - STAFF_ROLES
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")

    def decorator(view: F) -> F:
        view.required_roles = allowed  # type: ignore[attr-defined]

        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            staff = current_staff()
            if staff is None:
                if request.path.startswith("/api/"):
                    abort(401)
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if staff.role not in allowed:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator
