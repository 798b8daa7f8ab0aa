"""The task force's desks: triage, review, extension decisions, the full report page."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlmodel import select

from intake.models import Attachment, Event, Kind, Report, Reporter
from intake.models import ReportStatus as S
from intake.pii import mask_email, mask_name, mask_phone
from intake.services import current_services
from notices.access import current_staff, staff_required
from notices.campaigns import scope_clause
from notices.db import begin_write, get_session
from notices.timeutil import utcnow
from routing import transitions
from routing.dispatch import decide
from routing.forms import ActionForm, RatingForm, RevealForm, ReviewForm, TriageForm
from routing.models import Assignment, Escalation, Reply, ReviewStatus, Unit, UnitKind
from routing.web import (
    EVENT_LABELS,
    STATUS_LABELS,
    checklist_texts,
    flash_errors,
    history,
    run,
    scoped_report_or_404,
)

bp = Blueprint("desk", __name__, template_folder="templates")
DESK = ("taskforce", "admin")


def _unit_choices() -> list[tuple[int, str]]:
    units = get_session().exec(select(Unit).where(Unit.is_active == True)  # noqa: E712
                               .order_by(Unit.kind, Unit.id)).all()
    return [(u.id, u.name) for u in units]


@bp.route("/taskforce/triage")
@staff_required(*DESK)
def triage():
    session = get_session()
    reports = session.exec(select(Report).where(Report.status.in_(transitions.INTAKE),
                                                scope_clause(Report.campaign_id))
                           .order_by(Report.received_at)).all()
    units = dict(_unit_choices())
    name_to_id = {v: k for k, v in units.items()}
    entries = []
    for report in reports:
        decision = decide(session, report)
        form = TriageForm(prefix=f"r{report.id}", formdata=None)
        form.unit_id.choices = list(units.items())
        form.items.data = ",".join(str(n) for n in report.items or [])
        form.kind.data = report.kind.value if report.kind else "complaint"
        form.district.data = report.district or ""
        suggested = name_to_id.get(decision.unit)
        if suggested:
            form.unit_id.data = suggested
            form.action.data = decision.action if decision.action != "triage" else "dispatch"
        reason = session.exec(select(Event.note).where(Event.report_id == report.id,
                                                       Event.kind == "triage_reason")
                              .order_by(Event.id.desc())).first()
        duplicate = session.get(Report, report.duplicate_of_id) if report.duplicate_of_id \
            else None
        if duplicate:
            form.merge_into.data = duplicate.tracking_no
        entries.append({"report": report, "form": form, "reason": reason or decision.reason,
                        "duplicate": duplicate})
    return render_template("routing/triage.html", entries=entries, status_labels=STATUS_LABELS)


@bp.post("/taskforce/triage/<int:report_id>")
@staff_required(*DESK)
def triage_decide(report_id: int):
    """Confirm or correct the classification and dispatch, refer, refuse or merge, in one step."""
    report = scoped_report_or_404(report_id)
    form = TriageForm(prefix=f"r{report_id}")
    form.unit_id.choices = _unit_choices()
    if not form.validate_on_submit():
        flash_errors(form)
        return redirect(url_for("desk.triage"))
    try:
        items = [int(x) for x in form.items.data.replace("，", ",").split(",") if x.strip()]
    except ValueError:
        items = None
    numbers = checklist_texts(get_session(), report.campaign_id)
    if items is None or any(n not in numbers for n in items):
        flash(_("清单条目须为1至%(last)d的数字，用逗号分隔。", last=max(numbers, default=0)),
              "error")
        return redirect(url_for("desk.triage"))
    staff = current_staff()
    action = form.action.data

    def decide_and_move(session, services, report_id, actor):
        begin_write(session)
        row = session.get(Report, report_id)
        row.items = items
        row.kind = Kind(form.kind.data)
        row.district = form.district.data or None
        row.classification_confirmed = True
        session.add(Event(report_id=row.id, kind="classification_confirmed", actor_id=actor.id,
                          data={"items": items, "kind": form.kind.data,
                                "district": row.district, "unit_id": form.unit_id.data}))
        if action == "dispatch":
            transitions.dispatch(session, services, report_id, form.unit_id.data, actor,
                                 note=form.note.data or "")
        elif action == "refer":
            transitions.refer(session, services, report_id, actor, unit_id=form.unit_id.data,
                              note=form.note.data or "")
        elif action == "not_accept":
            transitions.not_accept(session, services, report_id, actor,
                                   reason=form.note.data or "")
        else:
            transitions.merge(session, services, report_id, form.merge_into.data or "", actor)

    run(decide_and_move, report_id, staff, success=_("已处理线索 %(no)s。", no=report.tracking_no))
    return redirect(url_for("desk.triage"))


@bp.route("/taskforce/review")
@staff_required(*DESK)
def review_queue():
    session = get_session()
    rows = session.exec(select(Reply, Report, Assignment, Unit)
                        .join(Report, Report.id == Reply.report_id)
                        .join(Assignment, Assignment.id == Reply.assignment_id)
                        .join(Unit, Unit.id == Assignment.unit_id)
                        .where(Reply.review_status == ReviewStatus.pending,
                               Report.status == S.replied, scope_clause(Report.campaign_id))
                        .order_by(Reply.created_at)).all()
    extensions = session.exec(select(Assignment, Report, Unit)
                              .join(Report, Report.id == Assignment.report_id)
                              .join(Unit, Unit.id == Assignment.unit_id)
                              .where(Assignment.is_current == True,  # noqa: E712
                                     Assignment.extension_requested_at.is_not(None),
                                     Assignment.extension_decision.is_(None),
                                     scope_clause(Report.campaign_id))).all()
    return render_template("routing/review.html", rows=rows, extensions=extensions,
                           form=ReviewForm(), action_form=ActionForm())


@bp.post("/taskforce/review/<int:report_id>")
@staff_required(*DESK)
def review(report_id: int):
    scoped_report_or_404(report_id)
    form = ReviewForm()
    if form.validate_on_submit():
        approve = form.decision.data == "approve"
        run(transitions.review, report_id, current_staff(), approve=approve,
            note=form.note.data or "",
            success=_("已审核通过，已通知群众。") if approve else _("已退回责任单位修改。"))
    return redirect(url_for("desk.review_queue"))


@bp.post("/taskforce/extension/<int:report_id>")
@staff_required(*DESK)
def extension(report_id: int):
    scoped_report_or_404(report_id)
    form = ReviewForm()
    if form.validate_on_submit():
        run(transitions.decide_extension, report_id, current_staff(),
            approve=form.decision.data == "approve", note=form.note.data or "",
            success=_("已处理延期申请。"))
    return redirect(url_for("desk.review_queue"))


@bp.route("/taskforce/reports/<int:report_id>", methods=["GET", "POST"])
@staff_required(*DESK)
def report(report_id: int):
    """Everything about one report; reporter PII masked unless revealed (audited)."""
    session = get_session()
    report = scoped_report_or_404(report_id)
    reveal_form = RevealForm(prefix="reveal")
    revealed = False
    if reveal_form.validate_on_submit():
        session.add(Event(report_id=report.id, kind="pii_revealed",
                          actor_id=current_staff().id, note=reveal_form.reason.data[:200]))
        session.commit()
        revealed = True
    reporter = session.get(Reporter, report.reporter_id) if report.reporter_id else None
    contact = None
    if reporter is not None:
        vault = current_services().vault
        name, phone = vault.decrypt(reporter.name_enc), vault.decrypt(reporter.phone_enc)
        email = vault.decrypt(reporter.email_enc)
        contact = {"name": name if revealed else mask_name(name),
                   "phone": phone if revealed else mask_phone(phone),
                   "email": email if revealed else mask_email(email),
                   "erased": reporter.erased_at is not None}
    assignments = session.exec(select(Assignment, Unit).join(Unit, Unit.id == Assignment.unit_id)
                               .where(Assignment.report_id == report.id)
                               .order_by(Assignment.id)).all()
    events = history(session, report)
    # Photos a connected platform (Open311) links to: shown, never fetched.
    media_urls = [e.data["media_url"] for e in events
                  if e.kind == "open311_request" and (e.data or {}).get("media_url")]
    return render_template(
        "routing/report.html", report=report, contact=contact, revealed=revealed,
        reveal_form=reveal_form, assignments=assignments,
        replies=session.exec(select(Reply).where(Reply.report_id == report.id)).all(),
        escalations=session.exec(select(Escalation).where(Escalation.report_id == report.id)
                                 .order_by(Escalation.at)).all(),
        attachments=session.exec(select(Attachment).where(Attachment.report_id == report.id)).all(),
        events=events, labels=EVENT_LABELS, media_urls=media_urls,
        status=STATUS_LABELS.get(report.status.value, report.status.value),
        items=checklist_texts(session, report.campaign_id), rating_form=RatingForm(prefix="rate"),
        action_form=ActionForm(), now=utcnow(), external=UnitKind.external)


@bp.post("/taskforce/reports/<int:report_id>/callback")
@staff_required(*DESK)
def share_callback(report_id: int):
    """Let the unit see a masked call-back number (or stop sharing it); audited."""
    report = scoped_report_or_404(report_id)
    if ActionForm().validate_on_submit():
        session = get_session()
        session.commit()
        begin_write(session)
        report = session.get(Report, report_id)
        report.callback_shared = not report.callback_shared
        session.add(Event(report_id=report.id, kind="callback_shared" if report.callback_shared
                          else "callback_unshared", actor_id=current_staff().id))
        session.commit()
        flash(_("已向责任单位提供脱敏回访号码。") if report.callback_shared
              else _("已停止向责任单位提供回访号码。"), "success")
    return redirect(url_for("desk.report", report_id=report_id))


@bp.post("/taskforce/reports/<int:report_id>/escalate")
@staff_required(*DESK)
def escalate(report_id: int):
    """One click: 催办 → 督办 → 挂牌督办 (the next level not yet reached); back to the
    task force page it came from (the dashboard's overdue list) or to the report."""
    scoped_report_or_404(report_id)
    if ActionForm().validate_on_submit():
        run(transitions.escalate, report_id, current_staff(), success=_("已催办/督办。"))
    target = request.form.get("next", "")
    if target.startswith("/taskforce") and not target.startswith("//"):
        return redirect(target)
    return redirect(url_for("desk.report", report_id=report_id))


@bp.post("/taskforce/reports/<int:report_id>/rate")
@staff_required("taskforce", "admin", "operator")
def record_rating(report_id: int):
    """An operator or the task force records the rating given on a call-back (回访)."""
    scoped_report_or_404(report_id)
    form = RatingForm(prefix="rate")
    if form.validate_on_submit():
        run(transitions.rate, report_id, form.rating.data, channel="callback",
            actor=current_staff(), note=form.note.data or "", success=_("已记录回访评价。"))
    # No Referer to go back to (Referrer-Policy: no-referrer): operators work from the list.
    if current_staff().role == "operator":
        return redirect(url_for("desk.callbacks"))
    return redirect(url_for("desk.report", report_id=report_id))


@bp.route("/staff/callbacks")
@staff_required("taskforce", "admin", "operator")
def callbacks():
    """回访: answered reports waiting for the citizen's rating, with masked numbers to call."""
    session = get_session()
    reports = session.exec(select(Report).where(Report.status == S.awaiting_feedback,
                                                scope_clause(Report.campaign_id))
                           .order_by(Report.updated_at)).all()
    vault = current_services().vault
    rows = []
    for item in reports:
        reporter = session.get(Reporter, item.reporter_id) if item.reporter_id else None
        phone = vault.decrypt(reporter.phone_enc) if reporter else None
        rows.append({"report": item, "phone": mask_phone(phone),
                     "form": RatingForm(prefix="rate", formdata=None)})
    return render_template("routing/callbacks.html", rows=rows)
