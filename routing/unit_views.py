"""The unit workspace: its inbox and clue pages. A unit never sees who reported."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlmodel import select

from intake.models import Attachment, Report, Reporter
from intake.pii import mask_phone
from intake.services import current_services
from intake.tracking import merged_into
from intake.uploads import IncomingFile
from notices.access import current_staff, staff_required
from notices.db import get_session
from notices.timeutil import utcnow
from routing import deadlines, transitions
from routing.deadlines import assignment_due
from routing.forms import (
    FINDING_LABELS,
    REVIEW_LABELS,
    ActionForm,
    ExtensionForm,
    ReasonForm,
    ReplyForm,
)
from routing.models import Assignment, Reply, Unit
from routing.overdue import is_overdue
from routing.scope import UNIT_EVENTS, unit_assignment
from routing.web import (
    EVENT_LABELS,
    STATUS_LABELS,
    checklist_texts,
    flash_errors,
    history,
    run,
    unit_text,
)

bp = Blueprint("unit", __name__, template_folder="templates")


# The states in which the clue page offers the reply form.
REPLYABLE = transitions.MOVES["reply"].sources


def _own_assignment(report_id: int) -> tuple[Report, Assignment]:
    """The report and this unit's latest assignment of it. :raise 404/403:"""
    staff = current_staff()
    session = get_session()
    report = session.get(Report, report_id)
    if report is None:
        abort(404)
    assignment = unit_assignment(session, report_id, staff.unit_id)
    if assignment is None:
        abort(403)
    return report, assignment


@bp.route("/unit")
@staff_required("unit")
def inbox():
    staff = current_staff()
    session = get_session()
    rows = session.exec(select(Report, Assignment).join(
        Assignment, Assignment.report_id == Report.id)
        .where(Assignment.unit_id == staff.unit_id, Assignment.is_current == True)  # noqa: E712
        .order_by(Assignment.reply_due_at)).all()
    calendar = deadlines.work_calendar(session)
    vault = current_services().vault
    now = utcnow()
    entries = []
    for report, assignment in rows:
        _kind, due = assignment_due(report.status, assignment)
        open_ = report.status in transitions.WITH_UNIT
        left = calendar.working_days_between(now, due) if now < due else \
            -calendar.overdue_working_days(due, now)
        entries.append({"report": report, "assignment": assignment, "due": due,
                        "text": unit_text(session, report, vault)[:60],
                        "left": left, "overdue": is_overdue(report.status, assignment, now),
                        "open": open_,
                        "status": STATUS_LABELS.get(report.status.value, report.status.value)})
    entries.sort(key=lambda e: (not e["open"], e["due"]))
    unit = session.get(Unit, staff.unit_id)
    return render_template("routing/unit_inbox.html", entries=entries, unit=unit,
                           warning=calendar.warning_for(now.date()))


@bp.route("/unit/clues/<int:report_id>")
@staff_required("unit")
def clue(report_id: int):
    report, assignment = _own_assignment(report_id)
    return _clue_page(report, assignment)


def _clue_page(report: Report, assignment: Assignment, reply_form: ReplyForm | None = None):
    """The clue as the unit sees it; `reply_form` is a refused reply shown as submitted."""
    session = get_session()
    # The evidence of reports merged into this one is the unit's to see too.
    evidence = [report.id, *(r.id for r in merged_into(session, report.id))]
    attachments = session.exec(select(Attachment).where(Attachment.report_id.in_(evidence))
                               .order_by(Attachment.id)).all()
    replies = session.exec(select(Reply).where(Reply.assignment_id == assignment.id)
                           .order_by(Reply.id)).all()
    callback = None
    if report.callback_shared and report.reporter_id:
        reporter = session.get(Reporter, report.reporter_id)
        callback = mask_phone(current_services().vault.decrypt(reporter.phone_enc))
    events = [e for e in history(session, report) if e.kind in UNIT_EVENTS]
    return render_template(
        "routing/unit_clue.html", report=report, assignment=assignment, neutral_names=True,
        text=unit_text(session, report, current_services().vault),
        is_current=assignment.is_current, attachments=attachments, replies=replies,
        events=events, labels=EVENT_LABELS, callback=callback,
        status=STATUS_LABELS.get(report.status.value, report.status.value),
        finding_labels=FINDING_LABELS, review_labels=REVIEW_LABELS,
        items=checklist_texts(session, report.campaign_id),
        action_form=ActionForm(), return_form=ReasonForm(prefix="ret"),
        extension_form=ExtensionForm(prefix="ext"),
        reply_form=reply_form or ReplyForm(prefix="rep", formdata=None))


@bp.post("/unit/clues/<int:report_id>/acknowledge")
@staff_required("unit")
def acknowledge(report_id: int):
    _own_assignment(report_id)
    if ActionForm().validate_on_submit():
        run(transitions.acknowledge, report_id, current_staff(), success=_("已签收。"))
    return redirect(url_for("unit.clue", report_id=report_id))


@bp.post("/unit/clues/<int:report_id>/return")
@staff_required("unit")
def return_(report_id: int):
    _own_assignment(report_id)
    form = ReasonForm(prefix="ret")
    if form.validate_on_submit():
        if run(transitions.return_, report_id, current_staff(), reason=form.reason.data,
               success=_("已退回专班。")):
            return redirect(url_for("unit.inbox"))
    else:
        flash_errors(form)
    return redirect(url_for("unit.clue", report_id=report_id))


@bp.post("/unit/clues/<int:report_id>/extension")
@staff_required("unit")
def extension(report_id: int):
    _own_assignment(report_id)
    form = ExtensionForm(prefix="ext")
    if form.validate_on_submit():
        run(transitions.request_extension, report_id, current_staff(), days=form.days.data,
            reason=form.reason.data, success=_("延期申请已提交专班审批。"))
    else:
        flash_errors(form)
    return redirect(url_for("unit.clue", report_id=report_id))


@bp.post("/unit/clues/<int:report_id>/reply")
@staff_required("unit")
def reply(report_id: int):
    """A reply with a field left out shows the page again (400) with what was written and
    each message beside its field; a move the workflow refuses is flashed as before."""
    report, assignment = _own_assignment(report_id)
    form = ReplyForm(prefix="rep")
    if form.validate_on_submit():
        files = [IncomingFile(f.filename or "", f.read()) for f in form.attachments.data or []
                 if f and f.filename]
        run(transitions.reply, report_id, current_staff(), finding=form.finding.data,
            measures=form.measures.data, accountability=form.accountability.data or "",
            public_text=form.public_text.data, attachments=files,
            success=_("办结回复已提交专班审核。"))
    elif report.status not in REPLYABLE or not assignment.is_current:
        flash_errors(form)  # a stale page: there is no reply form to show them on
    else:
        flash(_("办结回复未提交：请按表单中的提示修改后重新提交。"), "error")
        return _clue_page(report, assignment, reply_form=form), 400
    return redirect(url_for("unit.clue", report_id=report_id))
