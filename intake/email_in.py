"""Inbound e-mail: a raw RFC 5322 message becomes a registered report.

Used by the SMTP receiver (intake/smtpd.py) and the pipe mode (`intake import-eml`).
Parsing uses the standard library only. Chinese mail is often labelled gb2312 while it
uses GBK characters, so gb2312/GBK labels decode as GB18030 (a superset) and Big5 as
Big5-HKSCS; headers are decoded from their raw form for the same reason. Auto-replies and
bounces are recognised and ignored, so the acknowledgement we send can never start a loop.
"""

from __future__ import annotations

import email
import email.errors
import email.header
import email.utils
import hashlib
import logging
import re
import unicodedata
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from html.parser import HTMLParser

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlmodel import Session

from intake.commands import rating_in_email, written_language
from intake.language import in_language
from intake.models import Channel
from intake.outbox import MessageChannel, queue_message
from intake.registration import IntakeServices, Receipt, RegistrationError, Submission, register
from intake.sanitize import clean_text
from intake.uploads import IncomingFile

log = logging.getLogger(__name__)

CHARSET_ALIASES = {
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030",
    "euc-cn": "gb18030", "csgb2312": "gb18030", "gb_2312-80": "gb18030", "x-euc-cn": "gb18030",
    "big5": "big5hkscs", "x-big5": "big5hkscs", "cn-big5": "big5hkscs", "csbig5": "big5hkscs",
    "cp950": "big5hkscs", "us-ascii": "utf-8", "ascii": "utf-8",
}
FALLBACK_CHARSETS = ("utf-8", "gb18030")
AUTO_PRECEDENCE = {"bulk", "junk", "list", "auto_reply"}
DAEMON_SENDERS = {"mailer-daemon", "postmaster"}
AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(自动回复|自动答复|自動回覆|auto(matic)?[ -]?repl(y|ied)|autoreply|"
    r"out of (the )?office|abwesenheitsnotiz)\s*[:：]", re.IGNORECASE)
# Parts that mail clients add by themselves; they are not evidence and are not refused.
SKIPPED_PARTS = {"application/pgp-signature", "application/pkcs7-signature",
                 "application/x-pkcs7-signature", "application/pgp-keys", "text/vcard",
                 "text/x-vcard", "text/calendar", "message/delivery-status",
                 "message/disposition-notification"}
MAX_SOURCE_REF = 255


@dataclass
class ParsedEmail:
    source_ref: str
    from_addr: str | None
    from_name: str | None
    subject: str
    body: str
    attachments: list[IncomingFile] = field(default_factory=list)
    ignored: str | None = None

    @property
    def text(self) -> str:
        if self.subject and not self.body.startswith(self.subject):
            return f"{self.subject}\n{self.body}".strip()
        return self.body


def _codec(charset: str | None) -> str | None:
    if not charset:
        return None
    name = charset.strip().strip('"').lower()
    return CHARSET_ALIASES.get(name, name)


def _looks_binary(text: str) -> bool:
    if "\x00" in text:
        return True
    controls = sum(1 for ch in text if ch not in "\r\n\t\f" and unicodedata.category(ch) == "Cc")
    return controls > max(3, len(text) // 20)


def decode_bytes(data: bytes, charset: str | None, *, strict: bool = True) -> str | None:
    """Decode with the declared charset, then UTF-8, then GB18030; None if it is not text.

    With `strict=False` (headers, file names) the declared charset is used with replacement
    characters as a last resort instead of giving up.
    """
    declared = _codec(charset)
    for codec in dict.fromkeys(c for c in (declared, *FALLBACK_CHARSETS) if c):
        try:
            text = data.decode(codec)
        except (LookupError, UnicodeDecodeError):
            continue
        return None if _looks_binary(text) else text
    if strict:
        return None
    try:
        return data.decode(declared or "utf-8", errors="replace")
    except LookupError:
        return data.decode("utf-8", errors="replace")


def decode_header_value(value: object) -> str:
    """A header's text from its raw form: RFC 2047 words and raw 8-bit bytes, any charset."""
    if value is None:
        return ""
    text = str(value).replace("\r\n", "").replace("\n", "")
    if any("\udc80" <= ch <= "\udcff" for ch in text):  # raw 8-bit bytes in the header
        text = decode_bytes(text.encode("ascii", "surrogateescape"), None, strict=False) or ""
    try:
        parts = email.header.decode_header(text)
    except (ValueError, email.errors.HeaderParseError):
        return text
    out = []
    for chunk, charset in parts:
        out.append(chunk if isinstance(chunk, str)
                   else decode_bytes(chunk, charset, strict=False) or "")
    return "".join(out)


class _TextExtractor(HTMLParser):
    """HTML to plain text: keeps the words, drops scripts, styles and every tag."""

    SKIP = {"script", "style", "head", "title", "template", "noscript", "svg", "object",
            "iframe", "math"}
    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote",
             "pre", "table", "section", "article", "header", "footer", "ul", "ol", "hr", "dd",
             "dt", "td", "th", "address"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        if tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    return clean_text("".join(parser.parts).replace("\xa0", " "))


def _raw_header(msg: EmailMessage, name: str) -> str | None:
    wanted = name.lower()
    for key, value in msg.raw_items():
        if key.lower() == wanted:
            return value
    return None


def _all_raw_headers(msg: EmailMessage, name: str) -> list[str]:
    wanted = name.lower()
    return [value for key, value in msg.raw_items() if key.lower() == wanted]


def _address(raw: str | None) -> tuple[str | None, str | None]:
    if not raw:
        return None, None
    pairs = email.utils.getaddresses([raw.replace("\r\n", "").replace("\n", "")])
    for name, addr in pairs:
        if addr and "@" in addr:
            return decode_header_value(name).strip() or None, addr.strip()
    return None, None


def _local_part(addr: str | None) -> str:
    return (addr or "").strip().strip("<>").partition("@")[0].lower()


def ignore_reason(msg: EmailMessage) -> str | None:
    """Why this message is an automatic one we must not answer (RFC 3834, RFC 3464)."""
    auto = _raw_header(msg, "Auto-Submitted")
    if auto is not None and auto.split(";")[0].strip().lower() != "no":
        return "auto-submitted"
    for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Failed-Recipients"):
        if _raw_header(msg, name) is not None:
            return name.lower()
    precedence = (_raw_header(msg, "Precedence") or "").strip().lower()
    if precedence in AUTO_PRECEDENCE:
        return f"precedence {precedence}"
    if msg.get_content_type() == "multipart/report":
        return "delivery or read report"
    for path in _all_raw_headers(msg, "Return-Path"):
        stripped = path.strip()
        if stripped in ("<>", "") or stripped.replace(" ", "") == "<>":
            return "null return path"
        if _local_part(email.utils.parseaddr(stripped)[1]) in DAEMON_SENDERS:
            return "daemon return path"
    _, sender = _address(_raw_header(msg, "From"))
    if _local_part(sender) in DAEMON_SENDERS:
        return "daemon sender"
    # Out-of-office replies of clients that set none of the headers above (QQ 邮箱,
    # Foxmail, older Outlook) say so in the subject.
    subject = decode_header_value(_raw_header(msg, "Subject")).strip()
    if AUTO_REPLY_SUBJECT.match(subject):
        return "auto-reply subject"
    return None


def _source_ref(msg: EmailMessage, raw: bytes) -> str:
    message_id = decode_header_value(_raw_header(msg, "Message-ID")).strip()
    if not message_id:
        return "sha256:" + hashlib.sha256(raw).hexdigest()
    if len(message_id) > MAX_SOURCE_REF:
        return "sha256:" + hashlib.sha256(message_id.encode("utf-8", "replace")).hexdigest()
    return message_id


def _part_text(part: EmailMessage) -> str | None:
    payload = part.get_payload(decode=True)
    if payload is None:
        return ""
    if not isinstance(payload, bytes):
        payload = str(payload).encode("utf-8", "surrogateescape")
    text = decode_bytes(payload, part.get_content_charset())
    if text is None:
        return None
    if part.get_content_type() == "text/html":
        return html_to_text(text)
    return clean_text(text)


def _filename(part: EmailMessage) -> str:
    try:
        name = part.get_filename() or part.get_param("name") or ""
    except (ValueError, email.errors.HeaderParseError):
        name = ""
    if isinstance(name, tuple):  # RFC 2231 (charset, language, value) left undecoded
        name = email.utils.collapse_rfc2231_value(name)
    name = str(name)
    if "=?" in name:
        name = decode_header_value(name)
    return clean_text(name, multiline=False)[:120]


def parse_email(raw: bytes) -> ParsedEmail:
    """Parse a raw message. :raise RegistrationError: not a usable message."""
    if not raw or not raw.strip():
        raise RegistrationError(_l("邮件为空。"), "text")
    try:
        msg = email.message_from_bytes(raw, policy=policy.default)
    except (ValueError, TypeError, IndexError, email.errors.MessageError):
        raise RegistrationError(_l("邮件格式错误，无法解析。"), "text") from None
    if not isinstance(msg, EmailMessage) or not msg.keys():
        raise RegistrationError(_l("邮件格式错误，无法解析。"), "text")

    source_ref = _source_ref(msg, raw)
    from_name, from_addr = _address(_raw_header(msg, "From"))
    subject = clean_text(decode_header_value(_raw_header(msg, "Subject")), multiline=False)
    ignored = ignore_reason(msg)
    if ignored:
        return ParsedEmail(source_ref, from_addr, from_name, subject, "", [], ignored)

    body_part = msg.get_body(preferencelist=("plain", "html"))
    body = ""
    undecodable = False
    if body_part is not None:
        text = _part_text(body_part)
        if text is None:
            undecodable = True
        else:
            body = text
        if not body and body_part.get_content_type() == "text/plain":
            html_part = msg.get_body(preferencelist=("html",))
            if html_part is not None:
                body = _part_text(html_part) or ""
    if undecodable and not body:
        raise RegistrationError(_l("邮件正文无法识别（不是文字或编码错误），请用文字描述问题。"), "text")

    attachments: list[IncomingFile] = []
    for part in msg.walk():
        if part.is_multipart() or part is body_part:
            continue
        content_type = part.get_content_type()
        disposition = part.get_content_disposition()
        if content_type.startswith("message/") or content_type in SKIPPED_PARTS:
            continue
        if content_type in ("text/plain", "text/html") and disposition != "attachment":
            continue  # the other alternative of the body, or a forwarded message's text
        data = part.get_payload(decode=True)
        if not isinstance(data, bytes) or not data:
            continue
        attachments.append(IncomingFile(_filename(part) or "attachment", data))
    return ParsedEmail(source_ref, from_addr, from_name, subject, body, attachments)


def ingest_email(session: Session, raw: bytes, services: IntakeServices,
                 campaign_id: int) -> Receipt | None:
    """Register one inbound e-mail in the caller's transaction (the caller commits).

    Returns None for auto-replies and bounces (nothing stored, nothing answered), a
    `Receipt` with `replayed=True` for a Message-ID seen before (no second report, no
    second acknowledgement).
    :raise RegistrationError: with a message for the sender; nothing is written.
    """
    limit = (services.max_files + 1) * services.max_file_bytes * 4 // 3 + 1024 * 1024
    if len(raw) > limit:
        raise RegistrationError(_l("邮件过大（含附件不超过 %(mb)d MB）。",
                                   mb=limit // (1024 * 1024)), "attachments")
    parsed = parse_email(raw)
    if parsed.ignored:
        log.info("inbound e-mail ignored: %s", parsed.ignored)
        return None
    if not parsed.from_addr:
        raise RegistrationError(_l("无法识别发件人地址，请使用有效的电子邮箱发送。"), "email")
    command = rating_in_email(parsed.text or "")
    if command and services.rate is not None:
        rate = services.rate
        reply = in_language(command.language, lambda: rate(
            session, command.tracking_no, command.rating, parsed.from_addr))
        subject = in_language(command.language, lambda: _("评价回执 %(no)s",
                                                          no=command.tracking_no))
        queue_message(session, services.vault, channel=MessageChannel.email,
                      recipient=parsed.from_addr, subject=subject, body=reply,
                      purpose="rating_reply")
        return None
    submission = Submission(
        campaign_id=campaign_id, channel=Channel.email, text=parsed.text,
        anonymous=False, name=parsed.from_name, email=parsed.from_addr,
        source_ref=parsed.source_ref, attachments=parsed.attachments,
        language=written_language(parsed.text or ""))
    return register(session, submission, services)
