"""The staff JSON API at /api/v1/ (bearer tokens) and the `flask api` commands."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the API blueprint (CSRF-exempt: no cookies are honoured) and commands."""
    from app.api.cli import api_cli
    from app.api.views import bp
    from app.extensions import csrf

    app.register_blueprint(bp)
    csrf.exempt(bp)
    app.cli.add_command(api_cli)
