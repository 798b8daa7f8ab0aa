"""Flask extensions, created unbound and initialised in create_app."""

from __future__ import annotations

from flask import request, session
from flask_babel import Babel
from flask_limiter import Limiter
from flask_mail import Mail
from flask_wtf.csrf import CSRFProtect

from app.ratelimit import client_key

babel = Babel()
csrf = CSRFProtect()
mail = Mail()
limiter = Limiter(key_func=client_key, default_limits=[])


def select_locale() -> str:
    """Chinese first; English when the visitor chose it (cookie/session) or asks ?lang=en."""
    from flask import current_app

    supported = current_app.config["LANGUAGES"]
    chosen = request.args.get("lang") or session.get("lang")
    if chosen in supported:
        return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]
