"""The inbound SMTP receiver (aiosmtpd): every accepted message is a registered report.

Each message is handled in a worker thread (registration hashes the receipt code with
scrypt and talks to the database), inside an app context, and committed before the
receiver answers 250: a message the sending server was told we took is in the database.
Bad messages get a 5xx reply with a reason (the sender's server turns it into a bounce);
a database outage gets 451 so the sender's server tries again later. Nothing a client
sends can stop the server.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.controller import Controller
from flask import Flask
from flask_babel import force_locale
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlmodel import Session

from intake.email_in import ingest_email
from intake.registration import RegistrationError
from notices.campaigns import campaign_for_message

log = logging.getLogger(__name__)

# ASCII reasons for SMTP replies (a sender without SMTPUTF8 cannot take Chinese text).
_REASONS = {
    "text": "550 5.6.0 Message refused: the text is empty, not readable as text, or longer "
            "than {limit} characters",
    "attachments": "550 5.3.4 Message refused: attachments must be photos, videos or PDF, "
                   "at most {files} files of {mb} MB each",
    "email": "550 5.1.7 Message refused: the sender address is not valid",
    "campaign": "554 5.7.1 Message refused: the campaign is not accepting reports",
}


def _temporary(reason: str) -> str:
    return f"451 4.3.0 {reason}, please try again later"


class IntakeHandler:
    """aiosmtpd handler: DATA -> ingest_email -> commit."""

    def __init__(self, app: Flask, *, campaign_slug: str | None = None) -> None:
        self.app = app
        self.campaign_slug = campaign_slug

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(None, self.process, envelope.mail_from,
                                              envelope.original_content or b"",
                                              bool(getattr(envelope, "smtp_utf8", False)),
                                              list(envelope.rcpt_tos or []))
        except Exception:  # never let one message take the server down
            log.exception("inbound e-mail: unexpected failure")
            return "554 5.3.0 Message could not be processed"

    def process(self, mail_from: str | None, content: bytes, utf8_reply: bool = False,
                recipients: list[str] | None = None) -> str:
        """Register one message against the campaign it was addressed to (its published
        address among the recipients, else this receiver's campaign, else the default);
        returns the SMTP reply line."""
        raw = content
        if mail_from is not None and not content.lstrip().lower().startswith(b"return-path:"):
            # What a final-delivery MTA does; lets bounces (MAIL FROM:<>) be recognised.
            envelope_from = mail_from.replace("\r", "").replace("\n", "").strip().strip("<>")
            raw = f"Return-Path: <{envelope_from}>\r\n".encode("utf-8", "replace") + content
        # A request context (not only an app context): translated messages and url_for in
        # registration hooks need one, as they do in the web channel.
        with self.app.test_request_context(base_url=self.app.config["PUBLIC_BASE_URL"]):
            engine = self.app.extensions["engine"]
            services = self.app.extensions["intake"]
            for attempt in (1, 2):
                with Session(engine, expire_on_commit=False) as db:
                    try:
                        campaign = campaign_for_message(db, recipients or [], self.campaign_slug)
                        if campaign is None or not campaign.is_active:
                            return _REASONS["campaign"]
                        campaign_id = campaign.id
                        db.commit()  # end the read transaction: registration writes
                        receipt = ingest_email(db, raw, services, campaign_id)
                        db.commit()
                    except RegistrationError as exc:
                        db.rollback()
                        return self._refusal(exc, utf8_reply)
                    except IntegrityError:
                        # The same Message-ID committed by a parallel delivery: the retry
                        # finds it and answers as a replay.
                        db.rollback()
                        if attempt == 2:
                            return _temporary("Conflict while saving")
                        continue
                    except (OperationalError, DBAPIError):
                        db.rollback()
                        log.exception("inbound e-mail: database unavailable")
                        return _temporary("Service busy, message not saved")
                if receipt is None:
                    return "250 2.0.0 OK: automatic message ignored"
                if receipt.replayed:
                    return "250 2.0.0 OK: already received"
                log.info("inbound e-mail registered as %s", receipt.tracking_no)
                return "250 2.0.0 OK: received"
        return _temporary("Service busy")  # pragma: no cover

    def _refusal(self, exc: RegistrationError, utf8_reply: bool) -> str:
        config = self.app.config
        template = _REASONS.get(exc.field or "text", _REASONS["text"])
        line = template.format(limit=config["MAX_REPORT_CHARS"],
                               files=config["MAX_ATTACHMENTS"],
                               mb=config["MAX_ATTACHMENT_BYTES"] // (1024 * 1024))
        if utf8_reply:
            with force_locale("zh_Hans_CN"):
                chinese = str(exc.message).replace("\r", " ").replace("\n", " ")
            line = f"{line} / {chinese}"
        log.info("inbound e-mail refused: %s", exc.field or "text")
        return line


class IntakeController(Controller):
    """aiosmtpd's threaded Controller, also on port 0 (a free port, for tests)."""

    def _trigger_server(self) -> None:
        if self.port == 0 and self.server is not None:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


def make_controller(app: Flask, host: str = "127.0.0.1", port: int = 2525,
                    handler: Any = None) -> IntakeController:
    """A receiver for `app` (not started); the size limit follows MAX_CONTENT_LENGTH."""
    return IntakeController(handler or IntakeHandler(app), hostname=host, port=port,
                            data_size_limit=int(app.config["MAX_CONTENT_LENGTH"]),
                            server_hostname=app.config.get("SMTPD_HOSTNAME") or None,
                            enable_SMTPUTF8=True)
