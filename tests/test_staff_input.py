"""Staff-entered input is checked and sanitised at the edge: bad values get a message
or are ignored, never stored as sent and never a server error."""

from __future__ import annotations

from sqlmodel import select

from tests.conftest import csrf_from
from tests.support.flow import file_report, unit_id


def test_staff_entered_texts_are_sanitised_before_they_are_stored(
        app, db, campaign_id, client, login, make_user):
    """Every stored text is sanitised with bleach (DESIGN.md, Promises): the holiday-table
    note, a routing rule's name and the reason given for revealing a reporter are not."""
    from datetime import date

    from intake.models import Event
    from routing.models import CalendarOverride, RoutingRule

    payload = '<img src=x onerror="alert(1)">节<b>日</b>'
    login(make_user("taskforce"))
    report = file_report(app, db, campaign_id)
    report_id = report.id
    token = csrf_from(client.get("/taskforce/calendar").get_data(as_text=True))
    client.post("/taskforce/calendar", data={"csrf_token": token, "day": "2031-01-02",
                                             "workday": "0", "note": payload[:64]})
    client.post("/taskforce/rules", data={
        "csrf_token": token, "priority": "77", "name": payload[:64], "condition": "jurisdiction",
        "value": "湟中区", "action": "dispatch", "unit_id": str(unit_id(db, "hzq")),
        "is_active": "y"})
    client.post(f"/taskforce/reports/{report_id}", data={"csrf_token": token,
                                                         "reveal-reason": payload})
    db.rollback()
    note = db.get(CalendarOverride, date(2031, 1, 2)).note
    rule = db.exec(select(RoutingRule).where(RoutingRule.priority == 77)).one().name
    reason = db.exec(select(Event.note).where(Event.kind == "pii_revealed")).one()
    db.rollback()
    for stored in (note, rule, reason):
        assert "<" not in stored and ">" not in stored, stored


def test_triage_stores_only_a_known_district(app, db, campaign_id, client, login, make_user):
    """The triage form's district is a <select> without choice validation, and the value is
    stored as sent: not sanitised, not checked against the district list (the web form's
    district is checked by registration). On PostgreSQL a value over 16 characters is a
    DataError: a 500 instead of a message."""
    from intake.models import Report
    from intake.registration import DISTRICTS

    report = file_report(app, db, campaign_id, text="执法人员态度很差。")  # waits in triage
    report_id = report.id
    login(make_user("taskforce"))
    page = client.get("/taskforce/triage").get_data(as_text=True)
    client.post(f"/taskforce/triage/{report_id}", data={
        "csrf_token": csrf_from(page), f"r{report_id}-action": "dispatch",
        f"r{report_id}-kind": "complaint", f"r{report_id}-items": "8",
        f"r{report_id}-district": "<b>湟中</b>区",
        f"r{report_id}-unit_id": str(unit_id(db, "hzq"))})
    db.rollback()
    stored = db.get(Report, report_id).district
    db.rollback()
    assert stored is None or stored in DISTRICTS, stored
    assert stored is None  # refused: the clue waits in triage, the district unchanged


def test_numbers_no_row_can_have_are_not_server_errors(app, db, campaign_id, client, login,
                                                       make_user):
    """Ids and page numbers beyond the INTEGER columns: 404 for a path, ignored in a query."""
    file_report(app, db, campaign_id)
    login(make_user("taskforce"))
    huge = "9" * 20
    assert client.get(f"/taskforce/reports/{huge}").status_code == 404
    assert client.get(f"/taskforce/reports/{2**31}").status_code == 404
    for url in (f"/taskforce/list?page={huge}", f"/taskforce?campaign={huge}",
                f"/taskforce/list?unit={huge}", f"/search?q=x&unit={huge}",
                f"/ledger?unit={huge}"):
        assert client.get(url).status_code == 200, url


def test_extreme_dates_in_filters_are_not_server_errors(app, db, campaign_id, client, login,
                                                        make_user):
    """A date picker accepts 0001-01-01 and 9999-12-31 ("from the beginning", "until
    further notice"); the filters add a day or convert to UTC and overflow."""
    file_report(app, db, campaign_id)
    login(make_user("taskforce"))
    for url in ("/taskforce?to=9999-12-31", "/taskforce?from=0001-01-01",
                "/taskforce/list?to=9999-12-31", "/search?q=x&to=9999-12-31",
                "/search?q=x&from=0001-01-01",
                "/ledger/stage-reports/download?date=9999-12-31"):
        assert client.get(url).status_code < 500, url
