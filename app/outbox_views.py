"""The task force's view of the outbox: what is queued, what failed, and a retry button."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlmodel import func, select

from app.worker import REDACTED
from intake.models import Report
from intake.outbox import Message, MessageStatus
from intake.services import current_services
from notices.access import staff_required
from notices.campaigns import in_scope, scope_clause
from notices.db import begin_write, get_session
from notices.timeutil import utcnow
from routing.forms import ActionForm

bp = Blueprint("outbox", __name__)


@bp.route("/taskforce/messages")
@staff_required("taskforce", "admin")
def index():
    session = get_session()
    counts = dict(session.exec(
        select(Message.status, func.count()).outerjoin(Report, Report.id == Message.report_id)
        .where(scope_clause(Report.campaign_id)).group_by(Message.status)).all())
    failed = session.exec(select(Message, Report).outerjoin(Report, Report.id == Message.report_id)
                          .where(Message.status == MessageStatus.failed,
                                 scope_clause(Report.campaign_id))
                          .order_by(Message.created_at.desc()).limit(200)).all()
    return render_template("outbox/index.html", counts=counts, failed=failed, form=ActionForm())


@bp.post("/taskforce/messages/<int:message_id>/retry")
@staff_required("taskforce", "admin")
def retry(message_id: int):
    if ActionForm().validate_on_submit():
        session = get_session()
        session.commit()
        begin_write(session)
        message = session.get(Message, message_id)
        report = session.get(Report, message.report_id) if message and message.report_id \
            else None
        if message is not None and not in_scope(report.campaign_id if report else None):
            session.rollback()
            abort(404)
        if message is not None and message.status is MessageStatus.failed \
                and current_services().vault.decrypt(message.body_enc) == REDACTED:
            session.rollback()
            flash(_("这条回执的内容（含查询码）已按规定删除，不能重发；请电话告知群众受理编号。"),
                  "error")
        elif message is not None and message.status is MessageStatus.failed:
            message.status, message.attempts, message.next_attempt_at = (
                MessageStatus.queued, 0, utcnow())
            session.commit()
            flash(_("已重新排队发送。"), "success")
    return redirect(url_for("outbox.index"))
