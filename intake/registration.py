"""The one way a report is created, whatever the channel: `register`.

It validates and sanitises the submission, stores the report, its reporter (encrypted)
and attachments, gives it a tracking number and receipt code, classifies it, writes the
`received` event and queues the acknowledgement, all in the caller's transaction.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from intake.language import as_recorded, in_reporters_language, localized
from intake.mms import queue_media
from intake.models import Attachment, Channel, Event, Kind, Report, Reporter, ReportStatus
from intake.outbox import Message, MessageChannel, MessageStatus, queue_message
from intake.pii import PiiVault
from intake.receipts import format_code, hash_code, new_receipt_code, next_tracking_no
from intake.sanitize import clean_text
from intake.tracking import media_not_kept_note
from intake.uploads import IncomingFile, StoredFile, UploadError, discard, prepare, store
from notices.db import begin_write
from notices.models import Campaign
from notices.timeutil import as_utc, utcnow

DISTRICTS = ("城东区", "城中区", "城西区", "城北区", "湟中区", "大通县", "湟源县")
PLATE_RE = re.compile(r"^[\u4e00-\u9fa5][A-Z][·\.\s-]?[A-Z0-9]{5,6}$")
DUPLICATE_WINDOW = timedelta(days=3)


class RegistrationError(ValueError):
    """The submission cannot be accepted; `message` is for the sender, `field` names the input."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(str(message))
        self.message = message
        self.field = field


@dataclass
class Submission:
    campaign_id: int
    channel: Channel
    text: str
    place_text: str = ""
    district: str | None = None
    occurred_text: str = ""
    plate: str | None = None
    anonymous: bool = True
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    id_number: str | None = None
    sender_address: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    source_ref: str | None = None
    received_at: datetime | None = None
    attachments: list[IncomingFile] = field(default_factory=list)
    actor_id: int | None = None
    language: str = "zh"
    inline_ack: bool = False
    media_not_kept: int = 0  # MMS pictures the channel could not take in
    media_sids: list[str] = field(default_factory=list)  # MMS pictures to fetch (intake.mms)


@dataclass
class IntakeServices:
    """What registration needs from the running app, passed in explicitly."""

    vault: PiiVault
    upload_dir: Path
    max_chars: int = 4000
    max_files: int = 5
    max_file_bytes: int = 10 * 1024 * 1024
    public_base_url: str = ""
    taskforce_email: str = ""
    classify: Callable[..., dict] | None = None  # (text, channel, campaign_id) -> dict
    # rate(session, tracking_no, rating, sender_phone) -> reply text; wired by routing.
    rate: Callable[[Session, str, str, str | None], str] | None = None
    after_register: list[Callable[[Session, Report], None]] = field(default_factory=list)
    # The SMS provider account whose MMS pictures the worker fetches (None: it cannot).
    mms_account: str | None = None


@dataclass
class Receipt:
    report: Report
    receipt_code: str | None
    acknowledgement: str | None
    replayed: bool = False

    @property
    def tracking_no(self) -> str:
        return self.report.tracking_no


def normalise_phone(raw: str | None) -> str | None:
    """E.164 for a valid Chinese (or international +) number, else RegistrationError."""
    if raw is None or not raw.strip():
        return None
    try:
        number = phonenumbers.parse(raw.strip(), "CN")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise RegistrationError(_l("电话号码格式不正确，请填写11位手机号或带区号的座机号码。"), "phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized
    except EmailNotValidError:
        raise RegistrationError(_l("电子邮箱格式不正确。"), "email") from None


def normalise_plate(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    plate = re.sub(r"\s+", "", raw.strip().upper()).replace(".", "·")
    if not PLATE_RE.match(plate):
        raise RegistrationError(_l("车牌号格式不正确，例如：青A·12345。"), "plate")
    return plate


def _clean_text(sub: Submission, services: IntakeServices) -> str:
    if isinstance(sub.text, bytes | bytearray):
        raise RegistrationError(_l("内容无法识别，请用文字描述问题。"), "text")
    text = clean_text(sub.text)
    if not text:
        raise RegistrationError(_l("请填写反映的问题内容。"), "text")
    if len(text) > services.max_chars:
        raise RegistrationError(_l("内容过长（%(n)d 字），请精简到 %(limit)d 字以内。",
                                   n=len(text), limit=services.max_chars), "text")
    if sub.district and sub.district not in DISTRICTS:
        raise RegistrationError(_l("请选择正确的区县。"), "district")
    return text


def _campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None or not campaign.is_active:
        raise RegistrationError(_l("该专项整治活动不存在或已结束，无法受理。"), "campaign")
    return campaign


def _find_duplicate(session: Session, report: Report, reporter: Reporter | None) -> int | None:
    """An earlier report from the same sender, or of the same plate and place, in the window."""
    since = as_utc(report.received_at) - DUPLICATE_WINDOW
    query = select(Report.id).where(Report.campaign_id == report.campaign_id,
                                    Report.received_at >= since,
                                    Report.duplicate_of_id.is_(None))
    if report.id is not None:
        query = query.where(Report.id != report.id)
    if reporter is not None and (reporter.phone_hash or reporter.email_hash):
        conditions = []
        if reporter.phone_hash:
            conditions.append(Reporter.phone_hash == reporter.phone_hash)
        if reporter.email_hash:
            conditions.append(Reporter.email_hash == reporter.email_hash)
        sender = session.exec(query.join(Reporter, Reporter.id == Report.reporter_id)
                              .where(or_(*conditions)).order_by(Report.id)).first()
        if sender is not None and _similar(session, sender, report.text):
            return sender
    if report.plate:
        same_plate = session.exec(query.where(Report.plate == report.plate,
                                              Report.district == report.district)
                                  .order_by(Report.id)).first()
        if same_plate is not None:
            return same_plate
    return None


def _similar(session: Session, report_id: int, text: str) -> bool:
    other = session.get(Report, report_id).text

    def grams(value: str) -> set[str]:
        return {value[i:i + 2] for i in range(len(value) - 1)}

    a, b = grams(text), grams(other)
    return bool(a and b) and len(a & b) / len(a | b) >= 0.3


def acknowledgement_text(report: Report, code: str | None, campaign: Campaign,
                         base_url: str) -> str:
    """受理回执 in the language the citizen reported in. Without `code` (a web report, whose
    code was shown on the receipt page only) it says where the code was given."""

    def build() -> str:
        lines = [_("【%(campaign)s】您反映的问题已受理，受理编号 %(no)s。",
                   campaign=localized(campaign.short_title, campaign.short_title_en),
                   no=report.tracking_no)]
        if code:
            lines.append(_("查询码 %(code)s（请妥善保存，仅发送一次）。", code=format_code(code)))
        else:
            lines.append(_("查询码见提交成功页面。"))
        lines.append(_("查询进度：%(url)s；短信回复“查询 受理编号 查询码”亦可查询。",
                       url=f"{base_url.rstrip('/')}/track"))
        return " ".join(lines) if report.language == "en" else "".join(lines)

    return in_reporters_language(report, build)


def register(session: Session, sub: Submission, services: IntakeServices) -> Receipt:
    """Register a report in the caller's transaction; the caller commits.

    A repeated (channel, source_ref) returns the existing report with `replayed=True`.
    Callers end their read transaction first (see `begin_write`).
    :raise RegistrationError: with a message for the sender; nothing is written.
    """
    # Everything that needs no database comes first, so the write lock (SQLite) and the
    # tracking counter are held only for the inserts.
    sub.source_ref = _identifier(sub.source_ref)
    text = _clean_text(sub, services)
    phone = normalise_phone(sub.phone)
    email = normalise_email(sub.email)
    plate = normalise_plate(sub.plate)
    latitude = _coordinate(sub.latitude, 90.0, "lat")
    longitude = _coordinate(sub.longitude, 180.0, "long")
    try:
        prepared = prepare(sub.attachments, max_files=services.max_files,
                           max_bytes=services.max_file_bytes)
    except UploadError as exc:
        raise RegistrationError(exc.args[0], "attachments") from None
    vault = services.vault
    name = clean_text(sub.name, multiline=False)[:64] or None
    anonymous = sub.anonymous and sub.channel is Channel.web
    if anonymous:
        name = phone = email = None
    reporter = None
    if not anonymous or phone or email or sub.sender_address:
        reporter = Reporter(
            name_enc=vault.encrypt(None if anonymous else name),
            phone_enc=vault.encrypt(phone), email_enc=vault.encrypt(email),
            id_number_enc=vault.encrypt(clean_text(sub.id_number, multiline=False)[:32] or None),
            address_enc=vault.encrypt(sub.sender_address),
            phone_hash=vault.keyed_hash(phone), email_hash=vault.keyed_hash(email))
    received_at = as_utc(sub.received_at) if sub.received_at else utcnow()
    code = new_receipt_code()
    report = Report(
        campaign_id=sub.campaign_id, tracking_no="", receipt_hash=hash_code(code),
        channel=sub.channel, source_ref=sub.source_ref, received_at=received_at,
        # Received and moved to triage in this one transaction (two events below): the
        # row is inserted in its final state, which saves an UPDATE.
        status=ReportStatus.triage, text=text,
        place_text=clean_text(sub.place_text, multiline=False)[:255],
        district=sub.district or None,
        occurred_text=clean_text(sub.occurred_text, multiline=False)[:64], plate=plate,
        latitude=latitude, longitude=longitude, is_anonymous=reporter is None or anonymous,
        language=sub.language[:8])
    if services.classify is not None:
        # The place field says where, as much as the text does.
        about = f"{report.place_text}\n{text}" if report.place_text else text
        _apply_classification(report, services.classify(about, sub.channel.value,
                                                        sub.campaign_id))

    begin_write(session)
    if sub.source_ref:
        existing = session.exec(select(Report).where(Report.channel == sub.channel,
                                                     Report.source_ref == sub.source_ref)).first()
        if existing is not None:
            if sub.channel is Channel.web:
                # The same form posted again: the browser shows only the last answer, so it
                # gets a new code (the unseen one stops working) for the same report.
                code = new_receipt_code()
                existing.receipt_hash = hash_code(code)
                session.add(existing)
                session.flush()
                return Receipt(existing, code, None, replayed=True)
            return Receipt(existing, None, _stored_ack(session, services.vault, existing),
                           replayed=True)
    campaign = _campaign(session, sub.campaign_id)
    if reporter is not None:
        session.add(reporter)
        session.flush()
        report.reporter_id = reporter.id
    report.tracking_no = next_tracking_no(session, campaign.id, campaign.tracking_prefix,
                                          received_at)
    # Before the insert, so the row goes in complete (no UPDATE for a duplicate).
    report.duplicate_of_id = _find_duplicate(session, report, reporter)
    session.add(report)
    session.flush()

    stored: list[StoredFile] = store(prepared, services.upload_dir) if prepared else []
    try:
        for item in stored:
            session.add(Attachment(report_id=report.id, stored_name=item.stored_name,
                                   original_name=item.original_name,
                                   content_type=item.content_type, size=item.size,
                                   sha256=item.sha256))
        session.add(Event(report_id=report.id, kind="received", public=True,
                          actor_id=sub.actor_id,
                          note=as_recorded(lambda: media_not_kept_note(sub.media_not_kept))
                          if sub.media_not_kept else "",
                          data={"channel": sub.channel.value,
                                "duplicate_of": report.duplicate_of_id,
                                "media_not_kept": sub.media_not_kept,
                                "media_pending": len(sub.media_sids)}))
        if sub.media_sids and sub.source_ref:
            queue_media(session, report, sub.source_ref, sub.media_sids)
        session.add(Event(report_id=report.id, kind="triage", public=False,
                          data={"confidence": report.confidence}))
        # A web sender saw the code on screen: their confirmation carries only the number.
        ack = acknowledgement_text(report, None if sub.channel is Channel.web else code,
                                   campaign, services.public_base_url)
        _queue_acknowledgement(session, vault, sub, report, ack, phone, email)
        session.flush()
        for hook in services.after_register:
            hook(session, report)
        session.flush()
    except BaseException:
        discard(stored)
        raise
    return Receipt(report, code, ack)


def register_and_commit(session: Session, sub: Submission, services: IntakeServices) -> Receipt:
    """`register` in a transaction of its own, committed. When a concurrent twin (same
    channel and source_ref: a retried webhook, a double-clicked form) committed first, the
    insert fails on the unique index and a second pass replays that report.
    :raise RegistrationError: nothing is written.
    """
    for attempt in (1, 2):
        try:
            session.commit()  # end the read transaction: registration starts as a writer
            receipt = register(session, sub, services)
            session.commit()
            return receipt
        except IntegrityError:
            session.rollback()
            if attempt == 2 or sub.source_ref is None:
                raise
        except BaseException:
            session.rollback()
            raise
    raise RuntimeError("unreachable")  # pragma: no cover


def _identifier(value: str | None) -> str | None:
    """A channel's message id, kept as sent but without control characters (NUL breaks SQL)."""
    cleaned = "".join(ch for ch in (value or "") if unicodedata.category(ch)[0] != "C")
    return cleaned.strip()[:255] or None


def _coordinate(value: float | None, bound: float, field: str) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = bound + 1
    if not -bound <= number <= bound or number != number:
        raise RegistrationError(_l("坐标不正确。"), field)
    return number


def _apply_classification(report: Report, result: dict) -> None:
    report.items = list(result.get("items") or [])
    report.category = result.get("category")
    report.kind = Kind(result["kind"]) if result.get("kind") in Kind.__members__ else None
    report.agency = result.get("agency")
    report.confidence = result.get("confidence")
    report.classification = result
    if not report.district and result.get("jurisdiction") in DISTRICTS:
        report.district = result["jurisdiction"]
    if not report.plate and result.get("plates"):
        report.plate = result["plates"][0]


def _queue_acknowledgement(session: Session, vault: PiiVault, sub: Submission, report: Report,
                           ack: str, phone: str | None, email: str | None) -> None:
    """SMS and e-mail senders get the code back on their channel; web senders saw it on screen."""
    subject = in_reporters_language(report, lambda: _("受理回执 %(no)s", no=report.tracking_no))
    if sub.channel is Channel.sms and (phone or sub.inline_ack):
        # Answered in the webhook's reply even when the sender is no phone number (a short
        # code, a name): the row is what a retried webhook is answered with again.
        message = queue_message(session, vault, channel=MessageChannel.sms,
                                recipient=phone or sub.sender_address or "-", body=ack,
                                purpose="ack", report_id=report.id,
                                dedupe_key=f"ack:{report.id}")
        if sub.inline_ack:
            message.status = MessageStatus.sent
            message.provider_id = "twiml-reply"
            message.sent_at = utcnow()
    elif sub.channel is Channel.email and email:
        queue_message(session, vault, channel=MessageChannel.email, recipient=email, body=ack,
                      subject=subject, purpose="ack", report_id=report.id,
                      dedupe_key=f"ack:{report.id}")
    elif sub.channel in (Channel.hotline, Channel.api) and phone:
        queue_message(session, vault, channel=MessageChannel.sms, recipient=phone, body=ack,
                      purpose="ack", report_id=report.id, dedupe_key=f"ack:{report.id}")
    elif sub.channel is Channel.web and (email or phone):
        channel, recipient = (MessageChannel.email, email) if email else (MessageChannel.sms, phone)
        queue_message(session, vault, channel=channel, recipient=recipient, body=ack,
                      subject=subject, purpose="ack", report_id=report.id,
                      dedupe_key=f"ack:{report.id}")


def _stored_ack(session: Session, vault: PiiVault, report: Report) -> str | None:
    message = session.exec(select(Message).where(Message.report_id == report.id,
                                                 Message.purpose == "ack")).first()
    return vault.decrypt(message.body_enc) if message else None
