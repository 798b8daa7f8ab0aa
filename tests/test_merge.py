"""并单: a duplicate is merged through the triage page, never dropped; its reporter follows
the merged-into report with their own receipt and is told its result."""

from __future__ import annotations

import pytest
from sqlmodel import select

from intake.models import Event, Report
from intake.models import ReportStatus as S
from intake.outbox import Message
from intake.tracking import public_view
from routing import transitions as t
from tests.conftest import csrf_from
from tests.support.flow import file_report

DUPLICATE = "执法人员在检查站随便拦车，态度很差。"  # no place: waits in triage


def _triage(report_id: int, **fields: str) -> dict[str, str]:
    return {f"r{report_id}-{name}": value for name, value in fields.items()}


def _messages(app, db, report_id: int, purpose: str) -> list[tuple[str, str]]:
    vault = app.extensions["pii"]
    return [(vault.decrypt(m.recipient_enc), vault.decrypt(m.body_enc)) for m in db.exec(
        select(Message).where(Message.report_id == report_id, Message.purpose == purpose))]


def test_duplicate_merged_in_triage_follows_and_learns_the_result(
        app, db, client, login, make_user, campaign_id):
    services = app.extensions["intake"]
    first = file_report(app, db, campaign_id)  # dispatched to 湟中区交通运输局
    duplicate = file_report(app, db, campaign_id, text=DUPLICATE, phone="13800002222",
                            name="王五")
    assert duplicate.status is S.triage
    first_id, dup_id, first_no = first.id, duplicate.id, first.tracking_no

    login(make_user("taskforce"))
    page = client.get("/taskforce/triage").get_data(as_text=True)
    response = client.post(f"/taskforce/triage/{dup_id}", data={
        "csrf_token": csrf_from(page), **_triage(dup_id, action="merge", kind="complaint",
                                                 items="8", merge_into=first_no.lower())},
        follow_redirects=True)
    assert "已处理线索" in response.get_data(as_text=True)
    db.rollback()
    merged = db.get(Report, dup_id, populate_existing=True)
    assert merged.status is S.merged and merged.duplicate_of_id == first_id
    note = _messages(app, db, dup_id, "merged")
    assert note and note[0][0] == "+8613800002222" and first_no in note[0][1]
    assert "可继续用本编号和查询码查询进度" in note[0][1]

    unit_user = make_user("unit", unit_code="hzq")
    desk = make_user("taskforce")
    t.acknowledge(db, services, first_id, unit_user)
    t.reply(db, services, first_id, unit_user, finding="属实", measures="已约谈执法人员",
            public_text="经核实属实，已约谈相关执法人员并整改。")
    t.review(db, services, first_id, desk, approve=True)
    db.commit()

    told = _messages(app, db, dup_id, "result")
    assert told and told[0][0] == "+8613800002222"
    assert "经核实属实" in told[0][1] and first_no in told[0][1]
    assert "13800001111" not in told[0][1]  # nothing of the other reporter
    view = public_view(db, db.get(Report, dup_id, populate_existing=True))
    assert view.public_reply == "经核实属实，已约谈相关执法人员并整改。"
    assert first_no in view.status_label
    labels = [step.label for step in view.steps]
    assert any("合并办理" in label and "签收" in label for label in labels)
    assert not any("评价" in label for label in labels)
    # The duplicate cannot be rated: its reporter only follows.
    assert db.get(Report, dup_id, populate_existing=True).status is S.merged
    db.rollback()


def test_merge_into_an_unknown_number_changes_nothing(app, db, client, login, make_user,
                                                     campaign_id):
    duplicate = file_report(app, db, campaign_id, text=DUPLICATE)
    dup_id = duplicate.id
    login(make_user("taskforce"))
    page = client.get("/taskforce/triage").get_data(as_text=True)
    response = client.post(f"/taskforce/triage/{dup_id}", data={
        "csrf_token": csrf_from(page), **_triage(dup_id, action="merge", kind="complaint",
                                                 items="8", merge_into="XNJT-20000101-9999")},
        follow_redirects=True)
    assert "请填写另一条线索的正确受理编号" in response.get_data(as_text=True)
    db.rollback()
    assert db.get(Report, dup_id, populate_existing=True).status is S.triage
    assert not db.exec(select(Event).where(Event.report_id == dup_id,
                                           Event.kind == "classification_confirmed")).all()
    db.rollback()


def test_merge_follows_chains_stays_in_the_campaign_and_answers_at_once(
        app, db, make_user, campaign_id):
    from pathlib import Path

    from app.cli import seed_campaign
    from notices.models import Campaign

    services = app.extensions["intake"]
    desk, unit_user = make_user("taskforce"), make_user("unit", unit_code="hzq")
    root = file_report(app, db, campaign_id)
    middle = file_report(app, db, campaign_id, text=DUPLICATE, phone="13800002222")
    last = file_report(app, db, campaign_id, text=DUPLICATE + "又", phone="13800003333")
    root_id, root_no = root.id, root.tracking_no
    middle_id, middle_no, last_id = middle.id, middle.tracking_no, last.id
    t.merge(db, services, middle_id, root_no, desk)
    t.merge(db, services, last_id, middle_no, desk)  # into a merged one: goes to the root
    db.commit()
    assert db.get(Report, last_id, populate_existing=True).duplicate_of_id == root_id

    # Another campaign's number is not found (and says nothing about it).
    seed_campaign(db, Path(__file__).resolve().parent.parent / "notices/data/huangzhong-demo")
    db.commit()
    county = db.exec(select(Campaign.id).where(Campaign.slug == "huangzhong-demo")).one()
    other = file_report(app, db, county, text=DUPLICATE, phone="13800004444")
    with pytest.raises(t.TransitionError):
        t.merge(db, services, other.id, root_no, desk)
    db.rollback()

    t.acknowledge(db, services, root_id, unit_user)
    t.reply(db, services, root_id, unit_user, finding="属实", measures="已约谈",
            public_text="经核实属实，已整改。")
    t.review(db, services, root_id, desk, approve=True)
    db.commit()
    for report_id in (middle_id, last_id):  # both, through the chain
        assert any("经核实属实" in body for _to, body in _messages(app, db, report_id, "result"))

    late = file_report(app, db, campaign_id, text=DUPLICATE + "再", phone="13800005555")
    t.merge(db, services, late.id, root_no, desk)  # the root is answered already
    db.commit()
    assert any("经核实属实" in body for _to, body in _messages(app, db, late.id, "result"))
    db.rollback()


def test_duplicates_of_a_report_merged_into_an_answered_one_are_told_the_result(
        app, db, make_user, campaign_id):
    """Y was merged into X while X waited in triage; X is then merged into the root, which
    has its answer already. X's reporter is told the answer at once, Y's never is (no later
    approval will come), although Y's tracker follows the chain to the root."""
    from intake.outbox import Message

    services = app.extensions["intake"]
    vault = app.extensions["pii"]
    desk, unit_user = make_user("taskforce"), make_user("unit", unit_code="hzq")
    root = file_report(app, db, campaign_id)  # dispatched to 湟中区交通运输局
    root_id, root_no = root.id, root.tracking_no
    t.acknowledge(db, services, root_id, unit_user)
    t.reply(db, services, root_id, unit_user, finding="属实", measures="已约谈",
            public_text="经核实属实，已整改。")
    t.review(db, services, root_id, desk, approve=True)
    db.commit()

    vague = "执法人员在检查站随便拦车，态度很差。"  # no place: waits in triage
    x = file_report(app, db, campaign_id, text=vague, phone="13800002222")
    y = file_report(app, db, campaign_id, text=vague + "又", phone="13800003333")
    x_id, x_no, y_id = x.id, x.tracking_no, y.id
    t.merge(db, services, y_id, x_no, desk)  # X is unanswered: Y only gets the merge note
    db.commit()
    t.merge(db, services, x_id, root_no, desk)  # the root is answered already
    db.commit()

    def results(report_id):
        return [vault.decrypt(m.body_enc) for m in db.exec(
            select(Message).where(Message.report_id == report_id, Message.purpose == "result"))]

    assert any("经核实属实" in body for body in results(x_id))
    assert any("经核实属实" in body for body in results(y_id)), "Y's reporter is never told"
    db.rollback()


def test_rating_a_merged_report_names_its_state_in_words(app, db, make_user, campaign_id):
    services = app.extensions["intake"]
    first = file_report(app, db, campaign_id)
    again = file_report(app, db, campaign_id, text="执法人员态度很差。", phone="13800002222")
    t.merge(db, services, again.id, first.tracking_no, make_user("taskforce"))
    db.commit()
    with app.test_request_context():
        reply = services.rate(db, again.tracking_no, "满意", "+8613800002222")
    db.rollback()
    assert "已与相同问题合并办理" in reply and "merged" not in reply


@pytest.mark.parametrize("outcome", ["not_accepted", "referred"])
def test_duplicates_share_the_fate_of_the_report_they_were_merged_into(
        app, db, make_user, campaign_id, outcome):
    """Y was merged into X while both waited in triage; X is then refused or handed to the
    traffic police: Y's reporter is told too, on their own channel."""
    services = app.extensions["intake"]
    desk = make_user("taskforce")
    vague = "执法人员在检查站随便拦车，态度很差。"
    x = file_report(app, db, campaign_id, text=vague, phone="13800002222")
    y = file_report(app, db, campaign_id, text=vague + "又", phone="13800003333")
    x_id, y_id = x.id, y.id
    t.merge(db, services, y_id, x.tracking_no, desk)
    db.commit()
    with app.app_context():
        if outcome == "not_accepted":
            t.not_accept(db, services, x_id, desk, reason="重复投诉，已另案处理")
        else:
            t.refer(db, services, x_id, desk)
        db.commit()
    for report_id in (x_id, y_id):
        [(recipient, body)] = _messages(app, db, report_id, outcome)
        assert recipient == {x_id: "+8613800002222", y_id: "+8613800003333"}[report_id]
        assert ("重复投诉，已另案处理" if outcome == "not_accepted" else "交通警察支队") in body
    db.rollback()


def test_spam_is_refused_without_an_answer(app, db, make_user, campaign_id):
    from intake.models import Kind

    services = app.extensions["intake"]
    report = file_report(app, db, campaign_id, text="加微信领红包，点击链接。", phone="13800002222")
    report.kind = Kind.spam
    db.add(report)
    db.commit()
    genuine = file_report(app, db, campaign_id, text="执法人员在检查站随便拦车，态度很差。",
                          phone="13800003333")
    t.merge(db, services, genuine.id, report.tracking_no, make_user("taskforce"))
    db.commit()
    t.not_accept(db, services, report.id, make_user("taskforce"), reason="广告")
    db.commit()
    assert _messages(app, db, report.id, "not_accepted") == []
    # A genuine report the task force merged into it is still told.
    assert len(_messages(app, db, genuine.id, "not_accepted")) == 1
    db.rollback()


def test_the_unit_handling_a_report_sees_the_evidence_of_its_merged_duplicates(
        app, db, client, login, make_user, campaign_id):
    from intake.models import Attachment, Channel
    from intake.registration import Submission, register
    from intake.uploads import IncomingFile
    from tests.support.files import jpeg_with_gps

    services = app.extensions["intake"]
    first = file_report(app, db, campaign_id)  # dispatched to 湟中区交通运输局 (hzq)
    photo = register(db, Submission(
        campaign_id=campaign_id, channel=Channel.web, text=DUPLICATE, anonymous=True,
        attachments=[IncomingFile("现场.jpg", jpeg_with_gps())]), services).report
    db.commit()
    t.merge(db, services, photo.id, first.tracking_no, make_user("taskforce"))
    db.commit()
    [evidence] = db.exec(select(Attachment).where(Attachment.report_id == photo.id)).all()

    login(make_user("unit", unit_code="hzq"))
    clue = client.get(f"/unit/clues/{first.id}").get_data(as_text=True)
    assert f"/attachments/{evidence.id}" in clue
    assert client.get(f"/attachments/{evidence.id}").status_code == 200

    login(make_user("unit", unit_code="dtx"))  # another unit: not its clue
    assert client.get(f"/attachments/{evidence.id}").status_code == 403
