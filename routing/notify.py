"""Messages the lifecycle implies, queued in the outbox of the caller's transaction.

Units get a link to the clue and never any reporter PII; citizens hear back on the
channel they used (web reporters with no contact read the tracker).
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlmodel import Session

from intake.language import in_reporters_language
from intake.models import Channel, Report, Reporter
from intake.outbox import MessageChannel, queue_message
from intake.registration import IntakeServices
from routing.models import Unit


def clue_link(services: IntakeServices, report: Report) -> str:
    return f"{services.public_base_url.rstrip('/')}/unit/clues/{report.id}"


def notify_unit(session: Session, services: IntakeServices, unit: Unit, report: Report, *,
                purpose: str, text: str, dedupe: str | None = None) -> None:
    body = f"{text}（受理编号 {report.tracking_no}）请登录查看：{clue_link(services, report)}"
    subject = f"【专项整治】{text[:40]} {report.tracking_no}"
    for channel, address in ((MessageChannel.email, unit.email), (MessageChannel.sms, unit.phone)):
        if address:
            queue_message(session, services.vault, channel=channel, recipient=address, body=body,
                          subject=subject, purpose=purpose, report_id=report.id, unit_id=unit.id,
                          dedupe_key=f"{dedupe}:{channel.value}" if dedupe else None)


def notify_taskforce(session: Session, services: IntakeServices, report: Report, *,
                     purpose: str, text: str, dedupe: str | None = None) -> None:
    if not services.taskforce_email:
        return
    link = f"{services.public_base_url.rstrip('/')}/taskforce/reports/{report.id}"
    queue_message(session, services.vault, channel=MessageChannel.email,
                  recipient=services.taskforce_email, subject=f"【专班】{text[:40]}",
                  body=f"{text}（受理编号 {report.tracking_no}）{link}", purpose=purpose,
                  report_id=report.id, dedupe_key=dedupe)


def notify_citizen(session: Session, services: IntakeServices, report: Report, *,
                   purpose: str, text: str) -> bool:
    """Tell the reporter on their own channel; False when there is no way to reach them."""
    if report.reporter_id is None:
        return False
    reporter = session.get(Reporter, report.reporter_id)
    vault = services.vault
    phone, email = vault.decrypt(reporter.phone_enc), vault.decrypt(reporter.email_enc)
    prefer_email = report.channel is Channel.email or (report.channel is Channel.web and email)
    if prefer_email and email:
        channel, recipient = MessageChannel.email, email
    elif phone:
        channel, recipient = MessageChannel.sms, phone
    elif email:
        channel, recipient = MessageChannel.email, email
    else:
        return False
    queue_message(session, vault, channel=channel, recipient=recipient,
                  subject=in_reporters_language(report, lambda: _("办理结果 %(no)s",
                                                                   no=report.tracking_no)),
                  body=text, purpose=purpose,
                  report_id=report.id)
    return True
