"""The SMS channel over real HTTP: Twilio-signed webhooks to the app served on loopback."""

from __future__ import annotations

import re
import secrets
import threading
import xml.etree.ElementTree as ET

import pytest
import requests
from sqlmodel import Session, func, select
from twilio.request_validator import RequestValidator

from intake.models import Channel, Event, Report, Reporter
from intake.outbox import Message, MessageStatus
from intake.tracking import find_for_tracker
from tests.conftest import csrf_from

TOKEN = "test-twilio-auth-token"
ACCOUNT = "AC" + "1" * 32
SENDER = "+8613912345678"
TRACKING = re.compile(r"受理编号 ([A-Z0-9]+-\d{8}-\d{4})")
CODE = re.compile(r"查询码 ([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})")


@pytest.fixture
def app_settings(app_settings: dict) -> dict:
    app_settings.update({"TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_ACCOUNT_SID": ACCOUNT})
    return app_settings


def sms_params(body: str, *, sid: str | None = None, sender: str = SENDER) -> dict:
    return {"MessageSid": sid or "SM" + secrets.token_hex(16), "SmsSid": sid or "",
            "AccountSid": ACCOUNT, "From": sender, "To": "+15005550006", "Body": body,
            "NumMedia": "0", "NumSegments": "1", "ApiVersion": "2010-04-01"}


def post_sms(live_url: str, params: dict, *, token: str = TOKEN,
             signature: str | None = None, signed_url: str | None = None) -> requests.Response:
    url = live_url + "/sms/inbound"
    if signature is None:
        signature = RequestValidator(token).compute_signature(signed_url or url, params)
    headers = {"X-Twilio-Signature": signature} if signature else {}
    return requests.post(url, data=params, headers=headers, timeout=60)


def reply_text(response: requests.Response) -> str:
    assert response.status_code == 200, response.text
    assert "xml" in response.headers["Content-Type"]
    root = ET.fromstring(response.content)
    assert root.tag == "Response"
    return "".join(m.text or "" for m in root.iter("Message"))


def count(db: Session, model=Report) -> int:
    try:
        return db.exec(select(func.count()).select_from(model)).one()
    finally:
        db.rollback()  # never hold SQLite's write lock while the server works


def test_signed_sms_is_registered_and_answered_in_twiml(live_url, db):
    params = sms_params("今天上午在城西区五四大街，执法人员对我的货车只罚款不开票据，车牌青A12345。")
    text = reply_text(post_sms(live_url, params))

    tracking_no = TRACKING.search(text).group(1)
    code = CODE.search(text).group(1)
    report = db.exec(select(Report).where(Report.tracking_no == tracking_no)).one()
    assert report.channel is Channel.sms
    assert report.source_ref == params["MessageSid"]
    assert "只罚款不开票据" in report.text
    assert not report.is_anonymous
    reporter = db.get(Reporter, report.reporter_id)
    assert SENDER not in (reporter.phone_enc or "")  # encrypted at rest
    ack = db.exec(select(Message).where(Message.report_id == report.id,
                                        Message.purpose == "ack")).one()
    # The acknowledgement went back in the TwiML reply, so the outbox must not send it again.
    assert ack.status is MessageStatus.sent and ack.provider_id == "twiml-reply"
    assert find_for_tracker(db, tracking_no, code).id == report.id
    db.rollback()


def test_sender_phone_is_stored_encrypted_and_readable_with_the_key(live_url, app, db):
    reply_text(post_sms(live_url, sms_params("城北区朝阳东路治超站执法人员吃拿卡要。")))
    reporter = db.exec(select(Reporter)).one()
    db.rollback()
    assert app.extensions["pii"].decrypt(reporter.phone_enc) == SENDER
    assert reporter.phone_hash == app.extensions["pii"].keyed_hash(SENDER)


@pytest.mark.parametrize("variant", ["wrong-token", "missing", "tampered", "other-url"])
def test_bad_or_missing_signature_gets_403_and_stores_nothing(live_url, db, variant):
    params = sms_params("湟中区执法人员吃拿卡要。")
    if variant == "wrong-token":
        response = post_sms(live_url, params, token="not-the-token")
    elif variant == "missing":
        response = post_sms(live_url, params, signature="")
    elif variant == "tampered":
        signature = RequestValidator(TOKEN).compute_signature(live_url + "/sms/inbound", params)
        response = post_sms(live_url, {**params, "Body": "篡改后的内容"}, signature=signature)
    else:
        response = post_sms(live_url, params, signed_url="https://evil.example/sms/inbound")
    assert response.status_code == 403
    assert count(db) == 0
    assert count(db, Reporter) == 0
    assert count(db, Message) == 0


def test_signature_is_checked_against_the_public_url_behind_a_proxy(app, live_url, db):
    # Twilio signs the public https URL; the app sees a loopback http one.
    app.config["PUBLIC_BASE_URL"] = "https://jubao.example.gov.cn"
    params = sms_params("大通县桥头镇执法人员态度粗暴。")
    public = "https://jubao.example.gov.cn/sms/inbound"
    assert post_sms(live_url, params).status_code == 403  # signed for the internal URL
    assert count(db) == 0
    text = reply_text(post_sms(live_url, params, signed_url=public))
    assert TRACKING.search(text)
    assert count(db) == 1


def test_same_message_sid_twice_makes_one_report_and_the_same_reply(live_url, db):
    params = sms_params("城中区南大街执法人员随意扣车。")
    first = reply_text(post_sms(live_url, params))
    second = reply_text(post_sms(live_url, params))
    assert first == second
    assert CODE.search(second)
    assert count(db) == 1
    assert db.exec(select(func.count()).select_from(Message)
                   .where(Message.purpose == "ack")).one() == 1
    db.rollback()


def test_concurrent_retries_of_one_message_make_one_report(live_url, db):
    params = sms_params("城东区八一路执法人员选择性执法。")
    replies: list[str] = []
    barrier = threading.Barrier(3)

    def send() -> None:
        barrier.wait()
        replies.append(reply_text(post_sms(live_url, params)))

    threads = [threading.Thread(target=send) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(replies) == 3
    assert len(set(replies)) == 1
    assert count(db) == 1


def test_query_command_returns_status_and_stores_nothing(live_url, db):
    text = reply_text(post_sms(live_url, sms_params("湟源县执法人员吃拿卡要，要求查处。")))
    tracking_no, code = TRACKING.search(text).group(1), CODE.search(text).group(1)

    status = reply_text(post_sms(live_url, sms_params(f"查询 {tracking_no} {code}")))
    assert tracking_no in status and "已受理" in status
    assert CODE.search(status) is None

    # Lower case, no dashes, full-width space: still understood.
    loose = code.replace("-", "").lower()
    status = reply_text(post_sms(live_url, sms_params(f"查询\u3000{tracking_no.lower()} {loose}")))
    assert "已受理" in status

    wrong = reply_text(post_sms(live_url, sms_params(f"查询 {tracking_no} ABCD-EFGH-JKMN-PQRS")))
    assert "不正确" in wrong
    malformed = reply_text(post_sms(live_url, sms_params(f"查询 {tracking_no}")))
    assert "查询格式" in malformed
    assert count(db) == 1


@pytest.mark.parametrize("body", ["", "   ", "\u3000\u3000"])
def test_empty_body_gets_help_and_stores_nothing(live_url, db, body):
    text = reply_text(post_sms(live_url, sms_params(body)))
    assert "直接发送问题描述" in text and "查询" in text
    assert count(db) == 0
    assert count(db, Message) == 0


def test_very_long_body_is_refused_with_the_limit_and_nothing_stored(live_url, app, db):
    limit = app.config["MAX_REPORT_CHARS"]
    text = reply_text(post_sms(live_url, sms_params("执" * (limit + 1))))
    assert str(limit) in text and "过长" in text
    assert count(db) == 0
    assert count(db, Reporter) == 0


def test_long_concatenated_sms_is_registered_in_full(live_url, db):
    # Twilio joins the parts of a concatenated SMS (up to 1600 characters) into one Body.
    body = ("城西区执法人员在胜利路对网约车随意罚款，" * 80)[:1500]
    text = reply_text(post_sms(live_url, sms_params(body)))
    report = db.exec(select(Report).where(Report.tracking_no == TRACKING.search(text).group(1))
                     ).one()
    db.rollback()
    assert len(report.text) == 1500


def test_markup_in_sms_is_stored_as_text(live_url, db):
    reply_text(post_sms(live_url, sms_params("<script>alert(1)</script>执法人员<b>乱罚款</b>")))
    report = db.exec(select(Report)).one()
    db.rollback()
    assert "<" not in report.text and "script" not in report.text.lower().replace("alert", "")
    assert "乱罚款" in report.text


def test_rating_without_feedback_service_is_declined_politely(app, live_url, db):
    app.extensions["intake"].rate = None
    text = reply_text(post_sms(live_url, sms_params("满意 XNJT-20261127-0001")))
    assert "暂不能评价" in text
    assert count(db) == 0


def test_rating_command_calls_the_feedback_service(app, live_url, db):
    calls = []

    def rate(session, tracking_no, rating, sender):
        calls.append((tracking_no, rating, sender))
        return "已收到您的评价"

    app.extensions["intake"].rate = rate
    assert "已收到" in reply_text(post_sms(live_url, sms_params("基本满意 xnjt-20261127-0001")))
    assert "已收到" in reply_text(post_sms(live_url, sms_params("XNJT-20261127-0002 不满意")))
    assert calls == [("XNJT-20261127-0001", "基本满意", SENDER),
                     ("XNJT-20261127-0002", "不满意", SENDER)]
    assert count(db) == 0


def test_report_starting_with_a_rating_word_is_still_a_report(app, live_url, db):
    app.extensions["intake"].rate = None
    text = reply_text(post_sms(live_url, sms_params("不满意城东区执法人员的处理，他们乱收费。")))
    assert TRACKING.search(text)
    assert count(db) == 1


class TestRateLimit:
    @pytest.fixture
    def app_settings(self, app_settings: dict) -> dict:
        app_settings["RATELIMIT_ENABLED"] = True
        return app_settings

    def test_one_sender_is_limited_and_forged_requests_do_not_count(self, live_url, db):
        sender = "+86139" + str(secrets.randbelow(10**8)).zfill(8)
        for _ in range(10):
            assert post_sms(live_url, sms_params("x", sender=sender), token="bad").status_code \
                == 403
        statuses = [post_sms(live_url, sms_params("", sender=sender)).status_code
                    for _ in range(7)]
        assert statuses[:6] == [200] * 6
        assert statuses[6] == 429


def test_replay_after_the_ack_was_redacted_gives_the_number_without_a_code(live_url, app, db):
    from datetime import timedelta

    from app.worker import redact_old_acks
    from notices.timeutil import utcnow

    params = sms_params("城中区执法人员违规收费。")
    first = reply_text(post_sms(live_url, params))
    tracking_no = TRACKING.search(first).group(1)
    assert redact_old_acks(db, app.extensions["pii"], utcnow() + timedelta(hours=25)) == 1
    db.commit()
    again = reply_text(post_sms(live_url, params))
    assert tracking_no in again and CODE.search(again) is None and "redacted" not in again
    assert count(db) == 1


def _mms(body: str, media: int, **extra: str) -> dict:
    params = sms_params(body)
    params["NumMedia"] = str(media)
    for i in range(media):
        params[f"MediaUrl{i}"] = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Media/ME{i}"
        params[f"MediaContentType{i}"] = "image/jpeg"
    params.update(extra)
    return params


def test_a_picture_only_mms_is_told_how_to_send_pictures_and_stores_nothing(live_url, db):
    text = reply_text(post_sms(live_url, _mms("", 1)))
    assert "彩信中的图片暂不能通过短信接收" in text and "直接发送问题描述" not in text
    assert count(db) == 0 and count(db, Message) == 0


def test_pictures_of_an_mms_report_are_said_to_be_missing(live_url, db):
    text = reply_text(post_sms(live_url, _mms(
        "湟中区多巴镇治超站执法人员对我的货车乱罚款不开票据，照片见彩信。", 2)))
    number = TRACKING.search(text).group(1)
    assert "彩信图片未能接收" in text
    report = db.exec(select(Report).where(Report.tracking_no == number)).one()
    received = db.exec(select(Event).where(Event.report_id == report.id,
                                           Event.kind == "received")).one()
    db.rollback()
    assert "2 张彩信图片未能接收" in received.note  # the task force knows evidence exists


@pytest.mark.parametrize("sender", ["10086", "ALERTS", ""])
def test_a_retry_from_a_sender_that_is_not_a_phone_gets_the_same_reply(live_url, db, sender):
    params = sms_params("湟中区多巴镇治超站执法人员对我的货车乱罚款不开票据。", sender=sender)
    first = reply_text(post_sms(live_url, params))
    assert CODE.search(first)
    assert reply_text(post_sms(live_url, params)) == first
    assert count(db) == 1


def test_an_english_mms_reporter_reads_the_missing_pictures_note_in_english(live_url, client):
    params = _mms("The inspectors at the Duoba weighing station fined my truck without a "
                  "receipt, photos attached.", 1)
    text = reply_text(post_sms(live_url, params))
    number = re.search(r"[A-Z]+-\d{8}-\d{4}", text).group(0)
    code = re.search(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", text).group(0)
    assert "MMS pictures could not be received" in text
    client.get("/lang/en")
    token = csrf_from(client.get("/track").get_data(as_text=True))
    page = client.post("/track", data={"csrf_token": token, "tracking_no": number,
                                       "receipt_code": code}).get_data(as_text=True)
    assert number in page and "1 MMS picture(s) sent with the message could not be received" \
        in page and "彩信" not in page
