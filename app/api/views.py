"""The staff JSON API at /api/v1/: parse, call the domain, answer JSON."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from app.api import queries
from app.api.auth import ApiError, current_api_user, token_required
from app.api.openapi import document
from app.api.queries import is_desk
from intake.models import Report, ReportStatus
from intake.services import current_services
from notices.db import ROW_ID_MAX, get_session
from routing import transitions
from routing.models import EscalationLevel, Finding

bp = Blueprint("api", __name__, url_prefix="/api/v1")

DESK = ("taskforce", "admin")
# Whitespace as the OpenAPI document's pattern (ECMA-262 \s) counts it. Text that is
# blank only after sanitising is refused by the transition itself (409).
_BLANK = "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006" \
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
READERS = ("taskforce", "admin", "unit")


def error_response(code: int, description: str,
                   headers: dict[str, str] | None = None) -> tuple[Response, int]:
    response = jsonify([{"code": code, "description": description}])
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response, code


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    return error_response(exc.code, exc.description, exc.headers)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    return error_response(exc.code or 500, exc.description or exc.name)


# -- request parsing ------------------------------------------------------------------

def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer") from None
    if not low <= value <= high:
        raise ApiError(400, f"{name} must be between {low} and {high}")
    return value


def _optional_int_arg(name: str) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer") from None
    if not 1 <= value <= ROW_ID_MAX:
        raise ApiError(400, f"{name} is out of range")
    return value


def _bool_arg(name: str, default: bool) -> bool:
    raw = (request.args.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("true", "1", "yes"):
        return True
    if raw in ("false", "0", "no"):
        return False
    raise ApiError(400, f"{name} must be true or false")


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True) if request.content_length or request.data else {}
    if data is None or not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return data


def _text(data: dict[str, Any], name: str, *, required: bool = False,
          max_length: int = 4000) -> str:
    value = data.get(name, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ApiError(400, f"{name} must be a string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(400, f"{name} is not valid text") from None
    if len(value) > max_length:
        raise ApiError(400, f"{name} is longer than {max_length} characters")
    if required and not value.strip(_BLANK):
        raise ApiError(400, f"{name} is required")
    return value


def _id(value: int) -> int:
    if not 1 <= value <= ROW_ID_MAX:
        raise ApiError(404, "no such record")
    return value


def _read(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(get_session(), current_api_user(), *args, **kwargs)
    except queries.NotFound as exc:
        raise ApiError(404, str(exc)) from None
    except queries.Forbidden as exc:
        raise ApiError(403, str(exc)) from None
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


def _transition(report_id: int, action: Callable[..., Any], **kwargs: Any) -> Response:
    """Run a routing transition in its own transaction; answer the report as it now is."""
    user = current_api_user()
    session = get_session()
    _read(queries.load_report, _id(report_id))
    session.commit()  # end the read transaction: the transition starts as a writer
    try:
        action(session, current_services(), report_id, user, **kwargs)
        session.commit()
    except transitions.TransitionError as exc:
        session.rollback()
        raise ApiError(409, str(exc.message)) from None
    except OperationalError:
        session.rollback()
        current_app.logger.exception("API transition failed: database unavailable")
        raise ApiError(503, "database busy, nothing was changed; please retry") from None
    report = session.get(Report, report_id)
    if not is_desk(user) and report.status is ReportStatus.returned:
        # Returning a clue ends the unit's sight of it: answer only the new state.
        return jsonify({"id": report.id, "tracking_no": report.tracking_no,
                        "status": report.status.value})
    return jsonify(_read(queries.report_detail, report_id))


# -- routes -----------------------------------------------------------------------------

@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(document())


@bp.get("/me")
@token_required()
def me() -> Response:
    user = current_api_user()
    return jsonify({"id": user.id, "username": user.username,
                    "display_name": user.display_name,
                    "role": getattr(user.role, "value", user.role), "unit_id": user.unit_id})


@bp.get("/reports")
@token_required(*READERS)
def reports() -> Response:
    raw = ",".join(request.args.getlist("status"))
    status = [s.strip() for s in raw.split(",") if s.strip()]
    return jsonify(_read(queries.list_reports, status=status,
                         unit_id=_optional_int_arg("unit_id"),
                         limit=_int_arg("limit", 50, 1, queries.MAX_LIMIT),
                         offset=_int_arg("offset", 0, 0, 10**9)))


@bp.get("/reports/<int:report_id>")
@token_required(*READERS)
def report(report_id: int) -> Response:
    return jsonify(_read(queries.report_detail, _id(report_id)))


@bp.get("/assignments")
@token_required(*READERS)
def assignments() -> Response:
    return jsonify(_read(queries.list_assignments, current_only=_bool_arg("current", True),
                         unit_id=_optional_int_arg("unit_id"),
                         limit=_int_arg("limit", 50, 1, queries.MAX_LIMIT),
                         offset=_int_arg("offset", 0, 0, 10**9)))


@bp.get("/assignments/<int:assignment_id>")
@token_required(*READERS)
def assignment(assignment_id: int) -> Response:
    return jsonify(_read(queries.assignment_detail, _id(assignment_id)))


@bp.get("/dashboard")
@token_required(*READERS)
def dashboard() -> Response:
    return jsonify(_read(queries.dashboard))


@bp.post("/reports/<int:report_id>/acknowledge")
@token_required("unit")
def acknowledge(report_id: int) -> Response:
    return _transition(report_id, transitions.acknowledge)


@bp.post("/reports/<int:report_id>/return")
@token_required("unit")
def return_(report_id: int) -> Response:
    data = _body()
    return _transition(report_id, transitions.return_,
                       reason=_text(data, "reason", required=True, max_length=1000))


@bp.post("/reports/<int:report_id>/reply")
@token_required("unit")
def reply(report_id: int) -> Response:
    data = _body()
    finding = data.get("finding")
    if finding not in {f.value for f in Finding}:
        raise ApiError(400, "finding must be one of " + ", ".join(f.value for f in Finding))
    return _transition(report_id, transitions.reply, finding=finding,
                       measures=_text(data, "measures", required=True),
                       public_text=_text(data, "public_text", required=True, max_length=2000),
                       accountability=_text(data, "accountability", max_length=2000))


@bp.post("/reports/<int:report_id>/review")
@token_required(*DESK)
def review(report_id: int) -> Response:
    data = _body()
    approve = data.get("approve")
    if not isinstance(approve, bool):
        raise ApiError(400, "approve must be true or false")
    return _transition(report_id, transitions.review, approve=approve,
                       note=_text(data, "note", max_length=1000))


ESCALATION_LEVELS = tuple(level.value for level in EscalationLevel
                          if level is not EscalationLevel.warning)


@bp.post("/reports/<int:report_id>/escalate")
@token_required(*DESK)
def escalate(report_id: int) -> Response:
    data = _body()
    level = data.get("level")
    if level is not None and level not in ESCALATION_LEVELS:
        raise ApiError(400, "level must be one of " + ", ".join(ESCALATION_LEVELS))
    return _transition(report_id, transitions.escalate,
                       level=EscalationLevel(level) if level else None,
                       note=_text(data, "note", max_length=500))
