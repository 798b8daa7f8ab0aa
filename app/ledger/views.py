"""Ledger pages (/ledger): list, entry, progress, completion, exports, stage reports,
typical cases. Units see and update only their own entries."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlmodel import select

from app.dashboard.common import categories
from app.dashboard.exports import DOCX_TYPE, XLSX_TYPE, attachment
from app.ledger import entries as ledger
from app.ledger import stage_reports
from app.ledger.exports import ledger_csv, ledger_xlsx
from app.ledger.forms import CaseForm, EntryForm, ProgressForm
from app.models import LedgerStatus, TypicalCase, User
from intake.models import Event, Report
from notices.access import current_staff, staff_required
from notices.campaigns import in_scope, staff_campaign
from notices.db import begin_write, db_int, get_session
from notices.models import Campaign
from notices.timeutil import parse_day, to_cst, utcnow
from routing.forms import ActionForm
from routing.models import Unit, UnitKind
from routing.web import flash_errors, scoped_report_or_404

bp = Blueprint("ledger", __name__, template_folder="templates")
DESK = ("taskforce", "admin")
ALL = ("taskforce", "admin", "unit")


def _units() -> dict[int, str]:
    return {u.id: u.name for u in get_session().exec(
        select(Unit).where(Unit.kind != UnitKind.external).order_by(Unit.id))}


def _entry(entry_id: int):
    try:
        return ledger.get_for(get_session(), current_staff(), entry_id)
    except ledger.LedgerError as exc:
        abort(exc.status)


def _commit_or_flash(action, *args, success: str, **kwargs):
    session = get_session()
    session.commit()  # end the read transaction: the change starts as a writer
    try:
        result = action(session, current_staff(), *args, **kwargs)
        session.commit()
    except ledger.LedgerError as exc:
        session.rollback()
        if exc.status in (403, 404):
            abort(exc.status)
        flash(str(exc.message), "error")
        return None
    flash(success, "success")
    return result


def _entry_form(session, campaign, formdata=None) -> EntryForm:
    form = EntryForm(formdata=formdata) if formdata is not None else EntryForm()
    form.category.choices = [(c, c) for c in categories(session, campaign.id)] + [
        ("其他", _("其他"))]
    form.unit_id.choices = list(_units().items())
    return form


@bp.route("/ledger")
@staff_required(*ALL)
def index():
    session = get_session()
    staff = current_staff()
    campaign = staff_campaign(session)
    status = request.args.get("status") or None
    unit_id = request.args.get("unit", type=db_int)
    rows = ledger.visible(session, staff, campaign.id, status=status, unit_id=unit_id)
    pending = set(session.exec(ledger.pending_ids(session)).all())
    is_desk = staff.role in DESK
    return render_template(
        "ledger/index.html", campaign=campaign, rows=rows, units=_units(), status=status,
        unit_id=unit_id, pending=pending, is_desk=is_desk,
        summary=ledger.summary(session, campaign.id,
                               unit_id=None if is_desk else staff.unit_id),
        confirmed=ledger.confirmed_replies(session, campaign.id) if is_desk else [],
        statuses=[s.value for s in LedgerStatus], action_form=ActionForm())


@bp.route("/ledger/new", methods=["GET", "POST"])
@staff_required(*DESK)
def new():
    session = get_session()
    campaign = staff_campaign(session)
    form = _entry_form(session, campaign)
    if form.validate_on_submit():
        numbers = [n for n in form.tracking_nos.data.replace("，", ",").split(",") if n.strip()]
        entry = _commit_or_flash(
            ledger.create, campaign_id=campaign.id, category=form.category.data,
            symptom=form.symptom.data, measures=form.measures.data, unit_id=form.unit_id.data,
            deadline_text=form.deadline_text.data or "",
            accountability=form.accountability.data or "", source=form.source.data,
            tracking_nos=numbers, success=_("已列入整改台账。"))
        if entry is not None:
            return redirect(url_for("ledger.entry", entry_id=entry.id))
    return render_template("ledger/new.html", form=form, campaign=campaign)


@bp.post("/ledger/from-reply/<int:report_id>")
@staff_required(*DESK)
def from_reply(report_id: int):
    scoped_report_or_404(report_id)
    entry = None
    if ActionForm().validate_on_submit():
        entry = _commit_or_flash(ledger.create_from_reply, report_id,
                                 success=_("已根据办结回复列入整改台账，请核对各栏内容。"))
    if entry is not None:
        return redirect(url_for("ledger.entry", entry_id=entry.id))
    return redirect(url_for("ledger.index"))


@bp.route("/ledger/<int:entry_id>")
@staff_required(*ALL)
def entry(entry_id: int):
    session = get_session()
    item = _entry(entry_id)
    staff = current_staff()
    campaign = session.get(Campaign, item.campaign_id)
    form = _entry_form(session, campaign, formdata=None) if staff.role in DESK else None
    if form is not None:
        form.process(obj=item)
    progress_form = ProgressForm(formdata=None)
    progress_form.status.data = item.status.value
    if staff.role == "unit":
        progress_form.status.choices = [(s.value, s.value if s is not LedgerStatus.done
                                         else _("已完成（申请销号）")) for s in LedgerStatus]
    updates = ledger.history(session, item)
    authors = {u.id: u.display_name for u in session.exec(
        select(User).where(User.id.in_({u.author_id for u in updates if u.author_id})))}
    return render_template(
        "ledger/entry.html", entry=item, unit=session.get(Unit, item.unit_id), form=form,
        progress_form=progress_form, updates=updates, authors=authors,
        reports=ledger.linked_reports(session, item), is_desk=staff.role in DESK,
        pending=ledger.is_pending(session, item), action_form=ActionForm(),
        sources=ledger.SOURCE_LABELS)


@bp.post("/ledger/<int:entry_id>/progress")
@staff_required(*ALL)
def progress(entry_id: int):
    _entry(entry_id)
    form = ProgressForm()
    if form.validate_on_submit():
        _commit_or_flash(ledger.add_progress, entry_id, progress=form.progress.data,
                         status=form.status.data, success=_("已记录整改进度。"))
    else:
        flash_errors(form)
    return redirect(url_for("ledger.entry", entry_id=entry_id))


@bp.post("/ledger/<int:entry_id>/edit")
@staff_required(*DESK)
def edit(entry_id: int):
    session = get_session()
    item = _entry(entry_id)
    form = _entry_form(session, session.get(Campaign, item.campaign_id))
    if form.validate_on_submit():
        _commit_or_flash(ledger.edit, entry_id, category=form.category.data,
                         symptom=form.symptom.data, measures=form.measures.data,
                         unit_id=form.unit_id.data, deadline_text=form.deadline_text.data,
                         accountability=form.accountability.data, success=_("已保存。"))
    else:
        flash_errors(form)
    return redirect(url_for("ledger.entry", entry_id=entry_id))


@bp.post("/ledger/<int:entry_id>/approve")
@staff_required(*DESK)
def approve(entry_id: int):
    _entry(entry_id)
    if ActionForm().validate_on_submit():
        _commit_or_flash(ledger.approve, entry_id, success=_("已审核销号。"))
    return redirect(url_for("ledger.entry", entry_id=entry_id))


@bp.route("/ledger/export")
@staff_required(*ALL)
def export():
    session = get_session()
    staff = current_staff()
    campaign = staff_campaign(session)
    rows = ledger.visible(session, staff, campaign.id, status=request.args.get("status"),
                          unit_id=request.args.get("unit", type=db_int))
    today = to_cst(utcnow()).date()
    if staff.role == "unit":
        maker = session.get(Unit, staff.unit_id).name
    else:
        maker = f"{campaign.issuer}专项整治工作专班"
    if request.args.get("format") == "csv":
        return attachment(ledger_csv(session, rows), f"整改工作台账-{today}.csv", "text/csv")
    return attachment(ledger_xlsx(session, rows, maker=maker, day=today),
                      f"整改工作台账-{today}.xlsx", XLSX_TYPE)


# -- stage reports and typical cases ---------------------------------------------------

@bp.route("/ledger/stage-reports")
@staff_required(*DESK)
def stage_report_list():
    session = get_session()
    campaign = staff_campaign(session)
    cases = session.exec(select(TypicalCase, Report).join(Report, Report.id == TypicalCase.report_id)
                         .where(TypicalCase.campaign_id == campaign.id)
                         .order_by(TypicalCase.polarity, TypicalCase.at)).all()
    return render_template("ledger/stage_reports.html", campaign=campaign,
                           milestones=stage_reports.milestones(session, campaign.id),
                           today=to_cst(utcnow()).date(), cases=cases, case_form=CaseForm(),
                           action_form=ActionForm())


@bp.route("/ledger/stage-reports/download")
@staff_required(*DESK)
def stage_report_download():
    session = get_session()
    campaign = staff_campaign(session)
    as_of = parse_day(request.args.get("date")) or to_cst(utcnow()).date()
    report = stage_reports.build(session, campaign, as_of)
    if request.args.get("format") == "docx":
        return attachment(stage_reports.to_docx(report), stage_reports.filename(report, "docx"),
                          DOCX_TYPE)
    return attachment(stage_reports.to_xlsx(report), stage_reports.filename(report, "xlsx"),
                      XLSX_TYPE)


@bp.post("/ledger/cases")
@staff_required(*DESK)
def mark_case():
    """Mark a clue as a positive or negative typical case (典型案例) for the stage reports."""
    session = get_session()
    campaign = staff_campaign(session)
    form = CaseForm()
    if not form.validate_on_submit():
        flash_errors(form)
        return redirect(url_for("ledger.stage_report_list"))
    session.commit()
    begin_write(session)
    number = form.tracking_no.data.strip().upper()
    report = session.exec(select(Report).where(Report.tracking_no == number)).first()
    if report is None or report.campaign_id != campaign.id:
        session.rollback()
        flash(_("找不到受理编号 %(no)s。", no=number), "error")
        return redirect(url_for("ledger.stage_report_list"))
    from intake.sanitize import clean_text

    case = session.exec(select(TypicalCase).where(TypicalCase.report_id == report.id)).first()
    if case is None:
        case = TypicalCase(campaign_id=campaign.id, report_id=report.id, polarity="positive")
        session.add(case)
    case.polarity = form.polarity.data
    case.note = clean_text(form.note.data)[:2000]
    case.marked_by_id = current_staff().id
    case.at = utcnow()
    session.add(Event(report_id=report.id, kind="typical_case_marked",
                      actor_id=current_staff().id, data={"polarity": case.polarity}))
    session.commit()
    flash(_("已标记典型案例。"), "success")
    return redirect(request.form.get("next") if (request.form.get("next") or "").startswith(
        "/taskforce/reports/") else url_for("ledger.stage_report_list"))


@bp.post("/ledger/cases/remove")
@staff_required(*DESK)
def unmark_case():
    session = get_session()
    if ActionForm().validate_on_submit():
        case = session.get(TypicalCase, request.form.get("case_id", type=db_int) or 0)
        if case is not None and not in_scope(case.campaign_id):
            abort(404)
        if case is not None:
            session.commit()
            begin_write(session)
            case = session.get(TypicalCase, case.id)
            session.add(Event(report_id=case.report_id, kind="typical_case_removed",
                              actor_id=current_staff().id))
            session.delete(case)
            session.commit()
            flash(_("已取消典型案例标记。"), "success")
    return redirect(url_for("ledger.stage_report_list"))
