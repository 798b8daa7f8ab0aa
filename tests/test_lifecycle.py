"""The tracked feedback loop: dispatch, sign, reply, review, rate, reopen, close."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, func, select

from intake.models import Event, Report
from intake.models import ReportStatus as S
from intake.outbox import Message
from notices.timeutil import as_utc
from routing import deadlines
from routing import transitions as t
from routing.models import Assignment, Escalation, Feedback
from routing.sweep import sweep
from tests.conftest import csrf_from
from tests.support.flow import file_report, unit_id


@pytest.fixture
def services(app):
    return app.extensions["intake"]


@pytest.fixture
def hz_report(app, db, campaign_id):
    report = file_report(app, db, campaign_id)
    if report.status is not S.dispatched:  # the classifier was unsure: the task force routes it
        t.dispatch(db, app.extensions["intake"], report.id, unit_id(db, "hzq"), t.SYSTEM)
        db.commit()
    return report


def fresh(db: Session, report: Report) -> Report:
    db.commit()  # end the test's read transaction: SQLite would keep its old snapshot
    db.expire_all()
    return db.get(Report, report.id)


def test_confident_report_is_dispatched_to_the_district_bureau(app, db, campaign_id):
    report = file_report(app, db, campaign_id)
    assert report.status is S.dispatched
    assignment = t.current_assignment(db, report.id)
    assert assignment.unit_id == unit_id(db, "hzq")
    body = [app.extensions["pii"].decrypt(m.body_enc)
            for m in db.exec(select(Message).where(Message.purpose == "new_clue"))]
    assert body and all("13800001111" not in b and "李四" not in b for b in body)
    assert all(f"/unit/clues/{report.id}" in b for b in body)


def test_police_matter_is_referred_with_a_note_to_the_citizen(app, db, campaign_id):
    report = file_report(app, db, campaign_id, text=(
        "城西区交警大队民警在五四大街违规扣分，电子警察抓拍后又现场罚款，驾驶证被记12分。"))
    assert report.status is S.referred
    note = db.exec(select(Message).where(Message.purpose == "referred")).one()
    assert "公安局交通警察支队" in app.extensions["pii"].decrypt(note.body_enc)


def test_full_loop_with_rejection_and_reopen(app, db, services, hz_report, make_user):
    unit_user = make_user("unit", unit_code="hzq")
    tf = make_user("taskforce")
    rid = hz_report.id
    t.acknowledge(db, services, rid, unit_user)
    t.reply(db, services, rid, unit_user, finding="属实", measures="已约谈执法人员并整改",
            public_text="经核实属实，已整改。")
    t.review(db, services, rid, tf, approve=False, note="整改措施不具体")
    assert fresh(db, hz_report).status is S.rejected_reply
    t.reply(db, services, rid, unit_user, finding="属实", measures="已对2名执法人员批评教育，"
            "调整检查点设置", accountability="2人批评教育", public_text="经核实属实，已整改。")
    t.review(db, services, rid, tf, approve=True)
    db.commit()
    assert fresh(db, hz_report).status is S.awaiting_feedback
    result = [app.extensions["pii"].decrypt(m.recipient_enc)
              for m in db.exec(select(Message).where(Message.purpose == "result"))]
    assert result == ["+8613800001111"]
    t.rate(db, services, rid, "不满意", channel="sms")
    db.commit()
    assert fresh(db, hz_report).status is S.reopened
    assert db.exec(select(func.count()).select_from(Assignment)
                   .where(Assignment.report_id == rid)).one() == 2
    t.acknowledge(db, services, rid, unit_user)
    t.reply(db, services, rid, unit_user, finding="属实", measures="再次整改",
            public_text="已再次整改。")
    t.review(db, services, rid, tf, approve=True)
    t.rate(db, services, rid, "满意", channel="sms")
    db.commit()
    report = fresh(db, hz_report)
    assert report.status is S.closed and report.closed_at is not None
    kinds = [e.kind for e in db.exec(select(Event).where(Event.report_id == rid)
                                     .order_by(Event.at, Event.id))]
    for expected in ["received", "dispatched", "acknowledged", "replied", "reply_rejected",
                     "replied", "reviewed", "reply_approved", "rated", "reopened",
                     "acknowledged", "replied", "reply_approved", "rated", "closed"]:
        assert expected in kinds
    assert [f.rating.value for f in db.exec(select(Feedback).order_by(Feedback.id))] == [
        "不满意", "满意"]


def test_second_unsatisfied_rating_closes_and_flags(app, db, services, hz_report, make_user):
    unit_user, tf = make_user("unit", unit_code="hzq"), make_user("taskforce")
    for _ in range(2):
        t.acknowledge(db, services, hz_report.id, unit_user)
        t.reply(db, services, hz_report.id, unit_user, finding="不属实", measures="经查不属实",
                public_text="经核实不属实。")
        t.review(db, services, hz_report.id, tf, approve=True)
        t.rate(db, services, hz_report.id, "不满意", channel="web")
    db.commit()
    assert fresh(db, hz_report).status is S.closed
    levels = {e.level.value for e in db.exec(select(Escalation))}
    assert "listed" in levels


@pytest.mark.parametrize("action", ["acknowledge_twice", "reply_before_ack", "approve_undispatched"])
def test_illegal_transitions_change_nothing(app, db, services, hz_report, make_user, action):
    unit_user, tf = make_user("unit", unit_code="hzq"), make_user("taskforce")
    if action == "acknowledge_twice":
        t.acknowledge(db, services, hz_report.id, unit_user)
        db.commit()
    before = fresh(db, hz_report)
    status, version = before.status, before.version
    events = db.exec(select(func.count()).select_from(Event)).one()
    with pytest.raises(t.TransitionError):
        if action == "acknowledge_twice":
            t.acknowledge(db, services, hz_report.id, unit_user)
        elif action == "reply_before_ack":
            t.reply(db, services, hz_report.id, unit_user, finding="属实", measures="x",
                    public_text="y")
        else:
            t.review(db, services, hz_report.id, tf, approve=True)
    db.rollback()
    after = fresh(db, hz_report)
    assert (after.status, after.version) == (status, version)
    assert db.exec(select(func.count()).select_from(Event)).one() == events


def test_wrong_role_and_other_unit_are_refused(app, db, services, hz_report, make_user):
    with pytest.raises(t.TransitionError):
        t.acknowledge(db, services, hz_report.id, make_user("unit", unit_code="zfjd"))
    db.rollback()
    with pytest.raises(t.TransitionError):
        t.review(db, services, hz_report.id, make_user("operator"), approve=True)
    db.rollback()
    assert fresh(db, hz_report).status is S.dispatched


def test_two_staff_clicking_at_once_leave_one_winner(app, hz_report, make_user):
    user = make_user("unit", unit_code="hzq")
    engine = app.extensions["engine"]
    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def click() -> None:
        with Session(engine) as session:
            barrier.wait()
            try:
                t.acknowledge(session, app.extensions["intake"], hz_report.id, user)
                session.commit()
                outcomes.append("ok")
            except t.TransitionError as exc:
                session.rollback()
                outcomes.append(str(exc.message))

    with app.app_context():
        threads = [threading.Thread(target=click) for _ in range(2)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    assert outcomes.count("ok") == 1
    assert any("刷新" in o for o in outcomes if o != "ok")


def test_return_only_within_window_and_with_reason(app, db, services, hz_report, make_user):
    unit_user = make_user("unit", unit_code="hzq")
    with pytest.raises(t.TransitionError):
        t.return_(db, services, hz_report.id, unit_user, reason="  ")
    db.rollback()
    t.return_(db, services, hz_report.id, unit_user, reason="属湟源县辖区")
    db.commit()
    assert fresh(db, hz_report).status is S.returned


def test_extension_once_and_approved_moves_the_deadline(app, db, services, hz_report, make_user):
    unit_user, tf = make_user("unit", unit_code="hzq"), make_user("taskforce")
    t.acknowledge(db, services, hz_report.id, unit_user)
    before = t.current_assignment(db, hz_report.id).reply_due_at
    t.request_extension(db, services, hz_report.id, unit_user, days=5, reason="需调取监控")
    db.commit()
    with pytest.raises(t.TransitionError):
        t.request_extension(db, services, hz_report.id, unit_user, days=5, reason="again")
    db.rollback()
    t.decide_extension(db, services, hz_report.id, tf, approve=True)
    db.commit()
    after = t.current_assignment(db, hz_report.id).reply_due_at
    assert after > before


def test_sweep_escalates_once_per_level(app, db, services, hz_report):
    assignment = t.current_assignment(db, hz_report.id)
    due = assignment.acknowledge_due_at.replace(tzinfo=assignment.acknowledge_due_at.tzinfo or UTC)
    first = sweep(db, services, now=due + timedelta(days=10))
    assert {r[2] for r in first.escalations} == {"reminder", "supervision", "listed"}
    again = sweep(db, services, now=due + timedelta(days=10))
    assert again.escalations == []
    assert db.exec(select(func.count()).select_from(Escalation)).one() == 3
    listed = db.exec(select(Message).where(Message.purpose == "escalation_listed")).all()
    assert sorted(m.channel.value for m in listed if m.unit_id) == ["email", "sms"]  # once each


def test_sweep_warns_a_day_before_the_reply_deadline(app, db, services, hz_report, make_user):
    assert sweep(db, services).escalations == []  # just dispatched: no yellow card yet
    t.acknowledge(db, services, hz_report.id, make_user("unit", unit_code="hzq"))
    db.commit()
    assignment = t.current_assignment(db, hz_report.id)
    due = assignment.reply_due_at.replace(tzinfo=assignment.reply_due_at.tzinfo or UTC)
    assert sweep(db, services, now=due - timedelta(days=12)).escalations == []
    result = sweep(db, services, now=due - timedelta(hours=3))
    assert [r[1:] for r in result.escalations] == [("reply", "warning")]


def test_unrated_closes_after_the_feedback_window(app, db, services, hz_report, make_user):
    unit_user, tf = make_user("unit", unit_code="hzq"), make_user("taskforce")
    t.acknowledge(db, services, hz_report.id, unit_user)
    t.reply(db, services, hz_report.id, unit_user, finding="属实", measures="m", public_text="p")
    t.review(db, services, hz_report.id, tf, approve=True)
    db.commit()
    result = sweep(db, services, now=datetime.now(UTC) + timedelta(days=20))
    assert hz_report.tracking_no in result.closed_unrated
    assert db.exec(select(Feedback)).one().rating.value == "未评价"


# -- through the pages ------------------------------------------------------------------

def test_unit_pages_never_show_the_reporter(app, db, client, hz_report, make_user, login):
    login(make_user("unit", unit_code="hzq"))
    inbox = client.get("/unit").get_data(as_text=True)
    assert hz_report.tracking_no in inbox
    page = client.get(f"/unit/clues/{hz_report.id}").get_data(as_text=True)
    assert "多巴镇" in page
    for secret in ("李四", "13800001111", "+8613800001111", "1111"):
        assert secret not in page and secret not in inbox


def test_other_unit_gets_403(app, db, client, hz_report, make_user, login):
    login(make_user("unit", unit_code="zfjd"))
    assert client.get(f"/unit/clues/{hz_report.id}").status_code == 403
    token = csrf_from(client.get("/unit").get_data(as_text=True) +
                      '<input name="csrf_token" value="x">')
    assert client.post(f"/unit/clues/{hz_report.id}/acknowledge",
                       data={"csrf_token": token}).status_code == 403
    assert hz_report.tracking_no not in client.get("/unit").get_data(as_text=True)


def test_taskforce_sees_masked_pii_and_reveal_is_audited(app, db, client, hz_report, make_user,
                                                         login):
    tf = make_user("taskforce")
    login(tf)
    page = client.get(f"/taskforce/reports/{hz_report.id}").get_data(as_text=True)
    assert "13800001111" not in page and "李*" in page
    token = csrf_from(page)
    revealed = client.post(f"/taskforce/reports/{hz_report.id}",
                           data={"csrf_token": token, "reveal-reason": "回访核实"})
    assert "+8613800001111" in revealed.get_data(as_text=True)
    event = db.exec(select(Event).where(Event.kind == "pii_revealed")).one()
    assert event.actor_id == tf.id and event.note == "回访核实"


def test_unit_acknowledges_and_replies_through_the_pages(app, db, client, hz_report, make_user,
                                                         login):
    login(make_user("unit", unit_code="hzq"))
    page = client.get(f"/unit/clues/{hz_report.id}").get_data(as_text=True)
    client.post(f"/unit/clues/{hz_report.id}/acknowledge", data={"csrf_token": csrf_from(page)})
    page = client.get(f"/unit/clues/{hz_report.id}").get_data(as_text=True)
    assert "已签收" in page
    client.post(f"/unit/clues/{hz_report.id}/reply", data={
        "csrf_token": csrf_from(page), "rep-finding": "部分属实", "rep-measures": "已整改",
        "rep-public_text": "经核实部分属实，已整改。"})
    assert fresh(db, hz_report).status is S.replied


def test_triage_page_confirms_and_dispatches_in_one_step(app, db, client, campaign_id,
                                                         make_user, login):
    report = file_report(app, db, campaign_id, text="我想反映一个情况，那天执法人员态度很差。")
    assert report.status is S.triage
    login(make_user("taskforce"))
    page = client.get("/taskforce/triage").get_data(as_text=True)
    assert report.tracking_no in page
    response = client.post(f"/taskforce/triage/{report.id}", data={
        "csrf_token": csrf_from(page), f"r{report.id}-action": "dispatch",
        f"r{report.id}-items": "21", f"r{report.id}-kind": "complaint",
        f"r{report.id}-district": "大通县", f"r{report.id}-unit_id": unit_id(db, "dtx")})
    assert response.status_code == 302, response.headers
    flashed = client.get("/taskforce/triage").get_data(as_text=True)
    assert "已处理线索" in flashed, flashed
    report = fresh(db, report)
    assert report.status is S.dispatched and report.items == [21]
    assert report.classification_confirmed
    assert t.current_assignment(db, report.id).unit_id == unit_id(db, "dtx")


def test_citizen_rates_in_the_tracker(app, db, client, campaign_id, services, make_user):
    from intake.models import Channel
    from intake.registration import Submission, register

    receipt = register(db, Submission(campaign_id=campaign_id, channel=Channel.web,
                                      text="湟源县日月山路段路政人员拦车后索要财物才放行。"),
                       services)
    db.commit()
    rid = receipt.report.id
    if fresh(db, receipt.report).status is not S.dispatched:
        t.dispatch(db, services, rid, unit_id(db, "hyx"), t.SYSTEM)
    unit_user = make_user("unit", unit_code=db.get(
        __import__("routing.models", fromlist=["Unit"]).Unit,
        t.current_assignment(db, rid).unit_id).code)
    t.acknowledge(db, services, rid, unit_user)
    t.reply(db, services, rid, unit_user, finding="属实", measures="m", public_text="已查处。")
    t.review(db, services, rid, make_user("taskforce"), approve=True)
    db.commit()
    page = client.get("/track").get_data(as_text=True)
    tracked = client.post("/track", data={"csrf_token": csrf_from(page),
                                          "tracking_no": receipt.tracking_no,
                                          "receipt_code": receipt.receipt_code})
    html = tracked.get_data(as_text=True)
    assert "已查处。" in html and "rating-form" in html
    client.post("/track/rate", data={"csrf_token": csrf_from(html), "rate-rating": "满意"})
    assert fresh(db, receipt.report).status is S.closed


def test_taskforce_marks_a_typical_case_from_the_report_page(app, db, client, hz_report,
                                                             make_user, login):
    from app.models import TypicalCase

    login(make_user("taskforce"))
    page = client.get(f"/taskforce/reports/{hz_report.id}").get_data(as_text=True)
    assert "标记为典型案例" in page
    response = client.post(_form_action(page, "tracking_no"), data={
        "csrf_token": csrf_from(page), "tracking_no": hz_report.tracking_no,
        "polarity": "negative", "note": "检查站随意拦车", "next": f"/taskforce/reports/{hz_report.id}"})
    assert response.status_code == 302
    db.commit()
    case = db.exec(select(TypicalCase)).one()
    assert case.report_id == hz_report.id and case.polarity == "negative"


def _form_action(page: str, field: str) -> str:
    import re

    for form in re.findall(r'<form[^>]*action="([^"]+)"[^>]*>(.*?)</form>', page, re.S):
        if f'name="{field}"' in form[1]:
            return form[0]
    raise AssertionError(f"no form with {field}")


def test_unit_reply_carries_evidence_files(app, db, client, hz_report, make_user, login):
    import io

    from routing.models import ReplyAttachment
    from tests.support.files import has_exif, jpeg_with_gps

    login(make_user("unit", unit_code="hzq"))
    page = client.get(f"/unit/clues/{hz_report.id}").get_data(as_text=True)
    client.post(f"/unit/clues/{hz_report.id}/acknowledge", data={"csrf_token": csrf_from(page)})
    page = client.get(f"/unit/clues/{hz_report.id}").get_data(as_text=True)
    client.post(f"/unit/clues/{hz_report.id}/reply", content_type="multipart/form-data", data={
        "csrf_token": csrf_from(page), "rep-finding": "属实", "rep-measures": "已拆除违规路障",
        "rep-public_text": "已整改。", "rep-attachments": [(io.BytesIO(jpeg_with_gps()), "现场.jpg")]})
    assert fresh(db, hz_report).status is S.replied
    link = db.exec(select(ReplyAttachment)).one()
    from intake.models import Attachment

    stored = db.get(Attachment, link.attachment_id)
    assert not has_exif((app.config["UPLOAD_DIR"] / stored.stored_name).read_bytes())


def test_disguised_reply_file_is_refused_and_nothing_changes(app, db, client, hz_report,
                                                             make_user, login):
    import io

    login(make_user("unit", unit_code="hzq"))
    page = client.get(f"/unit/clues/{hz_report.id}").get_data(as_text=True)
    client.post(f"/unit/clues/{hz_report.id}/acknowledge", data={"csrf_token": csrf_from(page)})
    page = client.get(f"/unit/clues/{hz_report.id}").get_data(as_text=True)
    client.post(f"/unit/clues/{hz_report.id}/reply", content_type="multipart/form-data", data={
        "csrf_token": csrf_from(page), "rep-finding": "属实", "rep-measures": "m",
        "rep-public_text": "p", "rep-attachments": [(io.BytesIO(b"MZ\x90 exe"), "photo.jpg")]})
    page = client.get(f"/unit/clues/{hz_report.id}").get_data(as_text=True)
    assert "不是可接受的照片" in page
    assert fresh(db, hz_report).status is S.acknowledged


def test_shared_callback_number_reaches_the_unit_only_masked(app, db, client, hz_report,
                                                             make_user, login):
    login(make_user("taskforce"))
    page = client.get(f"/taskforce/reports/{hz_report.id}").get_data(as_text=True)
    client.post(f"/taskforce/reports/{hz_report.id}/callback", data={"csrf_token": csrf_from(page)})
    assert db.exec(select(Event).where(Event.kind == "callback_shared")).first() is not None
    client.post("/logout", data={"csrf_token": csrf_from(page)})
    login(make_user("unit", unit_code="hzq"))
    page = client.get(f"/unit/clues/{hz_report.id}").get_data(as_text=True)
    assert "****1111" in page
    assert "13800001111" not in page and "李四" not in page


def test_report_for_a_deactivated_unit_waits_in_triage(app, db, campaign_id):
    from routing.dispatch import forget_rules
    from routing.models import Unit

    unit = db.get(Unit, unit_id(db, "hzq"))
    unit.is_active = False
    db.commit()
    forget_rules()
    report = file_report(app, db, campaign_id)
    assert report.status is S.triage
    assert db.exec(select(Event).where(Event.report_id == report.id,
                                       Event.kind == "triage_reason")).first() is not None


def test_unit_that_returned_a_clue_no_longer_sees_it(app, db, client, services, hz_report,
                                                     make_user, login):
    unit_user = make_user("unit", unit_code="hzq")
    t.return_(db, services, hz_report.id, unit_user, reason="不属本单位辖区")
    db.commit()
    login(unit_user)
    assert client.get(f"/unit/clues/{hz_report.id}").status_code == 403
    assert hz_report.tracking_no not in client.get("/unit").get_data(as_text=True)


def test_a_retried_rating_message_does_not_rate_twice(app, db, services, hz_report, make_user):
    from routing.feedback import rate_by_message

    unit_user, tf = make_user("unit", unit_code="hzq"), make_user("taskforce")
    t.acknowledge(db, services, hz_report.id, unit_user)
    t.reply(db, services, hz_report.id, unit_user, finding="属实", measures="m", public_text="p")
    t.review(db, services, hz_report.id, tf, approve=True)
    db.commit()
    rate_sms = rate_by_message(services)
    first = rate_sms(db, hz_report.tracking_no, "不满意", "13800001111")
    db.commit()
    again = rate_sms(db, hz_report.tracking_no, "不满意", "13800001111")  # Twilio retry
    db.commit()
    assert first == again and "重新办理" in first
    assert [f.rating.value for f in db.exec(select(Feedback))] == ["不满意"]
    assert fresh(db, hz_report).status is S.reopened


def test_referral_to_one_of_our_own_units_is_refused(app, db, make_user, campaign_id):
    """移交 is for outside bodies (dispatch refuses external units the other way round).
    The triage form offers every unit for both actions; "refer" with an internal unit
    closes the clue as referred (terminal: no assignment, no deadline, no escalation)
    and tells the citizen that unit has it."""
    services = app.extensions["intake"]
    report = file_report(app, db, campaign_id, text="执法人员态度很差。")  # waits in triage
    assert report.status is S.triage
    report_id = report.id
    try:
        t.refer(db, services, report_id, make_user("taskforce"), unit_id=unit_id(db, "hzq"))
        db.commit()
    except t.TransitionError:
        db.rollback()
    db.rollback()
    from intake.models import Report
    assert db.get(Report, report_id).status is S.triage, \
        "referred to an internal unit: closed without any assignment"
    db.rollback()


def test_yellow_card_is_given_again_before_the_extended_due_date(app, db, campaign_id,
                                                                 make_user):
    services = app.extensions["intake"]
    report = file_report(app, db, campaign_id)  # auto-dispatched to 湟中区交通运输局
    unit_user, tf = make_user("unit", unit_code="hzq"), make_user("taskforce")
    t.acknowledge(db, services, report.id, unit_user)
    db.commit()
    assignment = t.current_assignment(db, report.id)
    first_due = as_utc(assignment.reply_due_at)
    # The day before the original due date: the sweep gives the yellow card (预警).
    made = sweep(db, services, now=first_due - timedelta(hours=30))
    assert any(level == "warning" for _, _, level in made.escalations)
    # The unit asks for 5 more working days that morning; the task force approves.
    t.request_extension(db, services, report.id, unit_user, days=5, reason="需调取监控")
    db.commit()
    t.decide_extension(db, services, report.id, tf, approve=True)
    db.commit()
    db.expire_all()
    new_due = as_utc(t.current_assignment(db, report.id).reply_due_at)
    assert new_due > first_due
    # DESIGN.md: yellow card 1 working day before *a* due date -- the extended one too.
    calendar = deadlines.work_calendar(db)
    day_before = new_due - timedelta(hours=12)
    assert calendar.overdue_working_days(first_due, day_before) >= 1
    made = sweep(db, services, now=day_before)
    db.rollback()
    assert any(level == "warning" for _, _, level in made.escalations), (
        "no 预警 before the extended deadline: the warning of the original deadline "
        "blocks it", made.escalations)


def test_red_card_on_the_first_overdue_day_of_the_extended_deadline(app, db, campaign_id,
                                                                   make_user):
    """Request at 16:00 on the due day, approved the next morning: the sweep already gave a
    催办 for the original deadline, so lateness on the extended one never gets one."""
    services = app.extensions["intake"]
    report = file_report(app, db, campaign_id)
    unit_user, tf = make_user("unit", unit_code="hzq"), make_user("taskforce")
    t.acknowledge(db, services, report.id, unit_user)
    db.commit()
    t.request_extension(db, services, report.id, unit_user, days=3, reason="需调取监控")
    db.commit()
    first_due = as_utc(t.current_assignment(db, report.id).reply_due_at)
    calendar = deadlines.work_calendar(db)
    next_workday = calendar.add_working_days(first_due, 1) - timedelta(hours=12)
    early = sweep(db, services, now=next_workday)  # overdue day 1, request pending: 催办
    assert ("reminder" in [lv for _, _, lv in early.escalations]), early.escalations
    t.decide_extension(db, services, report.id, tf, approve=True)
    db.commit()
    db.expire_all()
    new_due = as_utc(t.current_assignment(db, report.id).reply_due_at)
    first_overdue_day = calendar.add_working_days(new_due, 1) - timedelta(hours=12)
    assert calendar.overdue_working_days(new_due, first_overdue_day) == 1
    made = sweep(db, services, now=first_overdue_day)
    db.rollback()
    assert ("reminder" in [lv for _, _, lv in made.escalations]), made.escalations


@pytest.mark.parametrize("text", [
    "城关镇的运管执法人员随意扣车罚款不开票据，我是拉货去大通的。",
    "在村口的小桥边被路政执法人员拦下，随意罚款不开票据，态度恶劣。",
])
def test_a_place_the_gazetteer_cannot_settle_waits_in_triage(app, db, campaign_id, text):
    report = file_report(app, db, campaign_id, text=text)
    assert report.status is S.triage and report.district is None
