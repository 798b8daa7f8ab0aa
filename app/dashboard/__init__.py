"""The task force's dashboard (/taskforce), staff search (/search) and public /stats."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this feature's blueprints and commands."""
    from app.dashboard import search, stats, views

    app.register_blueprint(views.bp)
    app.register_blueprint(stats.bp)
    app.register_blueprint(search.bp)
