"""The task force's dashboard: numbers match a hand-computed fixture, access, exports.

The fixture spans the 2023 May Day holiday (29 April - 3 May off, Saturday 6 May a
make-up working day), so working-day response times differ from calendar times.
"""

from __future__ import annotations

import io
import re
import uuid
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlmodel import Session, select

from app.dashboard import metrics
from app.dashboard.filters import Filters
from intake.models import Channel, Event, Kind, Report, Reporter
from intake.models import ReportStatus as S
from routing.models import (
    Assignment,
    Escalation,
    EscalationLevel,
    Feedback,
    Finding,
    Rating,
    Reply,
    ReviewStatus,
)
from tests.support.flow import unit_id

CST = ZoneInfo("Asia/Shanghai")
# Distinctive reporters: none of this may reach a unit, an export or /stats.
REPORTER_NAMES = ("欧阳震华", "司徒雪琴")
REPORTER_PHONES = ("13912345678", "18687654321")


def cst(text: str) -> datetime:
    """A CST wall-clock time as the app stores it: an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=CST).astimezone(UTC)


def add_report(app, db: Session, campaign_id: int, *, unit: str | None, received: str,
               status: S, channel: Channel = Channel.hotline, category: str | None = "执法规范化",
               district: str | None = "湟中区", items: list | None = None,
               dispatched: str | None = None, acked: str | None = None,
               replied: str | None = None, closed: str | None = None,
               reply_due: str | None = None, ack_due: str | None = None,
               reporter: int | None = None, finding: Finding = Finding.true) -> Report:
    vault = app.extensions["pii"]
    reporter_row = None
    text = "检查站执法人员随意拦车检查。"
    if reporter is not None:
        name, phone = REPORTER_NAMES[reporter], REPORTER_PHONES[reporter]
        reporter_row = Reporter(name_enc=vault.encrypt(name), phone_enc=vault.encrypt(phone),
                                phone_hash=vault.keyed_hash("+86" + phone))
        db.add(reporter_row)
        db.flush()
        text = f"我叫{name}，电话{phone}。" + text
    report = Report(campaign_id=campaign_id, tracking_no="T" + uuid.uuid4().hex[:10].upper(),
                    receipt_hash="x", channel=channel, received_at=cst(received), status=status,
                    text=text, district=district, kind=Kind.complaint, category=category,
                    items=items if items is not None else [9], is_anonymous=reporter is None,
                    reporter_id=reporter_row.id if reporter_row else None,
                    closed_at=cst(closed) if closed else None)
    db.add(report)
    db.flush()
    if unit:
        assignment = Assignment(
            report_id=report.id, unit_id=unit_id(db, unit), dispatched_at=cst(dispatched),
            acknowledge_due_at=cst(ack_due or dispatched), return_due_at=cst(dispatched),
            reply_due_at=cst(reply_due), acknowledged_at=cst(acked) if acked else None,
            replied_at=cst(replied) if replied else None)
        db.add(assignment)
        db.flush()
        if replied:
            db.add(Reply(report_id=report.id, assignment_id=assignment.id, finding=finding,
                         measures="已约谈执法人员，调整检查点设置。", accountability="",
                         public_text="经核实，已整改。", review_status=ReviewStatus.approved,
                         reviewed_at=cst(replied)))
    db.flush()
    return report


def rate(db: Session, report: Report, rating: Rating) -> None:
    db.add(Feedback(report_id=report.id, rating=rating, channel="sms"))
    db.flush()


@pytest.fixture
def world(app, db, campaign_id):
    return build_world(app, db, campaign_id)


def build_world(app, db: Session, campaign_id: int) -> dict:
    """Five reports; expected figures worked out by hand in the comments."""
    r1 = add_report(  # 湟中: over the May Day holiday
        app, db, campaign_id, unit="hzq", received="2023-04-28T10:00", status=S.closed,
        dispatched="2023-04-28T16:00",   # dispatch 6h of a working day = 0.25
        acked="2023-05-04T10:00",        # 8h (4/28) + 0 (4/29-5/3 off) + 10h = 0.75
        replied="2023-05-06T12:00",      # 8h + 24h + 24h + 12h (Sat 5/6 make-up day) = 2.8333
        closed="2023-05-08T10:00",       # 14h + 3 x 24h + 0 (Sun 5/7) + 10h = 4.0
        reply_due="2023-05-12T23:59:59", reporter=0, items=[9, 10])
    r2 = add_report(
        app, db, campaign_id, unit="hzq", received="2023-05-08T09:00", status=S.closed,
        dispatched="2023-05-08T11:00", acked="2023-05-08T17:00",
        replied="2023-05-08T23:00",      # 12h = 0.5
        closed="2023-05-09T09:00",       # 24h = 1.0
        reply_due="2023-05-22T23:59:59", reporter=1)
    r3 = add_report(  # 执法监督局: replied after its deadline
        app, db, campaign_id, unit="zfjd", received="2023-05-10T10:00",
        status=S.awaiting_feedback, category="粗暴执法", district="城东区", items=[21],
        dispatched="2023-05-10T12:00", acked="2023-05-11T09:00", replied="2023-05-30T10:00",
        reply_due="2023-05-24T23:59:59")
    r4 = add_report(  # 执法监督局: never signed, long overdue, reminded once
        app, db, campaign_id, unit="zfjd", received="2023-05-15T10:00", status=S.dispatched,
        channel=Channel.sms, category="粗暴执法", district="城东区", items=[21],
        dispatched="2023-05-15T11:00", ack_due="2023-05-16T23:59:59",
        reply_due="2023-05-29T23:59:59")
    r5 = add_report(  # in triage, unclassified
        app, db, campaign_id, unit=None, received="2023-05-16T10:00", status=S.triage,
        channel=Channel.web, category=None, district=None, items=[])
    rate(db, r1, Rating.satisfied)
    rate(db, r2, Rating.unsatisfied)          # first rating reopened it ...
    rate(db, r2, Rating.basically_satisfied)  # ... the final one counts
    for r in (r1, r2, r3):
        db.add(Event(report_id=r.id, kind="reply_approved"))
    db.add(Event(report_id=r2.id, kind="reopened"))
    a4 = db.exec(select(Assignment).where(Assignment.report_id == r4.id)).one()
    db.add(Escalation(report_id=r4.id, assignment_id=a4.id, due_kind="acknowledge",
                      level=EscalationLevel.reminder))
    db.commit()
    return {"reports": [r1, r2, r3, r4, r5], "campaign_id": campaign_id}


def test_response_times_in_working_days_across_the_holiday(db, world):
    f = Filters(campaign_id=world["campaign_id"])
    timings = metrics.response_times(db, f, "unit")
    hz = timings[str(unit_id(db, "hzq"))]
    zf = timings[str(unit_id(db, "zfjd"))]
    assert hz.acknowledge[2] == 2
    assert hz.dispatch[0] == pytest.approx((0.25 + 2 / 24) / 2)
    # ack: 0.75 and 0.25 -> median 0.5
    assert hz.acknowledge[0] == pytest.approx(0.5)
    # reply: 2.8333 and 0.5 -> median 1.6667, P90 0.5 + 0.9 * 2.3333 = 2.6
    assert hz.reply[0] == pytest.approx((68 / 24 + 0.5) / 2)
    assert hz.reply[1] == pytest.approx(0.5 + 0.9 * (68 / 24 - 0.5))
    # close: 4.0 and 1.0 -> median 2.5, P90 3.7
    assert hz.close[0] == pytest.approx(2.5)
    assert hz.close[1] == pytest.approx(3.7)
    assert (hz.on_time, hz.late) == (2, 0)
    assert (zf.on_time, zf.late) == (0, 2)
    assert hz.satisfaction == pytest.approx((1 + 0.9) / 2)   # 满意 + 0.9 × 基本满意
    assert hz.satisfied_share == pytest.approx(1.0)
    assert hz.reopen_rate == pytest.approx(0.5)
    overall = timings["*"]
    assert overall.on_time_rate == pytest.approx(0.5)
    assert (overall.approved, overall.reopened) == (3, 1)


def test_counts_and_overdue(db, world):
    f = Filters(campaign_id=world["campaign_id"])
    assert dict(metrics.counts(db, f, "status")) == {"closed": 2, "awaiting_feedback": 1,
                                                     "dispatched": 1, "triage": 1}
    assert dict(metrics.counts(db, f, "channel")) == {"hotline": 3, "sms": 1, "web": 1}
    assert dict(metrics.counts(db, f, "item")) == {9: 2, 10: 1, 21: 2}
    assert dict(metrics.counts(db, f, "district")) == {"湟中区": 2, "城东区": 2, "-": 1}
    units = dict(metrics.counts(db, f, "unit"))
    assert units == {unit_id(db, "hzq"): 2, unit_id(db, "zfjd"): 2, "-": 1}
    count, rows = metrics.overdue(db, f)
    assert count == 1 and rows[0].report_id == world["reports"][3].id
    assert rows[0].level == "reminder"
    assert metrics.overdue_by_level(db, f)[unit_id(db, "zfjd")] == {"reminder": 1, "total": 1}
    week = Filters(campaign_id=world["campaign_id"], date_from=datetime(2023, 5, 8).date(),
                   date_to=datetime(2023, 5, 14).date())
    assert metrics.total(db, week) == 2
    assert metrics.trend(db, Filters(campaign_id=world["campaign_id"]), "week") == [
        ("2023-04-24", 1), ("2023-05-08", 2), ("2023-05-15", 2)]


def _row(html: str, table_id: str, key: str) -> str:
    table = re.search(rf'<table[^>]*id="{table_id}".*?</table>', html, re.S).group(0)
    return re.search(rf'<tr data-key="{re.escape(str(key))}">(.*?)</tr>', table, re.S).group(1)


def test_dashboard_page_shows_the_hand_computed_numbers(client, login, make_user, db, world):
    login(make_user("taskforce"))
    html = client.get("/taskforce").get_data(as_text=True)
    assert re.search(r'id="kpi-total">5<', html)
    assert re.search(r'id="kpi-open">3<', html)
    assert re.search(r'id="kpi-overdue">1<', html)
    assert re.search(r'id="kpi-ontime">50.0%<', html)
    row = _row(html, "timing-unit", unit_id(db, "hzq"))
    cells = re.findall(r'<td class="num">(.*?)</td>', row)
    assert cells[0] == "2"                  # assignments
    assert cells[2] == "0.5 / 0.7"          # acknowledge median / P90 (0.25 + 0.9*0.5)
    assert cells[3] == "1.7 / 2.6"          # reply median / P90, working days
    assert cells[4] == "2.5 / 3.7"          # close
    assert cells[5:8] == ["100.0%", "95.0%", "100.0%"]
    assert cells[-1] == "50.0%"             # reopen rate
    assert "0.0%" in _row(html, "timing-unit", unit_id(db, "zfjd"))
    # every count links to the list behind it, and that list has as many rows
    status_row = _row(html, "count-status", "closed")
    link = re.search(r'href="([^"]+)">2</a>', status_row).group(1).replace("&amp;", "&")
    listed = client.get(link).get_data(as_text=True)
    assert "共 2 条" in listed
    assert world["reports"][0].tracking_no in listed
    overdue = client.get("/taskforce/list?overdue=1").get_data(as_text=True)
    assert "共 1 条" in overdue and world["reports"][3].tracking_no in overdue
    assert "escalate" in html and 'data-chart="' in html


def test_filters_narrow_every_number(client, login, make_user, db, world):
    login(make_user("admin"))
    html = client.get(f"/taskforce?unit={unit_id(db, 'zfjd')}&channel=sms").get_data(
        as_text=True)
    assert re.search(r'id="kpi-total">1<', html)
    html = client.get("/taskforce?from=2023-05-08&to=2023-05-14").get_data(as_text=True)
    assert re.search(r'id="kpi-total">2<', html)


def test_unit_user_cannot_open_the_dashboard(client, login, make_user, world):
    login(make_user("unit", unit_code="hzq"))
    for url in ("/taskforce", "/taskforce/list", "/taskforce/list/export?format=xlsx",
                "/taskforce/timings/export"):
        assert client.get(url).status_code == 403, url


def test_list_exports_have_no_reporter_data(client, login, make_user, world):
    login(make_user("taskforce"))
    csv_body = client.get("/taskforce/list/export?format=csv").get_data(as_text=True)
    assert csv_body.startswith("\ufeff受理编号")
    assert csv_body.count("\n") == 6
    response = client.get("/taskforce/list/export?format=xlsx")
    sheet = load_workbook(io.BytesIO(response.data)).active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][0] == "受理编号" and len(values) == 6
    timings = load_workbook(io.BytesIO(client.get(
        "/taskforce/timings/export?format=xlsx").data)).active
    assert timings.max_row >= 3
    for body in (csv_body, str(values)):
        for secret in REPORTER_NAMES + REPORTER_PHONES:
            assert secret not in body


def test_one_click_escalation_from_the_dashboard(app, client, login, make_user, db, world):
    from tests.conftest import csrf_from

    login(make_user("taskforce"))
    html = client.get("/taskforce").get_data(as_text=True)
    r4 = world["reports"][3]
    response = client.post(f"/taskforce/reports/{r4.id}/escalate",
                           data={"csrf_token": csrf_from(html), "next": "/taskforce"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/taskforce")
    db.commit()
    levels = set(db.exec(select(Escalation.level).where(Escalation.report_id == r4.id)))
    assert EscalationLevel.supervision in levels


def _timing_tuple(t):
    return (t.assignments, t.dispatch, t.acknowledge, t.reply, t.close, t.on_time, t.late,
            t.callbacks, t.rated, t.satisfied, t.basically, t.unsatisfied, t.approved,
            t.reopened)


def test_snapshot_matches_sql(db, world):
    """The in-memory snapshot the page reads gives exactly the SQL figures."""
    from app.dashboard.facts import Facts

    facts = Facts()
    facts.load(db)
    for f in (Filters(campaign_id=world["campaign_id"]),
              Filters(campaign_id=world["campaign_id"], unit_id=unit_id(db, "zfjd")),
              Filters(campaign_id=world["campaign_id"], category="粗暴执法", channel="sms"),
              Filters(campaign_id=world["campaign_id"], item=9, status="closed"),
              Filters(campaign_id=world["campaign_id"], district="-"),
              Filters(campaign_id=world["campaign_id"], overdue=True),
              Filters(campaign_id=world["campaign_id"], date_from=datetime(2023, 5, 8).date(),
                      date_to=datetime(2023, 5, 14).date())):
        for dimension in metrics.DIMENSIONS:
            assert facts.counts(f, dimension) == metrics.counts(db, f, dimension), (f, dimension)
        assert facts.trend(f, "day") == metrics.trend(db, f, "day")
        assert facts.trend(f, "week") == metrics.trend(db, f, "week")
        now = datetime.now(UTC)
        for by in ("unit", "category"):
            sql = {k: _timing_tuple(t) for k, t in metrics.response_times(db, f, by, now).items()}
            mem = {k: _timing_tuple(t) for k, t in facts.response_times(f, by, now).items()}
            assert mem.keys() == sql.keys(), (f, by)
            for k in sql:
                for a, b in zip(mem[k], sql[k], strict=True):
                    assert a == (pytest.approx(b, nan_ok=True) if not isinstance(b, tuple)
                                 else tuple(pytest.approx(x) if x is not None else None
                                            for x in b)), (f, by, k)
        count, rows = metrics.overdue(db, f, now=now)
        assert facts.overdue_ids(f, now, 50) == (count, [r.report_id for r in rows])
        assert facts.overdue_by_level(f, now) == metrics.overdue_by_level(db, f, now)


def test_snapshot_refreshes_from_the_audit_trail(app, db, world, client, login, make_user):
    """A change made after the snapshot was loaded shows on the next page view."""
    from app.dashboard.facts import facts_for
    from routing import transitions as t

    login(make_user("taskforce"))
    html = client.get("/taskforce").get_data(as_text=True)
    assert re.search(r'id="kpi-overdue">1<', html)
    loaded_at = app.extensions["dashboard_facts"].loaded_at
    r4 = world["reports"][3]
    t.acknowledge(db, app.extensions["intake"], r4.id, make_user("unit", unit_code="zfjd"))
    db.commit()
    response = client.get("/taskforce")
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html[-3000:]
    assert app.extensions["dashboard_facts"].loaded_at == loaded_at  # incremental, not reloaded
    assert re.search(r'id="kpi-total">5<', html)
    with app.app_context():
        facts = facts_for(app, db)
    f = Filters(campaign_id=world["campaign_id"])
    assert dict(facts.counts(f, "status"))["acknowledged"] == 1
    assert dict(facts.counts(f, "status")).get("dispatched") is None
