"""Structured JSON logs (one object a line) with no PII and no client addresses.

Request logs name the endpoint, method, status and duration; never the query string,
form data, or the remote address. Message helpers mask phone numbers and e-mails.
"""

from __future__ import annotations

import json
import logging
import re
import time

from flask import Flask, g, request

_PHONE = re.compile(r"(?<!\d)(\+?86)?1[3-9]\d{9}(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_IPV4 = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")


def scrub(text: str) -> str:
    """Last line of defence: mask anything shaped like a phone, e-mail or IP address."""
    text = _PHONE.sub("1**********", text)
    text = _EMAIL.sub("***@***", text)
    return _IPV4.sub("x.x.x.x", text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"), "level": record.levelname,
                 "logger": record.name, "msg": scrub(record.getMessage())}
        for key in ("endpoint", "method", "status", "ms"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exc"] = scrub(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def init_app(app: Flask) -> None:
    if not app.config.get("JSON_LOGS"):
        return
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # it logs client addresses
    access = logging.getLogger("app.request")

    @app.before_request
    def _start() -> None:
        g.request_started = time.perf_counter()

    @app.after_request
    def _log(response):
        started = g.get("request_started")
        access.info("request", extra={
            "endpoint": request.endpoint, "method": request.method,
            "status": response.status_code,
            "ms": round((time.perf_counter() - started) * 1000, 1) if started else None})
        return response
