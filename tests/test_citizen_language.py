"""A citizen who reported on the English pages is answered in English; others in Chinese."""

from __future__ import annotations

import re

from sqlmodel import select

from intake.models import Channel
from intake.models import ReportStatus as S
from intake.outbox import Message
from intake.registration import Submission, register
from routing import transitions as t
from tests.support.flow import TEXT_HZ

CODE = re.compile(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}")
POLICE = "城西区交警大队民警在五四大街违规扣分，电子警察抓拍后又现场罚款，驾驶证被记12分。"


def _file(app, db, campaign_id: int, text: str, language: str, email: str):
    receipt = register(db, Submission(campaign_id=campaign_id, channel=Channel.web, text=text,
                                      email=email, anonymous=False, language=language),
                       app.extensions["intake"])
    db.commit()
    return receipt.report


def _bodies(app, db, report_id: int, purpose: str) -> list[str]:
    vault = app.extensions["pii"]
    return [vault.decrypt(m.body_enc) for m in db.exec(
        select(Message).where(Message.report_id == report_id, Message.purpose == purpose))]


def test_result_and_referral_follow_the_reporters_language(app, db, campaign_id, make_user):
    with app.app_context():  # as in every view, command and the worker
        _result_and_referral(app, db, campaign_id, make_user)


def _result_and_referral(app, db, campaign_id: int, make_user) -> None:
    services = app.extensions["intake"]
    english = _file(app, db, campaign_id, TEXT_HZ, "en", "visitor@example.com")
    chinese = _file(app, db, campaign_id, TEXT_HZ + "又一次", "zh", "laowang@example.cn")
    assert english.status is S.dispatched and chinese.status is S.dispatched
    unit_user, desk = make_user("unit", unit_code="hzq"), make_user("taskforce")
    for report in (english, chinese):
        t.acknowledge(db, services, report.id, unit_user)
        t.reply(db, services, report.id, unit_user, finding="属实", measures="已整改",
                public_text="经核实属实，已整改。")
        t.review(db, services, report.id, desk, approve=True)
    db.commit()
    [english_result] = _bodies(app, db, english.id, "result")
    [chinese_result] = _bodies(app, db, chinese.id, "result")
    assert english_result.startswith(f"[Campaign] Report {english.tracking_no}, result:")
    assert "经核实属实，已整改。" in english_result  # the unit's answer is quoted as written
    assert f"“SATISFIED {english.tracking_no}”" in english_result
    assert chinese_result.startswith(f"【专项整治】受理编号 {chinese.tracking_no} 办理结果")

    referred = _file(app, db, campaign_id, POLICE, "en", "visitor2@example.com")
    assert referred.status is S.referred
    [note] = _bodies(app, db, referred.id, "referred")
    assert note.startswith(f"[Campaign] Report {referred.tracking_no}: The problem")
    assert "the Traffic Police Detachment of the Xining Public Security Bureau" in note
    db.rollback()


def test_acknowledgement_follows_the_language_of_the_report_page(app, db, client):
    from tests.conftest import csrf_from

    client.get("/lang/en")
    page = client.get("/report").get_data(as_text=True)
    response = client.post("/report", data={
        "csrf_token": csrf_from(page), "text": TEXT_HZ, "identity": "named",
        "email": "visitor@example.com", "consent": "y"})
    assert response.status_code == 302
    db.rollback()
    vault = app.extensions["pii"]
    [ack] = [vault.decrypt(m.body_enc) for m in db.exec(
        select(Message).where(Message.purpose == "ack"))]
    assert ack.startswith("[Campaign on Road Traffic Safety and Transport Law Enforcement] ")
    assert "Your report has been registered as XNJT-" in ack and "/track" in ack
    # The code was shown on the receipt page only: the confirmation says so, in English.
    assert "Receipt code" not in ack and not CODE.search(ack)
    assert "Your receipt code was shown on the page after you submitted." in ack
    db.rollback()


def test_tracker_notes_of_merges_and_referrals_in_the_readers_language(app, db, campaign_id,
                                                                     make_user):
    from flask_babel import force_locale

    from intake.models import Event, Report
    from intake.tracking import public_view

    services = app.extensions["intake"]
    with app.app_context():
        first = _file(app, db, campaign_id, TEXT_HZ, "zh", "a@example.cn")
        again = _file(app, db, campaign_id, "执法人员态度很差。", "en", "b@example.com")
        t.merge(db, services, again.id, first.tracking_no, make_user("taskforce"))
        db.commit()
        recorded = db.exec(select(Event.note).where(Event.report_id == again.id,
                                                    Event.kind == "merged")).one()
        assert recorded.startswith("与受理编号")  # the audit trail keeps Chinese
        merged = db.get(Report, again.id)
        with force_locale("en"):
            english = [s.text for s in public_view(db, merged).steps]
        with force_locale("zh_Hans_CN"):
            chinese = [s.text for s in public_view(db, merged).steps]
    assert any("handled together with it" in text for text in english)
    assert any("合并办理" in text for text in chinese)
    db.rollback()


def test_english_reporters_get_english_email_subjects(app, db, campaign_id, make_user):
    """routing.messages writes the body in the reporter's language, but notify_citizen
    always sets the subject "办理结果 <no>" (also for merge and referral notes) and the
    acknowledgement "受理回执 <no>": an English reporter's mail arrives with a Chinese
    subject line."""
    from intake.outbox import Message
    from tests.support.flow import TEXT_HZ

    services = app.extensions["intake"]
    with app.app_context():
        receipt = register(db, Submission(campaign_id=campaign_id, channel=Channel.web,
                                          text=TEXT_HZ, email="visitor@example.com",
                                          anonymous=False, language="en"), services)
        db.commit()
        report = receipt.report
        unit_user, desk = make_user("unit", unit_code="hzq"), make_user("taskforce")
        t.acknowledge(db, services, report.id, unit_user)
        t.reply(db, services, report.id, unit_user, finding="属实", measures="已整改",
                public_text="经核实属实，已整改。")
        t.review(db, services, report.id, desk, approve=True)
        db.commit()
    subjects = {m.purpose: m.subject for m in db.exec(
        select(Message).where(Message.report_id == report.id))}
    db.rollback()
    for purpose in ("ack", "result"):
        assert not any("\u4e00" <= ch <= "\u9fff" for ch in subjects[purpose]), subjects


def test_english_names_of_units_and_campaigns_come_from_the_data_and_admin(
        app, db, campaign_id, client, login, make_user):
    """The tracker in English names the body a report was referred to in English; an admin
    can set or change a unit's English name."""
    from flask_babel import force_locale

    from intake.models import Report
    from intake.tracking import public_view
    from routing.models import Unit
    from tests.conftest import csrf_from
    from tests.support.channels import flashes

    with app.app_context():
        referred = _file(app, db, campaign_id, POLICE, "zh", "laowang@example.cn")
        assert referred.status is S.referred
        report = db.get(Report, referred.id)
        with force_locale("en"):
            english = [step.text for step in public_view(db, report).steps]
        with force_locale("zh_Hans_CN"):
            chinese = [step.text for step in public_view(db, report).steps]
    assert any("Traffic Police Detachment" in text for text in english)
    assert any("市公安局交通警察支队" in text for text in chinese)
    db.rollback()

    login(make_user("admin"))
    unit = db.exec(select(Unit).where(Unit.code == "hzq")).one()
    db.rollback()
    page = client.get("/admin/units").get_data(as_text=True)
    assert "the Huangzhong District Transport Bureau" in page
    saved = client.post("/admin/units", follow_redirects=True, data={
        "csrf_token": csrf_from(page), "unit_id": str(unit.id), "code": unit.code,
        "name": unit.name, "short_name": unit.short_name, "kind": unit.kind.value,
        "name_en": "<b>the Huangzhong Transport Bureau</b>", "email": unit.email or "",
        "phone": unit.phone or "", "is_active": "1"}).get_data(as_text=True)
    assert "已保存单位" in saved, flashes(saved)
    db.rollback()
    assert db.exec(select(Unit.name_en).where(Unit.id == unit.id)).one() == \
        "the Huangzhong Transport Bureau"
    db.rollback()
