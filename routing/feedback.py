"""Citizen ratings arriving by SMS or e-mail; replies are in the caller's locale (the
language the citizen wrote the rating in)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from flask_babel import gettext as _
from sqlmodel import Session, select

from intake.models import Report, Reporter
from intake.registration import IntakeServices, normalise_phone
from notices.db import begin_write
from notices.timeutil import as_utc, utcnow
from routing.forms import RATING_LABELS
from routing.models import Feedback, Rating
from routing.transitions import TransitionError, rate


def rate_by_message(services: IntakeServices) -> Callable[[Session, str, str, str | None], str]:
    """`rate(session, tracking_no, rating, sender) -> reply` for the SMS and e-mail channels.

    Only the phone number or e-mail address that filed the report may rate it. Runs in
    the caller's transaction; the caller commits.
    """

    def rate_message(session: Session, tracking_no: str, rating: str, sender: str | None) -> str:
        begin_write(session)
        report = session.exec(select(Report).where(
            Report.tracking_no == (tracking_no or "").strip().upper())).first()
        reporter = session.get(Reporter, report.reporter_id) if report and report.reporter_id \
            else None
        by_email = bool(sender and "@" in sender)
        if by_email:
            address = (sender or "").strip().lower()
            matches = reporter is not None and reporter.email_hash == services.vault.keyed_hash(
                address)
        else:
            try:
                phone = normalise_phone(sender)
            except ValueError:
                phone = None
            matches = reporter is not None and phone is not None and \
                reporter.phone_hash == services.vault.keyed_hash(phone)
        if not matches:
            return _("未找到您可评价的受理编号，请核对后重试。")
        channel = "email" if by_email else "sms"
        last = session.exec(select(Feedback).where(Feedback.report_id == report.id)
                            .order_by(Feedback.id.desc())).first()
        if last is not None and last.rating.value == rating and last.channel == channel \
                and utcnow() - as_utc(last.at) < REPEAT_WINDOW:
            return _confirmation(report, rating)  # a retried message: same answer, no new rating
        try:
            with session.begin_nested():  # a refused rating leaves the caller's work intact
                rate(session, services, report.id, rating, channel=channel)
        except TransitionError as exc:
            return _("评价未成功：%(reason)s", reason=str(exc.message))
        return _confirmation(report, rating)

    return rate_message


REPEAT_WINDOW = timedelta(hours=1)


def _confirmation(report: Report, rating: str) -> str:
    label = str(RATING_LABELS[Rating(rating)])
    if report.status.value == "reopened":
        return _("已收到您的评价（%(rating)s），受理编号 %(no)s 将重新办理。",
                 rating=label, no=report.tracking_no)
    return _("已收到您的评价（%(rating)s），感谢您对专项整治工作的支持。", rating=label)
