"""The running app's IntakeServices, for intake's own views and commands."""

from __future__ import annotations

from flask import current_app

from intake.registration import IntakeServices


def current_services() -> IntakeServices:
    return current_app.extensions["intake"]
