"""Flask extensions, created unbound and initialised in create_app.

The rate limiter lives in notices.ratelimit so that every layer can use it."""

from __future__ import annotations

from flask import request, session
from flask_babel import Babel
from flask_mail import Mail
from flask_wtf.csrf import CSRFProtect

babel = Babel()
csrf = CSRFProtect()
mail = Mail()


def select_locale() -> str:
    """Chinese first; English when the visitor chose it (cookie/session) or asks ?lang=en."""
    from flask import current_app, has_request_context

    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    supported = current_app.config["LANGUAGES"]
    chosen = request.args.get("lang") or session.get("lang")
    if chosen in supported:
        return chosen
    return current_app.config["BABEL_DEFAULT_LOCALE"]
