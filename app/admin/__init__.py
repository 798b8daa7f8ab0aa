"""Administration pages (/admin): accounts, units, campaign settings, checklist keywords."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this feature's blueprints and commands."""
    from app.admin import views

    app.register_blueprint(views.bp)
