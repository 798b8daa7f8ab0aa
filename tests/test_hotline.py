"""The hotline console: operators log calls, inspectors log findings."""

from __future__ import annotations

from sqlmodel import select

from intake.models import Channel, Report
from tests.conftest import csrf_from

CALL = "来电人反映在城北区朝阳街道附近被运政执法人员拦车，执法人员未出示执法证件，态度恶劣。"


def log_call(client, **fields):
    token = csrf_from(client.get("/staff/calls").get_data(as_text=True))
    data = {"csrf_token": token, "channel": "hotline", "caller_phone": "13900002222",
            "text": CALL}
    data.update(fields)
    return client.post("/staff/calls", data=data)


def test_operator_logs_a_call_and_sees_suggestions(client, db, make_user, login):
    login(make_user("operator"))
    response = log_call(client)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    report = db.exec(select(Report)).one()
    assert report.channel is Channel.hotline
    assert report.tracking_no in page
    assert "分类建议" in page and "城北区" in page
    assert "今日登记" in page and CALL[:20] in page


def test_inspector_findings_are_channel_inspection(client, db, make_user, login):
    login(make_user("inspector"))
    log_call(client, channel="hotline", caller_phone="")
    assert db.exec(select(Report)).one().channel is Channel.inspection


def test_empty_summary_is_refused(client, db, make_user, login):
    login(make_user("operator"))
    response = log_call(client, text="  ")
    assert response.status_code == 400
    assert "请填写来电内容摘要" in response.get_data(as_text=True)
    assert db.exec(select(Report)).first() is None


def test_other_roles_cannot_open_the_console(client, make_user, login):
    assert client.get("/staff/calls").status_code == 302
    login(make_user("unit", unit_code="hzq"))
    assert client.get("/staff/calls").status_code == 403


def test_calls_logged_after_midnight_in_china_are_listed_as_today(client, db, make_user, login,
                                                                  monkeypatch):
    """00:30 in Xining is 16:30 UTC the day before: the console's 今日登记 still lists them."""
    from datetime import UTC, datetime

    import intake.registration
    import intake.views

    night = datetime.now(UTC).replace(hour=16, minute=30, second=0, microsecond=0)
    monkeypatch.setattr(intake.views, "utcnow", lambda: night)
    monkeypatch.setattr(intake.registration, "utcnow", lambda: night)
    login(make_user("operator"))
    page = log_call(client).get_data(as_text=True)
    assert "今日登记" in page and CALL[:20] in page
