"""Template filters and globals: China Standard Time, locale, the signed-in user."""

from __future__ import annotations

from datetime import date, datetime

from flask import Flask, g
from flask_babel import get_locale

from notices.timeutil import to_cst


def cst(value: datetime | date | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return to_cst(value).strftime(fmt)
    return value.strftime("%Y-%m-%d")


def init_app(app: Flask) -> None:
    app.jinja_env.filters["cst"] = cst

    @app.context_processor
    def _globals() -> dict:
        locale = get_locale()
        return {
            "staff": g.get("staff"),
            "lang": "en" if locale and locale.language == "en" else "zh",
            "url_map_endpoints": app.view_functions.keys(),
        }
