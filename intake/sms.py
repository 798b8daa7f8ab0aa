"""Placeholder replaced by the SMS channel module."""

from flask import Blueprint

bp = Blueprint("sms", __name__)
