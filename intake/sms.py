"""The SMS channel: Twilio's inbound-message webhook, answered in TwiML.

`POST /sms/inbound` checks `X-Twilio-Signature` against PUBLIC_BASE_URL + path (the URL
Twilio called, which a proxy hides from us), then either runs a command (查询 / TRACK,
满意 / SATISFIED ..., see intake.commands) or registers the text as a report, and answers
in the language the message was written in. A retried webhook (same MessageSid) creates
nothing new and gets the same reply. The blueprint is exempt from CSRF (Twilio cannot send a
token; the signature is the check) and is rate-limited per client and per sender.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets

from flask import Blueprint, Response, abort, current_app, request
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError, OperationalError
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)
from twilio.twiml.messaging_response import MessagingResponse

from intake.commands import Command, parse_sms, written_language
from intake.language import in_language
from intake.mms import media_count, media_pending_note, media_sids
from intake.models import Channel
from intake.registration import (
    RegistrationError,
    Submission,
    normalise_phone,
    register_and_commit,
)
from intake.services import current_services
from intake.tracking import find_for_tracker, public_view
from notices.campaigns import campaign_for_number
from notices.db import get_session
from notices.ratelimit import limiter
from notices.timeutil import utcnow

log = logging.getLogger(__name__)
bp = Blueprint("sms", __name__)


_SENDER_KEY = secrets.token_bytes(32)


def _sender_key() -> str:
    """Rate-limit bucket per sending number: an HMAC with a per-process key, never the number."""
    sender = (request.form.get("From") or "").strip()
    return "sms:" + hmac.new(_SENDER_KEY, sender.encode(), hashlib.sha256).hexdigest()[:32]


def _signed_request_only(response: Response) -> bool:
    # Forged requests (403) must not use up a real sender's allowance.
    return response.status_code != 403


def _twiml(text: str | None) -> Response:
    reply = MessagingResponse()
    if text:
        reply.message(text)
    return Response(str(reply), mimetype="application/xml")


def _signature_ok() -> bool:
    token = current_app.config.get("TWILIO_AUTH_TOKEN")
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not token:
        log.warning("SMS webhook refused: TWILIO_AUTH_TOKEN is not configured")
        return False
    if not signature:
        return False
    url = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + request.path
    if request.query_string:
        url += "?" + request.query_string.decode("utf-8", "replace")
    algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
    return RequestValidator(token).validate(url, request.form, signature, algorithm)


def _normalised(body: str) -> str:
    return (body or "").replace("\u3000", " ").strip()


def help_text() -> str:
    return _("您好，这里是专项整治问题线索受理短信平台。直接发送问题描述即可反映（请写明时间、地点、"
             "车牌号和经过）；查询进度请发送“查询 受理编号 查询码”；评价办理结果请发送"
             "“满意/基本满意/不满意 受理编号”。")


def query_reply(tracking_no: str, code: str) -> str:
    db = get_session()
    report = find_for_tracker(db, tracking_no, code)
    if report is None:
        return _("受理编号或查询码不正确，请核对后重试。")
    view = public_view(db, report)
    text = _("受理编号 %(no)s：%(status)s。", no=view.tracking_no, status=view.status_label)
    if view.public_reply:
        reply = view.public_reply if len(view.public_reply) <= 300 \
            else view.public_reply[:300] + "……"
        text += _("办理答复：%(reply)s", reply=reply)
    return text


def rating_reply(tracking_no: str, rating: str, sender: str | None) -> str:
    services = current_services()
    if services.rate is None:
        return _("暂不能评价，请在办理结果答复后再回复评价。")
    db = get_session()
    try:
        db.commit()  # end the read transaction before a state change
        text = services.rate(db, tracking_no.upper(), rating, sender)
        db.commit()
    except (RegistrationError, ValueError, LookupError, PermissionError) as exc:
        db.rollback()
        message = getattr(exc, "message", None)
        return str(message) if message else _("暂不能评价该受理编号，请核对后重试。")
    except OperationalError:
        db.rollback()
        log.exception("SMS rating failed: database unavailable")
        return _("系统繁忙，您的评价尚未保存，请稍后重新发送。")
    return text


def _sender_phone(raw: str) -> str | None:
    try:
        return normalise_phone(raw)
    except RegistrationError:
        return None


@bp.post("/sms/inbound")
@limiter.limit("300/minute")
@limiter.limit("6/minute;30/hour;100/day", key_func=_sender_key, deduct_when=_signed_request_only)
def inbound() -> Response:
    if not _signature_ok():
        abort(403)
    form = request.form
    message_sid = (form.get("MessageSid") or form.get("SmsMessageSid") or "").strip()
    if not message_sid:
        abort(400)
    sender_raw = (form.get("From") or "").strip()
    sender = _sender_phone(sender_raw)
    body = _normalised(form.get("Body", ""))
    max_chars = current_services().max_chars

    if len(body) > max_chars:
        return _twiml(in_language(written_language(body), lambda: _(
            "内容过长（%(n)d 字），请精简到 %(limit)d 字以内后重新发送，本条未受理。",
            n=len(body), limit=max_chars)))
    media = media_count(form.get("NumMedia"))
    account = current_services().mms_account
    sids = media_sids(form, media, account_sid=account, message_sid=message_sid) \
        if account else []
    if media and not body:
        if sids:
            return _twiml(_("只有图片的彩信无法受理。请在彩信中写明问题发生的时间、地点和经过，"
                            "连同图片重新发送。"))
        return _twiml(_("彩信中的图片暂不能通过短信接收。请用文字描述问题后重新发送；图片可在网上"
                        "“我要举报”页面提交，或发送到受理邮箱。"))
    command = parse_sms(body)
    if command is not None:
        return _twiml(in_language(command.language, lambda: _answer(command, sender, sender_raw)))
    return _twiml(in_language(written_language(body),
                              lambda: _report(body, sender, sender_raw, message_sid, media, sids)))


def _answer(command: Command, sender: str | None, sender_raw: str) -> str:
    if command.kind == "query":
        return query_reply(command.tracking_no, command.code)
    if command.kind == "query_format":
        return _("查询格式：查询 受理编号 查询码，例如“查询 XNJT-20231201-0001 "
                 "ABCD-EFGH-JKMN-PQRS”。")
    if command.kind == "rating":
        return rating_reply(command.tracking_no, command.rating, sender or sender_raw or None)
    return help_text()


def _report(body: str, sender: str | None, sender_raw: str, message_sid: str,
            media: int, sids: list[str]) -> str:
    db = get_session()
    campaign = campaign_for_number(db, request.form.get("To"))
    if campaign is None or not campaign.is_active:
        return _("专项整治活动已结束，暂不受理短信反映。")
    submission = Submission(
        campaign_id=campaign.id, channel=Channel.sms, text=body, anonymous=False,
        phone=sender, sender_address=None if sender else (sender_raw[:64] or None),
        source_ref=message_sid[:255], received_at=utcnow(), inline_ack=True,
        language=written_language(body), media_not_kept=media - len(sids), media_sids=sids)
    try:
        receipt = register_and_commit(get_session(), submission, current_services())
    except RegistrationError as exc:
        return _("未受理：%(reason)s", reason=str(exc.message))
    except (OperationalError, IntegrityError):
        log.exception("SMS registration failed: database unavailable")
        return _("系统繁忙，您的反映尚未保存，请稍后重新发送。")
    if receipt.replayed:
        log.info("SMS webhook replayed for %s", receipt.tracking_no)
    ack = receipt.acknowledgement
    if not ack or ack == "[redacted]":
        ack = _("您反映的问题已受理，受理编号 %(no)s。", no=receipt.tracking_no)
    if sids:
        ack += media_pending_note(len(sids))
    if media > len(sids):
        ack += _("（彩信图片未能接收，如需补充请在网上“我要举报”页面或通过受理邮箱提交，并注明受理编号。）")
    return ack
