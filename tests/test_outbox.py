"""Outbox delivery: the worker against a loopback Twilio API server and real SMTP servers."""

from __future__ import annotations

import importlib
import logging
import threading
from datetime import timedelta

import pytest
from sqlmodel import Session, func, select

from app.gateways import (
    SMS_GATEWAYS,
    ConsoleSmsGateway,
    PermanentDeliveryError,
    TransientDeliveryError,
    TwilioSmsGateway,
    build_gateways,
    redact_for_log,
    register_sms_gateway,
)
from app.worker import (
    REDACTED,
    backoff,
    claim_due,
    deliver_due,
    redact_old_acks,
    register_worker_command,
    run_worker,
)
from intake.models import Channel, Event
from intake.outbox import Message, MessageChannel, MessageStatus, queue_message
from intake.registration import Submission, register
from intake.services import current_services
from intake.tracking import find_for_tracker
from notices.timeutil import as_utc, utcnow
from tests.conftest import USE_PG, csrf_from
from tests.support.twilio_fake import FakeTwilio

PHONE = "+8613912345678"


@pytest.fixture
def app_settings(app_settings: dict, twilio: FakeTwilio) -> dict:
    app_settings.update(twilio.settings())
    return app_settings


@pytest.fixture
def factory(app):
    engine = app.extensions["engine"]
    return lambda: Session(engine, expire_on_commit=False)


def deliver(app, factory, **kwargs) -> int:
    with app.app_context():
        return deliver_due(factory, build_gateways(app), **kwargs)


def queue(app, db: Session, n: int = 1, *, channel: str = "sms", purpose: str = "notice",
          recipient: str = PHONE, report_id: int | None = None, body: str = "测试消息"
          ) -> list[int]:
    vault = app.extensions["pii"]
    messages = [queue_message(db, vault, channel=channel, recipient=recipient,
                              body=f"{body} {i}", purpose=purpose, subject="通知",
                              report_id=report_id) for i in range(n)]
    db.commit()
    return [m.id for m in messages]


def fetch(db: Session, message_id: int) -> Message:
    try:
        return db.exec(select(Message).where(Message.id == message_id)
                       .execution_options(populate_existing=True)).one()
    finally:
        db.rollback()


def register_hotline_report(app, db: Session, campaign_id: int):
    with app.test_request_context():
        db.commit()
        receipt = register(db, Submission(
            campaign_id=campaign_id, channel=Channel.hotline, anonymous=False, phone=PHONE,
            text="来电反映：城西区执法人员在海湖大道对货车乱罚款。"), current_services())
        db.commit()
    return receipt


def test_sms_acknowledgement_is_delivered_to_the_twilio_api(app, db, factory, twilio,
                                                            campaign_id):
    receipt = register_hotline_report(app, db, campaign_id)
    assert deliver(app, factory) >= 1
    [sms] = [m for m in twilio.messages if m.to == PHONE]
    assert sms.account_sid == twilio.account_sid and sms.from_ == "+15005550006"
    assert receipt.tracking_no in sms.body
    code = sms.body.split("查询码 ")[1][:19]
    assert find_for_tracker(db, receipt.tracking_no, code).id == receipt.report.id
    ack = db.exec(select(Message).where(Message.report_id == receipt.report.id,
                                        Message.purpose == "ack")).one()
    db.rollback()
    assert ack.status is MessageStatus.sent and ack.provider_id == sms.sid
    assert ack.attempts == 1 and ack.sent_at is not None


def test_twilio_down_keeps_the_message_queued_with_backoff(app, db, factory, twilio):
    [message_id] = queue(app, db)
    twilio.stop()
    now = utcnow()
    assert deliver(app, factory, now=now) == 0
    message = fetch(db, message_id)
    assert message.status is MessageStatus.queued and message.attempts == 1
    assert as_utc(message.next_attempt_at) == now + timedelta(seconds=60)
    assert "unreachable" in message.last_error

    assert deliver(app, factory, now=now + timedelta(seconds=30)) == 0  # not due yet
    assert fetch(db, message_id).attempts == 1

    twilio.start()  # back on the same port
    assert deliver(app, factory, now=now + timedelta(seconds=61)) == 1
    message = fetch(db, message_id)
    assert message.status is MessageStatus.sent and message.attempts == 2
    assert message.last_error == ""
    assert [m.body for m in twilio.messages] == ["测试消息 0"]


def test_server_errors_are_retried_with_growing_delays_then_failed(app, db, factory, twilio):
    [message_id] = queue(app, db)
    twilio.fail_with(500)
    now = utcnow()
    delays = []
    for _ in range(3):
        deliver(app, factory, now=now, max_attempts=4)
        message = fetch(db, message_id)
        delays.append(as_utc(message.next_attempt_at) - now)
        now = as_utc(message.next_attempt_at)
    assert delays == [timedelta(seconds=60), timedelta(seconds=120), timedelta(seconds=240)]
    deliver(app, factory, now=now, max_attempts=4)
    message = fetch(db, message_id)
    assert message.status is MessageStatus.failed and message.attempts == 4
    assert "500" in message.last_error
    assert backoff(20) == timedelta(hours=6)


def test_invalid_number_fails_permanently_and_is_visible(app, db, factory, twilio,
                                                         campaign_id):
    receipt = register_hotline_report(app, db, campaign_id)
    twilio.fail_with(400)
    deliver(app, factory)
    ack = db.exec(select(Message).where(Message.report_id == receipt.report.id,
                                        Message.purpose == "ack")).one()
    db.rollback()
    assert ack.status is MessageStatus.failed and ack.attempts == 1
    assert "21211" in ack.last_error
    assert PHONE not in ack.last_error and "13912345678" not in ack.last_error
    event = db.exec(select(Event).where(Event.report_id == receipt.report.id,
                                        Event.kind == "message_failed")).one()
    db.rollback()
    assert not event.public and event.data["purpose"] == "ack"
    assert PHONE not in str(event.data)


def test_wrong_credentials_are_transient_not_permanent(app, db, factory, twilio):
    [message_id] = queue(app, db)
    twilio.auth_token = "rotated"
    deliver(app, factory)
    message = fetch(db, message_id)
    assert message.status is MessageStatus.queued and "401" in message.last_error


def test_gateway_errors_are_classified(twilio):
    gateway = TwilioSmsGateway(twilio.account_sid, twilio.auth_token, "+15005550006",
                               api_base=twilio.base_url)
    assert gateway.send(PHONE, "你好").startswith("SM")
    twilio.fail_with(400)
    with pytest.raises(PermanentDeliveryError):
        gateway.send(PHONE, "你好")
    twilio.fail_with(503)
    with pytest.raises(TransientDeliveryError):
        gateway.send(PHONE, "你好")
    twilio.stop()
    with pytest.raises(TransientDeliveryError):
        gateway.send(PHONE, "你好")


def test_console_gateway_masks_the_number_and_hides_codes(caplog):
    with caplog.at_level(logging.INFO, logger="app.outbox"):
        provider_id = ConsoleSmsGateway().send(PHONE, "受理编号 XNJT-20261127-0001。查询码 "
                                                      "ABCD-EFGH-JKMN-PQRS（请妥善保存）")
    assert provider_id.startswith("console-")
    assert PHONE not in caplog.text and "13912345678" not in caplog.text
    assert "****5678" in caplog.text
    assert "ABCD-EFGH-JKMN-PQRS" not in caplog.text
    assert "XNJT-20261127-0001" in caplog.text


class DomesticGateway:
    """A stand-in for a domestic SMS provider, plugged in by name."""

    name = "domestic"
    sent: list[tuple[str, str]] = []

    def __init__(self, config) -> None:
        self.sign = config.get("DOMESTIC_SMS_SIGN", "【西宁交通】")

    def send(self, to: str, body: str) -> str:
        DomesticGateway.sent.append((to, self.sign + body))
        return f"domestic-{len(DomesticGateway.sent)}"


@pytest.mark.parametrize("name", ["domestic", "tests.test_outbox:DomesticGateway"])
def test_a_domestic_provider_plugs_in_by_name(app, db, factory, name):
    register_sms_gateway("domestic", DomesticGateway)
    try:
        app.config["SMS_GATEWAY"] = name
        DomesticGateway.sent.clear()
        if ":" in name:
            importlib.import_module("tests.test_outbox").DomesticGateway.sent.clear()
        [message_id] = queue(app, db)
        assert deliver(app, factory) == 1
        module, _, attr = (name if ":" in name else "tests.test_outbox:DomesticGateway"
                           ).partition(":")
        gateway_class = DomesticGateway if name == "domestic" else \
            getattr(importlib.import_module(module), attr)
        assert gateway_class.sent == [(PHONE, "【西宁交通】测试消息 0")]
        assert fetch(db, message_id).provider_id == "domestic-1"
    finally:
        SMS_GATEWAYS.pop("domestic", None)


def test_unknown_gateway_name_is_a_clear_error(app):
    from app.gateways import GatewayConfigError

    app.config["SMS_GATEWAY"] = "nosuch"
    with pytest.raises(GatewayConfigError, match="nosuch"):
        build_gateways(app)


def test_old_acknowledgements_are_redacted(app, db):
    vault = app.extensions["pii"]
    now = utcnow()
    ack = "【专项整治】您反映的问题已受理，受理编号 XNJT-20261127-0001。查询码 ABCD-EFGH-JKMN-PQRS。"
    old, recent, notice = (queue(app, db, purpose=p, body=ack)[0]
                           for p in ("ack", "ack", "notice"))
    for message_id, age in ((old, 25), (recent, 23), (notice, 48)):
        message = db.get(Message, message_id)
        message.status, message.sent_at = MessageStatus.sent, now - timedelta(hours=age)
        db.add(message)
    db.commit()

    assert redact_old_acks(db, vault, now) == 1
    db.commit()
    assert vault.decrypt(fetch(db, old).body_enc) == REDACTED
    assert vault.decrypt(fetch(db, recent).body_enc).startswith(ack)
    assert vault.decrypt(fetch(db, notice).body_enc).startswith(ack)
    assert redact_old_acks(db, vault, now) == 0  # already done: found without decrypting
    db.commit()
    assert redact_old_acks(db, vault, now + timedelta(hours=2)) == 1
    db.commit()


def test_a_delivered_acknowledgement_keeps_no_receipt_code(app, db, factory, twilio):
    vault = app.extensions["pii"]
    ack = "【专项整治】您反映的问题已受理，受理编号 XNJT-20261127-0001。查询码 ABCD-EFGH-JKMN-PQRS。"
    [ack_id] = queue(app, db, purpose="ack", body=ack)
    [notice_id] = queue(app, db, purpose="notice", body="办理结果")
    assert deliver(app, factory) == 2
    assert any("ABCD-EFGH-JKMN-PQRS" in m.body for m in twilio.messages)  # it was sent
    assert vault.decrypt(fetch(db, ack_id).body_enc) == REDACTED
    assert fetch(db, ack_id).status is MessageStatus.sent
    assert vault.decrypt(fetch(db, notice_id).body_enc).startswith("办理结果")


def test_a_claim_whose_worker_died_is_taken_again_after_the_lease(app, db, factory):
    [message_id] = queue(app, db)
    now = utcnow()
    assert claim_due(factory, batch=10, now=now) == [(message_id, 1)]
    assert claim_due(factory, batch=10, now=now) == []  # held by the (dead) first worker
    later = now + timedelta(minutes=16)
    assert deliver(app, factory, now=later) == 1
    assert fetch(db, message_id).attempts == 2


def test_run_worker_delivers_and_runs_the_extra_jobs(app, db, twilio):
    queue(app, db, 3)
    ran = []
    app.extensions["worker_jobs"] = [lambda: ran.append(True)]
    run_worker(app, 0.01, once=True)
    assert ran == [True]
    assert len(twilio.messages) == 3


def test_worker_command_runs_once(app, db, twilio):
    queue(app, db, 2)
    register_worker_command(app)
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert len(twilio.messages) == 2


def _two_workers(app, factory, total: int, batch: int) -> list[int]:
    counts = [0, 0]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def remaining() -> int:
        with factory() as session:
            return session.exec(select(func.count()).select_from(Message).where(
                Message.status.in_([MessageStatus.queued, MessageStatus.sending]))).one()

    def work(index: int) -> None:
        try:
            gateways = build_gateways(app)
            barrier.wait()
            with app.app_context():
                while True:
                    sent = deliver_due(factory, gateways, batch=batch)
                    counts[index] += sent
                    if sent == 0 and remaining() == 0:
                        break
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    assert not errors, errors
    return counts


def _assert_exactly_once(db, twilio, ids, counts) -> None:
    assert sum(counts) == len(ids)
    bodies = [m.body for m in twilio.messages]
    assert len(bodies) == len(ids) == len(set(bodies))
    sent = db.exec(select(Message).where(Message.id.in_(ids))).all()
    db.rollback()
    assert {m.status for m in sent} == {MessageStatus.sent}
    assert {m.attempts for m in sent} == {1}
    assert len({m.provider_id for m in sent}) == len(ids)


def _queue_distinct(app, db, n: int) -> list[int]:
    vault = app.extensions["pii"]
    messages = [queue_message(db, vault, channel=MessageChannel.sms, recipient=PHONE,
                              body=f"批量消息 {i:04d}", purpose="notice") for i in range(n)]
    db.commit()
    return [m.id for m in messages]


def test_two_workers_deliver_each_message_once(app, db, factory, twilio):
    ids = _queue_distinct(app, db, 40)
    counts = _two_workers(app, factory, 40, batch=5)
    _assert_exactly_once(db, twilio, ids, counts)


@pytest.mark.skipif(not USE_PG, reason="FOR UPDATE SKIP LOCKED needs PostgreSQL "
                                      "(set TEST_DATABASE_URL)")
def test_two_workers_on_postgresql_deliver_200_messages_exactly_once(app, db, factory, twilio):
    ids = _queue_distinct(app, db, 200)
    counts = _two_workers(app, factory, 200, batch=10)
    _assert_exactly_once(db, twilio, ids, counts)
    assert all(counts), counts  # both workers took part


class Recorder:
    name = "recorder"

    def __init__(self, fail: bool = False):
        self.sent: list[tuple[str, str]] = []
        self.fail = fail

    def send(self, to, *args):
        from app.gateways import PermanentDeliveryError
        if self.fail:
            raise PermanentDeliveryError("21211 invalid 'To' number")
        self.sent.append((to, args[-1]))
        return f"id-{len(self.sent)}"


def test_an_acknowledgement_erased_after_a_day_is_not_resent_blank(
        app, db, client, login, make_user, campaign_id):
    """A hotline caller's acknowledgement fails (carrier refused); a day later its body (the
    receipt code) is erased. 重试 then explains that it cannot be resent, and nothing, least
    of all the placeholder, is texted to the citizen."""
    engine = app.extensions["engine"]
    factory = lambda: Session(engine, expire_on_commit=False)  # noqa: E731
    vault = app.extensions["pii"]
    with app.test_request_context():
        db.commit()
        receipt = register(db, Submission(campaign_id=campaign_id, channel=Channel.hotline,
                                          anonymous=False, phone="+8613912345678",
                                          text="来电反映：城西区执法人员在海湖大道对货车乱罚款。"),
                           app.extensions["intake"])
        db.commit()
    with app.app_context():
        deliver_due(factory, {"sms": Recorder(fail=True), "email": Recorder(fail=True)},
                    vault=vault)
    ack = db.exec(select(Message).where(Message.report_id == receipt.report.id,
                                        Message.purpose == "ack")).one()
    db.rollback()
    assert ack.status is MessageStatus.failed
    redact_old_acks(db, vault, utcnow() + timedelta(hours=25))
    db.commit()

    login(make_user("taskforce"))
    page = client.get("/taskforce/messages").get_data(as_text=True)
    assert f"/taskforce/messages/{ack.id}/retry" in page
    answer = client.post(f"/taskforce/messages/{ack.id}/retry",
                         data={"csrf_token": csrf_from(page)}, follow_redirects=True)
    assert "不能重发" in answer.get_data(as_text=True)
    sms = Recorder()
    with app.app_context():
        deliver_due(factory, {"sms": sms, "email": Recorder()}, vault=vault)
    assert sms.sent == []


@pytest.mark.parametrize("reason", [
    "21211 The 'To' number +86 139-1234-5678 is not a valid phone number",
    "21610 Attempt to send to unsubscribed recipient 139 1234 5678",
    "550 5.1.1 <ZhangSan.Li@Example.com>: Recipient address rejected",
    "3004 号码13912345678不存在",
    "40001 invalid phone_13912345678 at 2026-11-27 16:00:00",
    "3004 号码13912345678-无效",
    "21211 To: 13912345678- unreachable; tel13912345678",
])
def test_provider_errors_shown_on_the_outbox_page_lose_the_recipient(reason):
    """The recipient is masked however the provider writes it, not only as we sent it."""
    shown = redact_for_log(reason, "+8613912345678")
    assert "1234" not in shown and "ZhangSan" not in shown and "Li@" not in shown
    assert shown.split()[0] == reason.split()[0]  # the provider's error code stays readable


def test_log_redaction_keeps_what_names_nobody():
    text = ("受理编号 XNJT-20261127-0001 at 2026-11-27 16:00:00, code 21211, "
            "message SM1234567890abcdef1234567890abcdef")
    assert redact_for_log(text, "+8613912345678") == text
