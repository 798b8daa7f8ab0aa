"""Response headers: CSP without inline script, no framing, no sniffing, no referrer leaks."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, abort, request

CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])


def _harden(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if response.mimetype == "text/html":
        headers.setdefault("Cache-Control", "no-store")
    return response


def _refuse_nul_bytes() -> None:
    """A NUL byte is never legitimate input; PostgreSQL would refuse it mid-query (500)."""
    values = [request.path, *request.args.keys(), *request.args.values()]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        values += [*request.form.keys(), *request.form.values()]
    if any("\x00" in value for value in values):
        abort(400)


def safe_next(target: str | None, fallback: str) -> str:
    """A local path to go back to after sign-in or a language switch, else `fallback`.

    Browsers ignore tabs and treat a backslash as a slash, so `/\t/evil.example` or
    `/\\evil.example` would leave the site: anything that is not a plain local path is refused.
    """
    if not target:
        return fallback
    cleaned = "".join(ch for ch in target if ch.isprintable()).replace("\\", "/")
    parts = urlsplit(cleaned)
    if cleaned != target or parts.scheme or parts.netloc or not cleaned.startswith("/") \
            or cleaned.startswith("//"):
        return fallback
    return cleaned


def init_app(app: Flask) -> None:
    app.before_request(_refuse_nul_bytes)
    app.after_request(_harden)
