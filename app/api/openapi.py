"""The OpenAPI 3 description of the staff API, served at /api/v1/openapi.json.

Written by hand next to the views; tests/test_api.py checks that every path here is a
route and every /api/v1 route is here, and Schemathesis checks the answers against it.
"""

from __future__ import annotations

from typing import Any

STATUSES = ["received", "triage", "dispatched", "acknowledged", "replied", "rejected_reply",
            "reviewed", "awaiting_feedback", "reopened", "closed", "returned", "referred",
            "merged", "not_accepted"]
_ONE = "(" + "|".join(STATUSES) + ")"
STATUS_LIST = f"^{_ONE}(,{_ONE})*$"
FINDINGS = ["属实", "部分属实", "不属实", "无法核实"]
LEVELS = ["reminder", "supervision", "listed"]
TEXT = r"\S"  # required texts: at least one visible character


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "nullable": True}


STR = {"type": "string"}
INT = {"type": "integer"}
DT = {"type": "string", "format": "date-time"}
REF = "#/components/schemas/"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF + name}


def _obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": properties,
            "required": required if required is not None else list(properties)}


ASSIGNMENT = _obj({
    "id": INT, "report_id": INT, "unit_id": INT, "unit": _nullable(STR), "round": INT,
    "is_current": {"type": "boolean"}, "dispatched_at": DT, "acknowledge_due_at": DT,
    "return_due_at": DT, "reply_due_at": DT, "acknowledged_at": _nullable(DT),
    "returned_at": _nullable(DT), "replied_at": _nullable(DT),
    "extension_requested_at": _nullable(DT), "extension_days": _nullable(INT),
    "extension_decision": _nullable(STR)})

REPORT_PROPS: dict[str, Any] = {
    "id": INT, "tracking_no": STR, "status": {"type": "string", "enum": STATUSES},
    "channel": STR, "received_at": DT, "updated_at": DT, "closed_at": _nullable(DT),
    "text": STR, "place_text": STR, "district": _nullable(STR), "occurred_text": STR,
    "plate": _nullable(STR), "latitude": _nullable({"type": "number"}),
    "longitude": _nullable({"type": "number"}), "kind": _nullable(STR),
    "category": _nullable(STR), "items": {"type": "array", "items": INT},
    "current_assignment": _nullable(_ref("Assignment"))}

REPLY = _obj({
    "id": INT, "assignment_id": INT, "finding": STR, "measures": STR, "accountability": STR,
    "public_text": STR, "created_at": DT, "review_status": STR, "reviewed_at": _nullable(DT),
    "review_note": STR})

SCHEMAS: dict[str, Any] = {
    "Error": {"type": "array", "minItems": 1, "items": _obj({"code": INT, "description": STR})},
    "Me": _obj({"id": INT, "username": STR, "display_name": STR, "role": STR,
                "unit_id": _nullable(INT)}),
    "Assignment": ASSIGNMENT,
    "AssignmentEntry": {"allOf": [_ref("Assignment"), _obj({"tracking_no": STR,
                                                            "status": STR})]},
    "Report": _obj(REPORT_PROPS),
    "ReportDetail": _obj({
        **REPORT_PROPS,
        "assignments": {"type": "array", "items": _ref("Assignment")},
        "replies": {"type": "array", "items": REPLY},
        "history": {"type": "array", "items": _obj({"at": DT, "kind": STR, "note": STR,
                                                    "public": {"type": "boolean"}})}}),
    "ReportPage": _obj({"total": INT, "limit": INT, "offset": INT,
                        "reports": {"type": "array", "items": _ref("Report")}}),
    "AssignmentPage": _obj({"total": INT, "limit": INT, "offset": INT,
                            "assignments": {"type": "array",
                                            "items": _ref("AssignmentEntry")}}),
    "Dashboard": _obj({
        "generated_at": DT, "total": INT, "open": INT,
        "by_status": {"type": "object", "additionalProperties": INT},
        "by_unit": {"type": "array", "items": _obj({
            "unit_id": INT, "unit": _nullable(STR), "assigned": INT, "open": INT,
            "with_unit": INT, "overdue": INT})},
        "escalations": {"type": "object", "additionalProperties": INT}}),
    "ReturnBody": _obj({"reason": {"type": "string", "pattern": TEXT, "maxLength": 1000}}),
    "ReplyBody": _obj({
        "finding": {"type": "string", "enum": FINDINGS},
        "measures": {"type": "string", "pattern": TEXT, "maxLength": 4000},
        "public_text": {"type": "string", "pattern": TEXT, "maxLength": 2000},
        "accountability": {"type": "string", "maxLength": 2000}},
        ["finding", "measures", "public_text"]),
    "ReviewBody": _obj({"approve": {"type": "boolean"},
                        "note": {"type": "string", "maxLength": 1000,
                                 "description": "required when approve is false"}},
                       ["approve"]),
    "EscalateBody": _obj({"level": {"type": "string", "enum": LEVELS,
                                    "description": "default: the next level not yet used"},
                          "note": {"type": "string", "maxLength": 500}}, []),
}


def _error(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": _ref("Error")}}}


def _ok(schema: str, description: str = "OK") -> dict[str, Any]:
    return {"description": description,
            "content": {"application/json": {"schema": _ref(schema)}}}


AUTH_ERRORS = {"401": _error("missing, invalid or revoked token"),
               "403": _error("the token's role may not use this endpoint")}
PAGE_PARAMS = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1,
                                                  "maximum": 200, "default": 50}},
    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0,
                                                   "maximum": 1000000000, "default": 0}},
    {"name": "unit_id", "in": "query", "description": "desk roles only: one unit",
     "schema": {"type": "integer", "minimum": 1, "maximum": 2147483647}},
]


def _id_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 1}}


def _read_op(summary: str, schema: str, params: list[dict[str, Any]] | None = None,
             *, not_found: bool = False, bad_request: bool = False) -> dict[str, Any]:
    responses = {"200": _ok(schema), **AUTH_ERRORS}
    if not_found:
        responses["404"] = _error("no such record")
    if bad_request:
        responses["400"] = _error("a query parameter is invalid")
    return {"summary": summary, "security": [{"bearerAuth": []}],
            "parameters": params or [], "responses": responses}


def _transition_op(summary: str, roles: str, body: str | None) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary, "description": f"Roles: {roles}. Runs the routing transition.",
        "security": [{"bearerAuth": []}], "parameters": [_id_param("report_id")],
        "responses": {"200": _ok("ReportDetail", "the report after the transition"),
                      "400": _error("the body is invalid"), **AUTH_ERRORS,
                      "404": _error("no such report"),
                      "409": _error("refused by the transition: not allowed in the report's state, "
                                     "or a text is empty once markup is removed"),
                      "503": _error("database busy; nothing changed")}}
    if body:
        op["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": _ref(body)}}}
    return op


def document() -> dict[str, Any]:
    report_id = [_id_param("report_id")]
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "专项整治问题线索 staff API", "version": "1.0.0",
            "description": (
                "Token-authenticated API for the task force and responsible units. Send "
                "`Authorization: Bearer <token>` (issued with `flask api issue-token`). Unit "
                "accounts see only reports assigned to their unit. Reporter identity is never "
                "returned. Datetimes are ISO 8601 in China Standard Time (+08:00). Errors are "
                "`[{\"code\", \"description\"}]`.")},
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": SCHEMAS},
        "paths": {
            "/api/v1/openapi.json": {"get": {
                "summary": "This document", "security": [],
                "responses": {"200": {"description": "OpenAPI 3 document", "content": {
                    "application/json": {"schema": {"type": "object"}}}}}}},
            "/api/v1/me": {"get": _read_op("The token's account", "Me")},
            "/api/v1/reports": {"get": _read_op(
                "List reports, newest first", "ReportPage",
                [{"name": "status", "in": "query", "description": "comma-separated statuses",
                  "schema": {"type": "string", "pattern": STATUS_LIST}}, *PAGE_PARAMS],
                bad_request=True)},
            "/api/v1/reports/{report_id}": {"get": _read_op(
                "One report with its assignments, replies and history", "ReportDetail",
                report_id, not_found=True)},
            "/api/v1/assignments": {"get": _read_op(
                "List assignments by reply deadline", "AssignmentPage",
                [{"name": "current", "in": "query", "schema": {"type": "boolean",
                                                                "default": True}},
                 *PAGE_PARAMS], bad_request=True)},
            "/api/v1/assignments/{assignment_id}": {"get": _read_op(
                "One assignment", "AssignmentEntry", [_id_param("assignment_id")],
                not_found=True)},
            "/api/v1/dashboard": {"get": _read_op("Counts by status and unit", "Dashboard")},
            "/api/v1/reports/{report_id}/acknowledge": {"post": _transition_op(
                "签收 (acknowledge)", "unit", None)},
            "/api/v1/reports/{report_id}/return": {"post": _transition_op(
                "退回 (return to the task force)", "unit", "ReturnBody")},
            "/api/v1/reports/{report_id}/reply": {"post": _transition_op(
                "办结回复 (reply)", "unit", "ReplyBody")},
            "/api/v1/reports/{report_id}/review": {"post": _transition_op(
                "审核 (approve or send back the pending reply)", "taskforce, admin",
                "ReviewBody")},
            "/api/v1/reports/{report_id}/escalate": {"post": _transition_op(
                "催办/督办/挂牌督办 (escalate)", "taskforce, admin", "EscalateBody")},
        },
    }
