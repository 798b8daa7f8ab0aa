"""Every route of the app, for every role: a new route cannot escape this table."""

from __future__ import annotations

import io

import pytest
from sqlmodel import select

from intake.models import Attachment
from intake.models import ReportStatus as S
from routing import transitions as t
from tests.conftest import csrf_from
from tests.support.files import jpeg_with_gps
from tests.support.flow import file_report, unit_id

ROLES = ("anonymous", "operator", "unit_a", "unit_b", "inspector", "taskforce", "admin")
DESK = {"taskforce", "admin"}
UNIT = {"unit_a", "unit_b"}

# Public endpoints: anyone may reach them (status depends on input, never 403/500).
PUBLIC = {"static", "notices.home", "notices.checklist", "intake.report", "intake.receipt",
          "intake.track", "auth.login", "auth.logout", "staff.set_language", "feedback.rate",
          "sms.inbound", "health.healthz", "stats.index",
          # Open311 and the staff API authenticate by key/token, not by session role
          # (tests/test_open311.py and tests/test_api.py check them).
          "open311.discovery", "open311.services", "open311.service_definition",
          "open311.create_request", "open311.list_requests", "open311.get_request",
          "open311.token", "api.openapi", "api.me", "api.reports", "api.report",
          "api.assignments", "api.assignment", "api.dashboard", "api.acknowledge",
          "api.return_", "api.reply", "api.review", "api.escalate"}
# Staff endpoints and the roles that may use them.
STAFF = {
    "staff.home": set(ROLES) - {"anonymous"},
    "staff.choose_campaign": set(ROLES) - {"anonymous"},
    "calls.console": {"operator", "inspector"},
    "unit.inbox": UNIT, "unit.clue": UNIT, "unit.acknowledge": UNIT, "unit.return_": UNIT,
    "unit.extension": UNIT, "unit.reply": UNIT,
    "desk.triage": DESK, "desk.triage_decide": DESK, "desk.review_queue": DESK,
    "desk.review": DESK, "desk.extension": DESK, "desk.report": DESK, "desk.escalate": DESK,
    "desk.share_callback": DESK,
    "desk.record_rating": DESK | {"operator"}, "desk.callbacks": DESK | {"operator"},
    "feedback.attachment": DESK | UNIT,
    "settings.rules": DESK, "settings.calendar": DESK, "settings.calendar_year": DESK,
    "taskforce.dashboard": DESK, "taskforce.report_list": DESK, "taskforce.export_list": DESK,
    "taskforce.export_timings": DESK, "taskforce.export_counts": DESK,
    "search.index": DESK | UNIT, "search.export": DESK | UNIT,
    "ledger.index": DESK | UNIT, "ledger.entry": DESK | UNIT, "ledger.progress": DESK | UNIT,
    "ledger.export": DESK | UNIT, "ledger.new": DESK, "ledger.from_reply": DESK,
    "ledger.edit": DESK, "ledger.approve": DESK, "ledger.stage_report_list": DESK,
    "ledger.stage_report_download": DESK, "ledger.mark_case": DESK, "ledger.unmark_case": DESK,
    "admin.index": {"admin"}, "admin.users": {"admin"}, "admin.create_user": {"admin"},
    "admin.update_user": {"admin"}, "admin.reset_password": {"admin"}, "admin.units": {"admin"},
    "admin.save_unit": {"admin"}, "admin.campaign": {"admin"}, "admin.save_campaign": {"admin"},
    "admin.checklist": {"admin"}, "admin.save_keywords": {"admin"}, "admin.gazetteer": {"admin"},
    "outbox.index": DESK, "outbox.retry": DESK,
}
# Of those, the ones that touch one report: unit B must be refused unit A's report.
UNIT_SCOPED = {"unit.clue", "unit.acknowledge", "unit.return_", "unit.extension", "unit.reply",
               "feedback.attachment", "ledger.entry", "ledger.progress"}


@pytest.fixture
def world(app, db, campaign_id, make_user):
    """A report with an attachment, assigned to unit A (hzq); one user per role."""
    report = file_report(app, db, campaign_id)
    if report.status is not S.dispatched:
        t.dispatch(db, app.extensions["intake"], report.id, unit_id(db, "hzq"), t.SYSTEM)
    upload_dir = app.config["UPLOAD_DIR"]
    upload_dir.mkdir(parents=True, exist_ok=True)
    (upload_dir / "matrix.jpg").write_bytes(jpeg_with_gps())
    attachment = Attachment(report_id=report.id, stored_name="matrix.jpg", content_type="image/jpeg",
                            size=10, sha256="0" * 64)
    db.add(attachment)
    from app.models import LedgerEntry, LedgerSource, LedgerStatus

    entry = LedgerEntry(campaign_id=campaign_id, seq=1, category="执法规范化", symptom="随意拦车",
                        measures="整改", unit_id=unit_id(db, "hzq"),
                        status=LedgerStatus.in_progress, source=LedgerSource.clue)
    db.add(entry)
    db.commit()
    users = {"operator": make_user("operator"), "unit_a": make_user("unit", unit_code="hzq"),
             "unit_b": make_user("unit", unit_code="zfjd"), "inspector": make_user("inspector"),
             "taskforce": make_user("taskforce"), "admin": make_user("admin")}
    return {"report_id": report.id, "attachment_id": attachment.id, "entry_id": entry.id,
            "users": users}


def url_for_rule(rule, world) -> str:
    values = {"report_id": world["report_id"], "attachment_id": world["attachment_id"],
              "message_id": 1, "entry_id": world["entry_id"],
              "code": "en", "filename": "css/site.css"}
    path = rule.rule
    for name in rule.arguments:
        path = path.replace(f"<int:{name}>", str(values[name])).replace(
            f"<{name}>", str(values[name])).replace(f"<path:{name}>", str(values[name]))
    return path


def test_every_route_is_classified(app):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    unclassified = endpoints - PUBLIC - set(STAFF)
    assert not unclassified, f"add these routes to the access matrix: {sorted(unclassified)}"
    for endpoint in STAFF:
        if endpoint in app.view_functions:
            required = getattr(app.view_functions[endpoint], "required_roles", None)
            assert required, f"{endpoint} has no role check"


@pytest.mark.parametrize("role", ROLES)
def test_access_matrix(app, client, login, world, role):
    if role != "anonymous":
        user = world["users"][role]
        login(user)
    token = csrf_from(client.get("/login").get_data(as_text=True))
    for rule in app.url_map.iter_rules():
        endpoint = rule.endpoint
        if endpoint in PUBLIC:
            continue
        allowed = STAFF[endpoint]
        url = url_for_rule(rule, world)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if method == "GET":
                response = client.get(url)
            else:
                response = client.post(url, data={"csrf_token": token})
            status = response.status_code
            where = f"{role} {method} {url} -> {status}"
            assert status != 500, where
            if role == "anonymous":
                assert status in (302, 401), where
                if status == 302:
                    assert "/login" in response.headers["Location"], where
            elif role not in allowed or role == "unit_b" and endpoint in UNIT_SCOPED:
                assert status == 403, where
            else:
                assert status not in (401, 403), where


def test_unit_b_cannot_guess_ids_in_urls(client, login, world):
    login(world["users"]["unit_b"])
    for report_id in (world["report_id"], world["report_id"] + 1, 9999):
        assert client.get(f"/unit/clues/{report_id}").status_code in (403, 404)
    assert client.get(f"/attachments/{world['attachment_id']}").status_code == 403


def test_attachment_is_served_as_download_with_its_type(client, login, world):
    login(world["users"]["unit_a"])
    response = client.get(f"/attachments/{world['attachment_id']}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert response.mimetype == "image/jpeg"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_public_upload_is_never_under_static(app, client):
    token = csrf_from(client.get("/report").get_data(as_text=True))
    client.post("/report", data={"csrf_token": token, "text": "湟中区路政人员态度恶劣，辱骂司机。",
                                 "identity": "anonymous", "consent": "y",
                                 "attachments": [(io.BytesIO(jpeg_with_gps()), "a.jpg")]},
                content_type="multipart/form-data")
    static = app.static_folder
    assert not str(app.config["UPLOAD_DIR"]).startswith(static)
    from sqlmodel import Session
    with Session(app.extensions["engine"]) as session:
        stored = session.exec(select(Attachment)).all()
    for item in stored:
        assert client.get(f"/static/{item.stored_name}").status_code == 404
