"""Open311 GeoReport v2 at /open311/v2/: other city systems file and follow reports."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Register the GeoReport blueprint, CSRF-exempt (clients authenticate with api_key)."""
    from app.extensions import csrf
    from app.open311.views import bp

    app.register_blueprint(bp)
    csrf.exempt(bp)
