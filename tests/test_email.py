"""The e-mail channel: real messages over smtplib to the aiosmtpd receiver on loopback, the
pipe mode, and the acknowledgement delivered by the worker to a second local SMTP server."""

from __future__ import annotations

import base64
import io
import re
import smtplib
import uuid
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from PIL import Image
from sqlmodel import Session, func, select

from app.email_commands import import_eml_command
from app.gateways import build_gateways
from app.worker import deliver_due
from intake.email_in import decode_header_value, html_to_text, parse_email
from intake.models import Attachment, Channel, Report, Reporter
from intake.outbox import Message, MessageChannel, MessageStatus
from intake.tracking import find_for_tracker
from tests.support.mail import CaptureSMTP, receiver

INTAKE_ADDR = "jubao@xnjt.example"
SENDER = "zhangsan@example.com"
TRACKING = re.compile(r"受理编号 ([A-Z0-9]+-\d{8}-\d{4})")
CODE = re.compile(r"查询码 ([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})")


def count(db: Session, model=Report) -> int:
    try:
        return db.exec(select(func.count()).select_from(model)).one()
    finally:
        db.rollback()


def acks(db: Session) -> list[Message]:
    try:
        return list(db.exec(select(Message).where(Message.purpose == "ack")
                            .order_by(Message.id)).all())
    finally:
        db.rollback()


def reports(db: Session) -> list[Report]:
    try:
        return list(db.exec(select(Report).order_by(Report.id)).all())
    finally:
        db.rollback()


def plain_message(body: str = "城西区五四大街执法人员对我的出租车只罚款不开票据，车牌青A12345。",
                  subject: str = "举报：执法人员乱罚款", sender: str = f"张三 <{SENDER}>",
                  message_id: str | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = INTAKE_ADDR
    msg["Subject"] = subject
    msg["Message-ID"] = message_id or make_msgid(domain="example.com")
    msg.set_content(body)
    return msg


def b64_lines(data: bytes) -> bytes:
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def b64_word(text: str, charset: str) -> str:
    return f"=?{charset}?B?{base64.b64encode(text.encode(charset)).decode()}?="


def gbk_raw(message_id: str, *, label: str = "gb2312", cte: str = "base64") -> bytes:
    """A message as a Chinese mail client writes it: GBK text labelled gb2312."""
    body = "大通县桥头镇执法人员王喆对货车司机吃拿卡要，还收取好处费。".encode("gbk")
    encoded = b64_lines(body) if cte == "base64" else body
    head = (f"From: {b64_word('李堃', 'gbk')} <lishen@example.cn>\r\n"
            f"To: {INTAKE_ADDR}\r\n"
            f"Subject: {b64_word('举报执法人员王喆', 'gbk')}\r\n"
            f"Message-ID: {message_id}\r\n"
            "MIME-Version: 1.0\r\n"
            f"Content-Type: text/plain; charset={label}\r\n"
            f"Content-Transfer-Encoding: {cte}\r\n\r\n").encode("ascii")
    return head + encoded


def jpeg_with_exif() -> bytes:
    image = Image.new("RGB", (64, 48), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x8825] = {1: "N", 2: (36.0, 37.0, 0.0), 3: "E", 4: (101.0, 46.0, 0.0)}  # GPS
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    data = buffer.getvalue()
    assert Image.open(io.BytesIO(data)).getexif()
    return data


def send(address: tuple[str, int], msg: EmailMessage | bytes, *, mail_from: str = SENDER,
         to: str = INTAKE_ADDR) -> None:
    with smtplib.SMTP(*address, timeout=60) as smtp:
        if isinstance(msg, bytes):
            smtp.sendmail(mail_from, [to], msg)
        else:
            smtp.send_message(msg, from_addr=mail_from, to_addrs=[to])


def refused(address: tuple[str, int], msg: EmailMessage | bytes, **kwargs) -> tuple[int, str]:
    with pytest.raises(smtplib.SMTPDataError) as info:
        send(address, msg, **kwargs)
    return info.value.smtp_code, info.value.smtp_error.decode("utf-8", "replace")


@pytest.fixture
def smtp_in(app):
    with receiver(app) as address:
        yield address


# ---------------------------------------------------------------------------------------
# Received and registered


def test_plain_email_is_registered_with_subject_and_sender(smtp_in, app, db):
    msg = plain_message()
    send(smtp_in, msg)
    [report] = reports(db)
    assert report.channel is Channel.email
    assert report.source_ref == msg["Message-ID"]
    assert report.text.startswith("举报：执法人员乱罚款\n")
    assert "只罚款不开票据" in report.text
    reporter = db.get(Reporter, report.reporter_id)
    db.rollback()
    vault = app.extensions["pii"]
    assert vault.decrypt(reporter.email_enc) == SENDER
    assert vault.decrypt(reporter.name_enc) == "张三"
    assert SENDER not in (reporter.email_enc or "")
    [ack] = acks(db)
    assert ack.report_id == report.id
    assert ack.channel is MessageChannel.email and ack.status is MessageStatus.queued
    assert vault.decrypt(ack.recipient_enc) == SENDER


def test_html_only_email_is_converted_to_safe_text(smtp_in, db):
    msg = plain_message()
    msg.set_content(
        "<html><head><title>t</title><style>p{color:red}</style>"
        "<script>alert('x')</script></head><body><p>湟中区执法人员&nbsp;乱收费"
        "&lt;b&gt;</p><div>第二段<br>第三行</div><img src=x onerror=alert(2)></body></html>",
        subtype="html")
    send(smtp_in, msg)
    [report] = reports(db)
    assert "湟中区执法人员 乱收费" in report.text
    assert "第二段\n第三行" in report.text
    for bad in ("alert", "color", "<", "onerror", "script"):
        assert bad not in report.text


def test_plain_part_is_preferred_over_html(smtp_in, db):
    msg = plain_message(body="纯文本内容：城北区执法人员态度粗暴。")
    msg.add_alternative("<p>HTML 内容</p>", subtype="html")
    send(smtp_in, msg)
    [report] = reports(db)
    assert "纯文本内容" in report.text and "HTML" not in report.text


@pytest.mark.parametrize("cte", ["base64", "8bit"])
def test_gbk_email_labelled_gb2312_with_encoded_subject(smtp_in, app, db, cte):
    message_id = make_msgid(domain="example.cn")
    send(smtp_in, gbk_raw(message_id, cte=cte), mail_from="lishen@example.cn")
    [report] = reports(db)
    assert report.text.startswith("举报执法人员王喆\n")
    assert "桥头镇执法人员王喆对货车司机吃拿卡要" in report.text
    reporter = db.get(Reporter, report.reporter_id)
    db.rollback()
    assert app.extensions["pii"].decrypt(reporter.name_enc) == "李堃"


def test_big5_email_is_decoded(smtp_in, db):
    raw = (f"From: wang@example.tw\r\nTo: {INTAKE_ADDR}\r\n"
           f"Subject: {b64_word('檢舉', 'big5')}\r\nMessage-ID: <big5-1@example.tw>\r\n"
           "Content-Type: text/plain; charset=big5\r\nContent-Transfer-Encoding: base64\r\n\r\n"
           ).encode() + b64_lines("城東區執法人員亂罰款。".encode("big5"))
    send(smtp_in, raw, mail_from="wang@example.tw")
    [report] = reports(db)
    assert report.text == "檢舉\n城東區執法人員亂罰款。"


def test_photo_attachment_is_stored_without_exif(smtp_in, app, db):
    msg = plain_message()
    msg.add_attachment(jpeg_with_exif(), maintype="image", subtype="jpeg",
                       filename="现场照片.jpg")
    send(smtp_in, msg)
    [report] = reports(db)
    [attachment] = db.exec(select(Attachment).where(Attachment.report_id == report.id)).all()
    db.rollback()
    assert attachment.content_type == "image/jpeg"
    assert attachment.original_name == "现场照片.jpg"
    path = app.config["UPLOAD_DIR"] / attachment.stored_name
    assert attachment.stored_name != "现场照片.jpg"
    with Image.open(path) as stored:
        assert not stored.getexif()
        assert "exif" not in stored.info


def test_duplicate_message_id_makes_one_report_and_one_acknowledgement(smtp_in, db):
    msg = plain_message()
    send(smtp_in, msg)
    send(smtp_in, msg)
    assert count(db) == 1
    assert len(acks(db)) == 1


def test_message_without_message_id_is_deduplicated_by_content(smtp_in, db):
    msg = plain_message()
    del msg["Message-ID"]
    raw = msg.as_bytes()
    send(smtp_in, raw)
    send(smtp_in, raw)
    [report] = reports(db)
    assert report.source_ref.startswith("sha256:")


# ---------------------------------------------------------------------------------------
# Automatic mail is ignored: no report, no reply, no loop


@pytest.mark.parametrize("header,value", [
    ("Auto-Submitted", "auto-replied"),
    ("Auto-Submitted", "auto-generated; owner-email=x@example.com"),
    ("X-Autoreply", "yes"),
    ("X-Autorespond", "Out of office"),
    ("Precedence", "bulk"),
    ("Precedence", "junk"),
    ("Precedence", "list"),
])
def test_auto_replies_are_ignored(smtp_in, db, header, value):
    msg = plain_message(subject="Re: 受理回执", body="您好，我正在休假，回来后回复您。")
    msg[header] = value
    send(smtp_in, msg)  # accepted (250) so the sender does not retry, but not registered
    assert count(db) == 0
    assert count(db, Message) == 0


@pytest.mark.parametrize("subject", ["自动回复：我正在休假", "自動回覆: 休假中",
                                     "Automatic reply: Re: 受理回执", "Out of Office: back Monday",
                                     "AutoReply: vacation"])
def test_out_of_office_replies_known_by_their_subject_are_ignored(smtp_in, db, subject):
    """Mail clients that set no RFC 3834 header (QQ 邮箱, Foxmail) say so in the subject."""
    send(smtp_in, plain_message(subject=subject, body="您好，我正在休假，回来后回复您。"))
    assert count(db) == 0
    assert count(db, Message) == 0


def test_a_report_about_auto_replies_is_still_a_report(smtp_in, db):
    send(smtp_in, plain_message(subject="举报：执法大队的自动回复电话打不通"))
    assert count(db) == 1


def test_auto_submitted_no_is_an_ordinary_message(smtp_in, db):
    msg = plain_message()
    msg["Auto-Submitted"] = "no"
    send(smtp_in, msg)
    assert count(db) == 1


def test_bounce_is_ignored(smtp_in, db):
    raw = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\n"
        f"To: {INTAKE_ADDR}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <bounce-1@mx.example.com>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        "This is the mail system. Your message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.com\r\n\r\nFinal-Recipient: rfc822; nobody@example.com\r\n"
        "Action: failed\r\nStatus: 5.1.1\r\n--B--\r\n").encode()
    send(smtp_in, raw, mail_from="")
    assert count(db) == 0
    assert count(db, Message) == 0


@pytest.mark.parametrize("sender", ["postmaster@example.com", "MAILER-DAEMON@example.com"])
def test_daemon_senders_and_null_return_path_are_ignored(smtp_in, db, sender):
    send(smtp_in, plain_message(sender=sender), mail_from=sender)
    send(smtp_in, plain_message(), mail_from="")  # MAIL FROM:<> is a bounce
    assert count(db) == 0


# ---------------------------------------------------------------------------------------
# Bad input: a 5xx reply with a reason, nothing stored, the server keeps running


def test_empty_email_is_refused_with_a_reason(smtp_in, db):
    code, text = refused(smtp_in, plain_message(subject="", body="   \n  "))
    assert code == 550 and "empty" in text
    assert count(db) == 0 and count(db, Reporter) == 0


def test_too_long_email_is_refused_with_the_limit(smtp_in, app, db):
    limit = app.config["MAX_REPORT_CHARS"]
    code, text = refused(smtp_in, plain_message(body="执" * (limit + 10)))
    assert code == 550 and str(limit) in text
    assert count(db) == 0


def test_chinese_reason_when_the_client_speaks_smtputf8(smtp_in, db):
    msg = plain_message(body="执" * 5000)
    with smtplib.SMTP(*smtp_in, timeout=60) as smtp, pytest.raises(smtplib.SMTPDataError) as info:
        smtp.send_message(msg, from_addr=SENDER, to_addrs=[INTAKE_ADDR],
                          mail_options=["SMTPUTF8"])
    assert "内容过长" in info.value.smtp_error.decode("utf-8")
    assert count(db) == 0


def test_disguised_attachment_is_refused_and_nothing_stored(smtp_in, app, db):
    msg = plain_message()
    msg.add_attachment(b"MZ\x90\x00 not really a photo" * 50, maintype="image",
                       subtype="jpeg", filename="photo.jpg")
    code, text = refused(smtp_in, msg)
    assert code == 550 and "attachments" in text
    assert count(db) == 0 and count(db, Attachment) == 0 and count(db, Reporter) == 0
    upload_dir = app.config["UPLOAD_DIR"]
    assert not upload_dir.exists() or not any(upload_dir.iterdir())


def test_too_many_attachments_are_refused(smtp_in, db):
    msg = plain_message()
    photo = jpeg_with_exif()
    for i in range(6):
        msg.add_attachment(photo, maintype="image", subtype="jpeg", filename=f"{i}.jpg")
    code, _ = refused(smtp_in, msg)
    assert code == 550
    assert count(db) == 0


def test_binary_body_is_refused(smtp_in, db):
    raw = (f"From: {SENDER}\r\nTo: {INTAKE_ADDR}\r\nMessage-ID: <bin-1@example.com>\r\n"
           "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n").encode() + \
        b64_lines(bytes(range(256)) * 4)
    code, _ = refused(smtp_in, raw)
    assert code == 550
    assert count(db) == 0


def test_malformed_messages_get_5xx_and_the_server_survives(smtp_in, db):
    for raw in (b"\x00\x01\x02 garbage without headers", b"From: not an address\r\n\r\nhi",
                b"Content-Type: multipart/mixed; boundary=\"x\"\r\n\r\n--x\r\n\xff\xfe--"):
        code, _ = refused(smtp_in, raw)
        assert 500 <= code <= 554
    send(smtp_in, plain_message())  # still receiving
    assert count(db) == 1


# ---------------------------------------------------------------------------------------
# Pipe mode


def test_import_eml_from_file_and_stdin(app, db, tmp_path):
    runner = app.test_cli_runner()
    path = tmp_path / "report.eml"
    msg = plain_message()
    path.write_bytes(msg.as_bytes())
    result = runner.invoke(import_eml_command, [str(path)])
    assert result.exit_code == 0, result.output
    assert "registered as" in result.output
    assert CODE.search(result.output) is None  # the code goes to the sender only

    result = runner.invoke(import_eml_command, ["-"], input=msg.as_bytes())
    assert result.exit_code == 0 and "already received" in result.output

    auto = plain_message()
    auto["Auto-Submitted"] = "auto-replied"
    result = runner.invoke(import_eml_command, ["-"], input=auto.as_bytes())
    assert result.exit_code == 0 and "ignored" in result.output

    result = runner.invoke(import_eml_command, ["-"],
                           input=plain_message(subject="", body=" ").as_bytes())
    assert result.exit_code == 65
    assert count(db) == 1


# ---------------------------------------------------------------------------------------
# Parsing details


def test_gb2312_labelled_header_decodes_gbk_characters():
    assert decode_header_value(b64_word("举报王喆", "gbk").replace("gbk", "gb2312")) == "举报王喆"
    assert decode_header_value("=?utf-8?Q?=E4=B8=BE=E6=8A=A5?= abc") == "举报 abc"


def test_html_to_text_keeps_words_and_drops_markup():
    text = html_to_text("<style>x{}</style><p>甲&amp;乙</p><ul><li>一</li><li>二</li></ul>")
    assert text == "甲&乙\n\n一\n\n二" or text.split() == ["甲&乙", "一", "二"]


def test_parse_keeps_inline_images_and_skips_signatures():
    msg = plain_message()
    msg.add_attachment(jpeg_with_exif(), maintype="image", subtype="jpeg", filename="a.jpg")
    msg.add_attachment(b"-----BEGIN PGP SIGNATURE-----", maintype="application",
                       subtype="pgp-signature", filename="signature.asc")
    parsed = parse_email(msg.as_bytes())
    assert [f.filename for f in parsed.attachments] == ["a.jpg"]


# ---------------------------------------------------------------------------------------
# The acknowledgement goes out through the worker to another SMTP server


class TestAcknowledgementDelivery:
    @pytest.fixture
    def outside(self):
        server = CaptureSMTP().start()
        yield server
        server.stop()

    @pytest.fixture
    def app_settings(self, app_settings: dict, outside: CaptureSMTP) -> dict:
        app_settings.update(outside.settings())
        app_settings["MAIL_DEFAULT_SENDER"] = "zhuanban@xnjt.example"
        return app_settings

    def _deliver(self, app, **kwargs) -> int:
        engine = app.extensions["engine"]
        with app.app_context():
            return deliver_due(lambda: Session(engine, expire_on_commit=False),
                               build_gateways(app), **kwargs)

    def test_ack_reaches_the_sender_and_does_not_loop(self, smtp_in, app, db, outside):
        send(smtp_in, plain_message())
        assert self._deliver(app) >= 1
        [mail] = [m for m in outside.received if m.rcpt_tos == [SENDER]]
        assert mail.rcpt_tos == [SENDER]
        message = mail.message
        assert message["Auto-Submitted"] == "auto-replied"
        assert message["From"] == "zhuanban@xnjt.example"
        tracking_no = TRACKING.search(mail.text).group(1)
        code = CODE.search(mail.text).group(1)
        [report] = reports(db)
        assert report.tracking_no == tracking_no
        assert find_for_tracker(db, tracking_no, code).id == report.id
        db.rollback()
        [ack] = acks(db)
        assert ack.status is MessageStatus.sent and ack.provider_id == message["Message-ID"]

        # If the acknowledgement came back to the receiver (a forwarding loop), it is ignored.
        send(smtp_in, mail.data, mail_from="zhuanban@xnjt.example")
        assert count(db) == 1
        self._deliver(app)
        assert len([m for m in outside.received if m.rcpt_tos == [SENDER]]) == 1

    def test_smtp_down_keeps_the_ack_queued_then_delivers(self, smtp_in, app, db, outside):
        from datetime import timedelta

        from notices.timeutil import utcnow

        send(smtp_in, plain_message())
        outside.stop()
        now = utcnow()
        self._deliver(app, now=now)
        [ack] = acks(db)
        assert ack.status is MessageStatus.queued and ack.attempts == 1
        assert ack.last_error and SENDER not in ack.last_error
        self._deliver(app, now=now)  # backing off: not due yet
        assert acks(db)[0].attempts == 1

        outside.start()
        assert self._deliver(app, now=now + timedelta(minutes=2)) >= 1
        assert len([m for m in outside.received if m.rcpt_tos == [SENDER]]) == 1
        [ack] = acks(db)
        assert ack.status is MessageStatus.sent and ack.attempts == 2


def test_unique_message_ids_do_not_collide_across_senders(smtp_in, db):
    for _ in range(3):
        send(smtp_in, plain_message(message_id=f"<{uuid.uuid4()}@example.com>",
                                    body=f"城西区第{uuid.uuid4().hex[:4]}号路口执法人员乱罚款。"))
    assert count(db) == 3
