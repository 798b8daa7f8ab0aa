"""The task force's desks: triage, review, extension decisions, the full report page."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlmodel import select

from intake.forms import AGENCY_LABELS, CHANNEL_LABELS
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
from routing.forms import (
    FINDING_LABELS,
    KIND_LABELS,
    REVIEW_LABELS,
    ActionForm,
    RatingForm,
    RevealForm,
    ReviewForm,
    TriageForm,
)
from routing.models import Assignment, Escalation, Reply, ReviewStatus, Unit, UnitKind
from routing.web import (
    EVENT_LABELS,
    STATUS_LABELS,
    attempt,
    checklist_texts,
    history,
    run,
    scoped_report_or_404,
)

bp = Blueprint("desk", __name__, template_folder="templates")
DESK = ("taskforce", "admin")


def _unit_choices() -> list[tuple[int | str, str]]:
    """The placeholder (no unit: fails validation when one is needed), then active units."""
    units = get_session().exec(select(Unit).where(Unit.is_active == True)  # noqa: E712
                               .order_by(Unit.kind, Unit.id)).all()
    return [("", _("请选择责任单位")), *((u.id, u.name) for u in units)]


# The router (routing/policy.py, routing/dispatch.py) explains a triage in English for the
# log; the desk reads it in Chinese. Anything not listed is shown as a technical note.
_REASONS: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"spam: not accepted"), lambda m: _("疑似垃圾信息，建议不予受理")),
    (re.compile(r"invalid: nothing to act on"), lambda m: _("内容无效，没有可办理的事项")),
    (re.compile(r"inquiry: answered by the task force"), lambda m: _("属于咨询，由专班答复")),
    (re.compile(r"praise: passed on by the task force"), lambda m: _("属于表扬，由专班转达")),
    (re.compile(r"low confidence ([\d.]+) < ([\d.]+)"),
     lambda m: _("机器分类把握不足（置信度 %(value)s，低于 %(threshold)s）",
                 value=m[1], threshold=m[2])),
    (re.compile(r"conflict of interest: the report accuses the leadership of (.+); "
                r"the task force escalates it one level up", re.S),
     lambda m: _("反映%(unit)s领导的问题，不转该单位，由专班报上一级处理", unit=m[1])),
    (re.compile(r"no place known: triage"), lambda m: _("未能识别地点")),
    (re.compile(r"no routing rule matched: triage"), lambda m: _("没有匹配的分办规则")),
    (re.compile(r"not classified"), lambda m: _("尚未自动分类")),
    (re.compile(r"district given \((.*)\) and place in the text \((.*)\) differ: triage"),
     lambda m: _("所选区县（%(given)s）与反映内容中的地点（%(read)s）不一致",
                 given=m[1], read=m[2])),
    (re.compile(r"likely duplicate: the task force merges"), lambda m: _("疑似重复线索，请并单")),
    (re.compile(r"rule (.+)", re.S), lambda m: _("符合分办规则“%(rule)s”", rule=m[1])),
    (re.compile(r"not routed: (.+)", re.S), lambda m: _("未能自动转办：%(error)s", error=m[1])),
]
_HAS_CHINESE = re.compile(r"[\u4e00-\u9fff]")


def triage_reason(reason: str | None) -> tuple[str, bool]:
    """The router's reason as the desk reads it, and whether it is an untranslated
    technical note. Reasons already written in Chinese are shown as they are."""
    reason = (reason or "").strip()
    for pattern, say in _REASONS:
        match = pattern.fullmatch(reason)
        if match:
            return say(match), False
    return reason, bool(reason) and not _HAS_CHINESE.search(reason)


def _triage_page(posted: tuple[int, TriageForm] | None = None):
    """The triage queue; `posted` is a card whose decision was refused: shown as submitted,
    with its errors beside the fields (a fresh form would fall back to the suggestion)."""
    session = get_session()
    reports = session.exec(select(Report).where(Report.status.in_(transitions.INTAKE),
                                                scope_clause(Report.campaign_id))
                           .order_by(Report.received_at)).all()
    choices = _unit_choices()
    name_to_id = {name: uid for uid, name in choices if uid != ""}
    entries = []
    for report in reports:
        decision = decide(session, report)
        reason = session.exec(select(Event.note).where(Event.report_id == report.id,
                                                       Event.kind == "triage_reason")
                              .order_by(Event.id.desc())).first()
        duplicate = session.get(Report, report.duplicate_of_id) if report.duplicate_of_id \
            else None
        if posted is not None and posted[0] == report.id:
            form = posted[1]
        else:
            form = TriageForm(prefix=f"r{report.id}", formdata=None)
            form.items.data = ",".join(str(n) for n in report.items or [])
            form.kind.data = report.kind.value if report.kind else "complaint"
            form.district.data = report.district or ""
            suggested = name_to_id.get(decision.unit)
            if suggested:
                form.unit_id.data = suggested
                form.action.data = decision.action if decision.action != "triage" \
                    else "dispatch"
            if duplicate:
                form.merge_into.data = duplicate.tracking_no
        form.unit_id.choices = choices
        text, technical = triage_reason(reason or decision.reason)
        entries.append({"report": report, "form": form, "reason": text,
                        "reason_technical": technical, "duplicate": duplicate})
    return render_template("routing/triage.html", entries=entries, status_labels=STATUS_LABELS,
                           kind_labels=KIND_LABELS, agency_labels=AGENCY_LABELS,
                           channel_labels=CHANNEL_LABELS)


@bp.route("/taskforce/triage")
@staff_required(*DESK)
def triage():
    return _triage_page()


# Where a refused move's message belongs on the card.
_FIELD_OF_ACTION = {"dispatch": "unit_id", "refer": "unit_id", "not_accept": "note",
                    "merge": "merge_into"}


@bp.post("/taskforce/triage/<int:report_id>")
@staff_required(*DESK)
def triage_decide(report_id: int):
    """Confirm or correct the classification and dispatch, refer, refuse or merge, in one step.

    A refused decision shows the queue again (400) with this card as it was submitted and
    the message beside the field it concerns, so a second 确认 repeats the same decision."""
    report = scoped_report_or_404(report_id)
    form = TriageForm(prefix=f"r{report_id}")
    form.unit_id.choices = _unit_choices()
    if not form.validate_on_submit():
        return _refused(report, form)
    try:
        items = [int(x) for x in form.items.data.replace("，", ",").split(",") if x.strip()]
    except ValueError:
        items = None
    numbers = checklist_texts(get_session(), report.campaign_id)
    if items is None or any(n not in numbers for n in items):
        form["items"].errors.append(_("清单条目须为1至%(last)d的数字，用逗号分隔。",
                                      last=max(numbers, default=0)))
        return _refused(report, form)
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

    error = attempt(decide_and_move, report_id, staff)
    if error is None:
        flash(_("已处理线索 %(no)s。", no=report.tracking_no), "success")
        return redirect(url_for("desk.triage"))
    session = get_session()
    session.refresh(report)
    if report.status not in transitions.INTAKE:  # handled meanwhile: no card to show it on
        flash(error, "error")
        return redirect(url_for("desk.triage"))
    form[_FIELD_OF_ACTION.get(action, "note")].errors.append(error)
    return _refused(report, form)


def _refused(report: Report, form: TriageForm):
    flash(_("线索 %(no)s 未处理：请按该线索下方的提示修改后重新确认。", no=report.tracking_no),
          "error")
    return _triage_page(posted=(report.id, form)), 400


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
                           form=ReviewForm(), action_form=ActionForm(),
                           finding_labels=FINDING_LABELS)


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
    # The router's English reasons, as on the triage page.
    notes = {e.id: triage_reason(e.note)[0] for e in events if e.kind == "triage_reason"}
    return render_template(
        "routing/report.html", report=report, contact=contact, revealed=revealed,
        reveal_form=reveal_form, assignments=assignments,
        replies=session.exec(select(Reply).where(Reply.report_id == report.id)).all(),
        escalations=session.exec(select(Escalation).where(Escalation.report_id == report.id)
                                 .order_by(Escalation.at)).all(),
        attachments=session.exec(select(Attachment).where(Attachment.report_id == report.id)).all(),
        events=events, labels=EVENT_LABELS, notes=notes, media_urls=media_urls,
        status=STATUS_LABELS.get(report.status.value, report.status.value),
        finding_labels=FINDING_LABELS, review_labels=REVIEW_LABELS,
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
