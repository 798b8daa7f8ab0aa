"""Placeholder: filled by the open311 work; create_app calls init_app."""

from flask import Flask


def init_app(app: Flask) -> None:
    """Register this feature's blueprints and commands."""
