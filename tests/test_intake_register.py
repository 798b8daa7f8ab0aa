"""`intake.register`: the one registration path, its transaction and its checks."""

from __future__ import annotations

import threading

import pytest
from sqlmodel import Session, func, select

from intake.models import Channel, Event, Report
from intake.registration import RegistrationError, Submission, register

TEXT = "大通县桥头镇有人用无手续中巴车跑定线班车，县交通执法罚款后仍照常运营，请取缔。"


def submission(campaign_id: int, **kw) -> Submission:
    values = {"campaign_id": campaign_id, "channel": Channel.hotline, "text": TEXT,
              "phone": "13800001111", "anonymous": False}
    values.update(kw)
    return Submission(**values)


def test_register_writes_report_event_and_ack_in_one_transaction(app, db, campaign_id):
    receipt = register(db, submission(campaign_id), app.extensions["intake"])
    db.rollback()  # the caller did not commit: nothing may remain
    assert db.exec(select(func.count()).select_from(Report)).one() == 0
    receipt = register(db, submission(campaign_id), app.extensions["intake"])
    db.commit()
    kinds = [e.kind for e in db.exec(select(Event).where(Event.report_id == receipt.report.id))]
    assert kinds[0] == "received"
    assert receipt.report.status.value in ("triage", "dispatched")
    assert receipt.report.tracking_no in receipt.acknowledgement
    assert receipt.report.items, "classification ran"


def test_same_source_ref_registers_once(app, db, campaign_id):
    services = app.extensions["intake"]
    first = register(db, submission(campaign_id, channel=Channel.sms, source_ref="SM1"), services)
    db.commit()
    again = register(db, submission(campaign_id, channel=Channel.sms, source_ref="SM1"), services)
    assert again.replayed and again.report.id == first.report.id
    assert again.acknowledgement == first.acknowledgement
    assert db.exec(select(func.count()).select_from(Report)).one() == 1


def test_likely_duplicate_is_flagged_not_dropped(app, db, campaign_id):
    services = app.extensions["intake"]
    first = register(db, submission(campaign_id), services)
    db.commit()
    second = register(db, submission(campaign_id, text=TEXT + "再次反映，至今没有处理。"), services)
    db.commit()
    assert second.report.duplicate_of_id == first.report.id
    assert db.exec(select(func.count()).select_from(Report)).one() == 2


def test_unknown_campaign_is_refused(app, db):
    with pytest.raises(RegistrationError) as error:
        register(db, submission(9999), app.extensions["intake"])
    assert "不存在" in str(error.value.message)


def test_binary_text_is_refused(app, db, campaign_id):
    with pytest.raises(RegistrationError):
        register(db, submission(campaign_id, text=b"\xff\xfe\x00binary"), app.extensions["intake"])


def test_concurrent_registrations_get_distinct_tracking_numbers(app, campaign_id):
    engine = app.extensions["engine"]
    numbers: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with Session(engine) as session:
                receipt = register(session, submission(campaign_id, phone=None),
                                   app.extensions["intake"])
                session.commit()
                numbers.append(receipt.tracking_no)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    with app.app_context():
        threads = [threading.Thread(target=worker) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors
    assert len(set(numbers)) == 8


def test_database_failure_gives_a_retry_message_and_no_receipt(client, db, monkeypatch):
    import sqlalchemy as sa

    from tests.conftest import csrf_from

    token = csrf_from(client.get("/report").get_data(as_text=True))
    original = Session.commit

    def failing_commit(self):
        raise sa.exc.OperationalError("COMMIT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(Session, "commit", failing_commit)
    response = client.post("/report", data={"csrf_token": token, "text": TEXT,
                                            "identity": "anonymous", "consent": "y"})
    monkeypatch.setattr(Session, "commit", original)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "尚未保存" in page and "受理编号" not in page.split("<main")[1].split("<form")[0]
    assert db.exec(select(func.count()).select_from(Report)).one() == 0
