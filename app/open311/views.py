"""Open311 GeoReport v2 at /open311/v2/ (discovery also at /open311/discovery.{fmt}).

Wire rules: every resource in ``.json`` and ``.xml``; POST bodies form-encoded; errors
``[{"code", "description"}]`` / ``<errors><error>`` with 400 (bad or missing input),
403 (api_key missing, unknown or revoked), 404 (unknown service_code, request,
token or jurisdiction_id), plus 429 (rate limit) and 503 (database busy, nothing stored).
``jurisdiction_id`` is optional: a campaign's slug (default: DEFAULT_CAMPAIGN).
The receipt code (查询码) is returned once, to the posting client, as the extension field
``receipt_code``; it is not part of GeoReport.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import Blueprint, Response, current_app, request, url_for
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from app.api.credentials import authenticate_key
from app.models import ApiClient
from app.open311 import service
from app.open311.formats import render, render_errors
from app.open311.service import Open311Error
from intake.registration import RegistrationError
from intake.services import current_services
from notices.campaigns import active_campaigns, by_slug, default_campaign
from notices.db import get_session
from notices.models import Campaign
from notices.ratelimit import client_key, limiter

bp = Blueprint("open311", __name__, url_prefix="/open311")

FMT = "<any(json, xml):fmt>"
_BUCKET_KEY = secrets.token_bytes(32)


def key_bucket() -> str:
    """Rate-limit bucket per api_key (a keyed hash, never the key itself)."""
    key = (request.values.get("api_key") or "").encode("utf-8", "replace")
    return "o311:" + hmac.new(_BUCKET_KEY, key, hashlib.sha256).hexdigest()[:32]


def _limit(name: str, default: str):
    return lambda: current_app.config.get(name) or default


def _fmt() -> str:
    return (request.view_args or {}).get("fmt", "json")


@bp.errorhandler(Open311Error)
def _open311_error(exc: Open311Error) -> Response:
    return render_errors(_fmt(), exc.code, exc.description)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    code = exc.code or 500
    description = "rate limit exceeded, retry later" if code == 429 else (exc.description or "")
    return render_errors(_fmt(), code, description)


def _campaign() -> Campaign:
    """The campaign named by jurisdiction_id (its slug), else the default campaign."""
    db = get_session()
    jurisdiction = (request.values.get("jurisdiction_id") or "").strip()
    campaign = by_slug(db, jurisdiction) if jurisdiction else default_campaign(db)
    if campaign is None or not campaign.is_active:
        served = ", ".join(c.slug for c in active_campaigns(db)) or "none"
        raise Open311Error(404, f"jurisdiction_id not found (this endpoint serves: {served})")
    return campaign


def _client() -> ApiClient:
    client = authenticate_key(get_session(), request.values.get("api_key"))
    if client is None:
        raise Open311Error(403, "api_key missing, invalid or revoked")
    return client


@bp.get(f"/discovery.{FMT}")
@bp.get(f"/v2/discovery.{FMT}")
@limiter.limit(_limit("OPEN311_OPEN_LIMIT", "120/minute"), key_func=client_key)
def discovery(fmt: str) -> Response:
    url = url_for("open311.services", fmt="json", _external=True).rsplit("/", 1)[0]
    return render(fmt, "discovery", service.discovery(url, _campaign()))


@bp.get(f"/v2/services.{FMT}")
@limiter.limit(_limit("OPEN311_OPEN_LIMIT", "120/minute"), key_func=client_key)
def services(fmt: str) -> Response:
    return render(fmt, "services", service.service_list(get_session(), _campaign()))


@bp.get(f"/v2/services/<service_code>.{FMT}")
@limiter.limit(_limit("OPEN311_OPEN_LIMIT", "120/minute"), key_func=client_key)
def service_definition(service_code: str, fmt: str) -> Response:
    definition = service.service_definition(get_session(), _campaign(), service_code)
    return render(fmt, "service_definition", definition)


@bp.post(f"/v2/requests.{FMT}")
@limiter.limit(_limit("OPEN311_POST_LIMIT", "30/minute;1000/day"), key_func=key_bucket)
@limiter.limit(_limit("OPEN311_POST_IP_LIMIT", "60/minute"), key_func=client_key)
def create_request(fmt: str) -> Response:
    client = _client()
    campaign = _campaign()
    db = get_session()
    new = service.parse_request(db, campaign, request.form)
    try:
        db.commit()  # end the read transaction so registration starts as a writer
        receipt, token = service.file_request(db, current_services(), campaign, client, new)
        db.commit()
    except RegistrationError as exc:
        db.rollback()
        raise Open311Error(400, f"{exc.field or 'request'}: {exc.message}") from None
    except OperationalError:
        db.rollback()
        current_app.logger.exception("Open311 registration failed: database unavailable")
        return render_errors(fmt, 503, "database busy, the request was not stored; retry")
    return render(fmt, "service_requests",
                  [service.post_response(db, campaign, receipt, token)])


@bp.get(f"/v2/requests.{FMT}")
@limiter.limit(_limit("OPEN311_READ_LIMIT", "120/minute"), key_func=key_bucket)
@limiter.limit(_limit("OPEN311_READ_IP_LIMIT", "240/minute"), key_func=client_key)
def list_requests(fmt: str) -> Response:
    client = _client()
    campaign = _campaign()
    query = service.parse_query(request.args)
    return render(fmt, "service_requests",
                  service.find_requests(get_session(), campaign, client, query))


@bp.get(f"/v2/requests/<service_request_id>.{FMT}")
@limiter.limit(_limit("OPEN311_READ_LIMIT", "120/minute"), key_func=key_bucket)
@limiter.limit(_limit("OPEN311_READ_IP_LIMIT", "240/minute"), key_func=client_key)
def get_request(service_request_id: str, fmt: str) -> Response:
    client = _client()
    campaign = _campaign()
    return render(fmt, "service_requests",
                  service.get_request(get_session(), campaign, client, service_request_id))


@bp.get(f"/v2/tokens/<token>.{FMT}")
@limiter.limit(_limit("OPEN311_READ_LIMIT", "120/minute"), key_func=key_bucket)
@limiter.limit(_limit("OPEN311_READ_IP_LIMIT", "240/minute"), key_func=client_key)
def token(token: str, fmt: str) -> Response:
    client = _client()
    _campaign()
    return render(fmt, "service_requests", service.request_for_token(get_session(), client,
                                                                     token))
