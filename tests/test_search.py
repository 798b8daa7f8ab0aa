"""Staff search: role-scoped; phone look-ups for the task force only, and audited."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlmodel import select

from intake.models import Channel, Event, Report
from intake.models import ReportStatus as S
from intake.registration import Submission, register
from routing import transitions as t
from tests.support.flow import unit_id
from tests.test_dashboard import REPORTER_NAMES, REPORTER_PHONES, build_world


@pytest.fixture
def world(app, db, campaign_id):
    return build_world(app, db, campaign_id)


def test_task_force_finds_by_number_text_and_phone(client, login, make_user, db, world):
    login(make_user("taskforce"))
    r1, r2, r3, r4, _r5 = world["reports"]
    html = client.get(f"/search?q={r3.tracking_no}").get_data(as_text=True)
    assert "共找到 1 条" in html and r3.tracking_no in html
    html = client.get("/search?q=随意拦车&from=2023-05-01&to=2023-05-12").get_data(as_text=True)
    assert "共找到 2 条" in html and r2.tracking_no in html and r3.tracking_no in html
    html = client.get(f"/search?phone={REPORTER_PHONES[1]}").get_data(as_text=True)
    assert "共找到 1 条" in html and r2.tracking_no in html
    db.commit()
    assert db.exec(select(Event).where(Event.kind == "pii_search")).first() is not None
    body = client.get("/search/export?q=随意拦车&format=csv").get_data(as_text=True)
    assert r4.tracking_no in body
    for secret in REPORTER_NAMES + REPORTER_PHONES:
        assert secret not in body


def test_unit_searches_only_its_own_clues(client, login, make_user, world):
    login(make_user("unit", unit_code="hzq"))
    r1, r2, r3, _r4, _r5 = world["reports"]
    html = client.get("/search?q=随意拦车").get_data(as_text=True)
    assert "共找到 2 条" in html
    assert r1.tracking_no in html and r2.tracking_no in html and r3.tracking_no not in html
    assert "共找到 0 条" in client.get(f"/search?q={r3.tracking_no}").get_data(as_text=True)
    html = client.get(f"/search?phone={REPORTER_PHONES[0]}").get_data(as_text=True)
    assert "仅限专班" in html and r1.tracking_no not in html


def test_operator_cannot_search(client, login, make_user, world):
    login(make_user("operator"))
    assert client.get("/search?q=x").status_code == 403


def test_unit_cannot_confirm_reporters_phone_or_name_through_text_search(
        app, db, campaign_id, client, login, make_user):
    """A unit may not look reports up by the reporter's phone (search refuses ?phone= for
    units), and the text it reads has the reporter's own details masked; but ?q= searches
    the unmasked text, so a unit can test a suspected reporter's number or name."""
    name, phone = "欧阳娜娜", "13987654321"
    text = (f"我是{name}，电话{phone}。湟中区多巴镇检查站的路政执法人员在行车道上随意拦截货车检查。")
    receipt = register(db, Submission(campaign_id=campaign_id, channel=Channel.sms, text=text,
                                      phone=phone, name=name, anonymous=False),
                       app.extensions["intake"])
    db.commit()
    report = receipt.report
    if report.status is not S.dispatched:
        t.dispatch(db, app.extensions["intake"], report.id, unit_id(db, "hzq"), t.SYSTEM)
        db.commit()
    login(make_user("unit", unit_code="hzq"))
    page = client.get(f"/unit/clues/{report.id}").get_data(as_text=True)
    assert phone not in page and name not in page  # masked on the clue page, as promised
    for secret in (phone, name):
        found = client.get(f"/search?q={secret}").get_data(as_text=True)
        assert report.tracking_no not in found, f"unit confirmed the reporter's {secret!r}"
    # What the unit may read, it may still search for; the task force searches everything.
    assert report.tracking_no in client.get("/search?q=多巴镇检查站").get_data(as_text=True)
    login(make_user("taskforce"))
    assert report.tracking_no in client.get(f"/search?q={name}").get_data(as_text=True)


def test_a_units_text_search_reads_a_bounded_number_of_clues(app, db, campaign_id, client,
                                                             login, make_user, monkeypatch):
    """Each candidate is read as the unit sees it (reporter's details masked), so the scan
    is bounded: the newest UNIT_TEXT_SCAN matching clues."""
    import app.dashboard.search as search_module
    from tests.support.flow import TEXT_HZ, file_report

    numbers = []
    for i in range(6):
        report = file_report(app, db, campaign_id, text=f"{TEXT_HZ}（第{i}次）",
                             phone=f"1380000{i:04d}", name=f"张{i}")
        if report.status is not S.dispatched:
            t.dispatch(db, app.extensions["intake"], report.id, unit_id(db, "hzq"), t.SYSTEM)
            db.commit()
        numbers.append(report.tracking_no)
    read = []
    real = search_module.unit_text
    monkeypatch.setattr(search_module, "unit_text",
                        lambda session, report, vault: read.append(report.id) or real(
                            session, report, vault))
    monkeypatch.setattr(search_module, "UNIT_TEXT_SCAN", 4)
    login(make_user("unit", unit_code="hzq"))
    page = client.get("/search?q=多巴镇检查站").get_data(as_text=True)
    assert len(read) == 4
    assert all(number in page for number in numbers[-4:])  # the newest ones
    assert numbers[0] not in page and "只在最新的 4 条匹配线索中查找" in page
    # A plate narrows the clues before the window: the oldest is found by its plate.
    db.execute(sa.update(Report).where(Report.tracking_no == numbers[0])
               .values(plate="青A12345"))
    db.commit()
    page = client.get("/search?q=多巴镇检查站&plate=青A12345").get_data(as_text=True)
    assert numbers[0] in page and "共找到 1 条" in page and "只在最新的" not in page
