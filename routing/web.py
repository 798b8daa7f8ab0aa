"""What the routing pages share: running a transition from a view, labels, look-ups."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, flash
from flask_babel import lazy_gettext as _l
from sqlmodel import Session, select

from intake.models import Event, Report, Reporter
from intake.pii import PiiVault, redact_contacts
from intake.services import current_services
from notices.campaigns import in_scope
from notices.db import get_session
from notices.models import ChecklistItem
from routing.transitions import TransitionError

EVENT_LABELS = {
    "received": _l("受理"), "triage": _l("进入分拣"), "triage_reason": _l("分拣说明"),
    "dispatched": _l("转办"), "acknowledged": _l("签收"), "returned": _l("退回"),
    "extension_requested": _l("申请延期"), "extension_approved": _l("批准延期"),
    "extension_refused": _l("不批准延期"), "replied": _l("办结回复"),
    "reply_rejected": _l("审核退回"), "reviewed": _l("审核通过"),
    "reply_approved": _l("答复群众"), "rated": _l("群众评价"), "reopened": _l("重办"),
    "closed": _l("办结"), "referred": _l("移交"), "merged": _l("并单"),
    "not_accepted": _l("不予受理"), "escalated_warning": _l("预警"),
    "escalated_reminder": _l("催办"), "escalated_supervision": _l("督办"),
    "escalated_listed": _l("挂牌督办"), "pii_revealed": _l("查看举报人信息"),
    "classification_confirmed": _l("确认分类"), "triage_overdue": _l("分办超时"),
    "media_kept": _l("彩信图片已保存"), "media_failed": _l("彩信图片未能接收"),
    "message_failed": _l("消息发送失败"), "deadline_moved": _l("期限重新计算"),
}

STATUS_LABELS = {
    "received": _l("已受理"), "triage": _l("待分拣"), "dispatched": _l("已转办待签收"),
    "acknowledged": _l("办理中"), "replied": _l("待审核"), "rejected_reply": _l("审核退回"),
    "reviewed": _l("已审核"), "awaiting_feedback": _l("待评价"), "reopened": _l("重办"),
    "closed": _l("已办结"), "returned": _l("已退回"), "referred": _l("已移交"),
    "merged": _l("已并单"), "not_accepted": _l("不予受理"),
}


def scoped_report_or_404(report_id: int) -> Report:
    """A report the signed-in desk staff may see: 404 if missing or of another campaign."""
    report = get_session().get(Report, report_id)
    if report is None or not in_scope(report.campaign_id):
        abort(404)
    return report


def attempt(action: Callable[..., Any], *args: Any, **kwargs: Any) -> str | None:
    """Run a transition in its own transaction: None when it was made and committed, else
    the refusal's message (for the form it concerns)."""
    session = get_session()
    session.commit()  # end the read transaction: the transition starts as a writer
    try:
        action(session, current_services(), *args, **kwargs)
        session.commit()
    except TransitionError as exc:
        session.rollback()
        return str(exc.message)
    return None


def run(action: Callable[..., Any], *args: Any, success: str, **kwargs: Any) -> bool:
    """Run a transition in its own transaction; flash the outcome for the person."""
    error = attempt(action, *args, **kwargs)
    flash(error or success, "error" if error else "success")
    return error is None


def flash_errors(form: Any) -> None:
    """Each validation message of a form that came back through a redirect."""
    for errors in form.errors.values():
        for error in errors:
            flash(str(error), "error")


def checklist_texts(session: Session, campaign_id: int) -> dict[int, ChecklistItem]:
    return {i.number: i for i in session.exec(
        select(ChecklistItem).where(ChecklistItem.campaign_id == campaign_id))}


def history(session: Session, report: Report) -> list[Event]:
    return session.exec(select(Event).where(Event.report_id == report.id)
                        .order_by(Event.at, Event.id)).all()


def unit_text(session: Session, report: Report, vault: PiiVault) -> str:
    """The report text as a unit may read it: the reporter's own details masked.

    People write "我是张三，电话138…" into SMS and letters; the unit may be the one accused.
    """
    names: list[str | None] = []
    if report.reporter_id is not None:
        reporter = session.get(Reporter, report.reporter_id)
        names = [vault.decrypt(reporter.name_enc)]
    return redact_contacts(report.text, names)
