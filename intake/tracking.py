"""What the public tracker may show of a report: its status and public steps, nothing else."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlmodel import Session, select

from intake.language import localized
from intake.models import Event, Report, ReportStatus
from intake.receipts import check_code

PUBLIC_STATUS = {
    ReportStatus.received: _l("已受理"),
    ReportStatus.triage: _l("已受理，正在分办"),
    ReportStatus.returned: _l("已受理，正在分办"),
    ReportStatus.dispatched: _l("已转交责任单位办理"),
    ReportStatus.acknowledged: _l("责任单位正在核实办理"),
    ReportStatus.reopened: _l("责任单位正在重新办理"),
    ReportStatus.replied: _l("办理结果审核中"),
    ReportStatus.rejected_reply: _l("责任单位正在核实办理"),
    ReportStatus.reviewed: _l("已答复"),
    ReportStatus.awaiting_feedback: _l("已答复，请您评价"),
    ReportStatus.closed: _l("已办结"),
    ReportStatus.referred: _l("已移交有权处理的部门"),
    ReportStatus.merged: _l("已与相同问题合并办理"),
    ReportStatus.not_accepted: _l("不予受理"),
}

EVENT_LABELS = {
    "received": _l("问题线索已受理"),
    "dispatched": _l("已转交责任单位"),
    "acknowledged": _l("责任单位已签收"),
    "reply_approved": _l("办理结果已答复"),
    "reopened": _l("根据您的评价重新办理"),
    "referred": _l("已移交有权处理的部门"),
    "merged": _l("已合并到相同问题"),
    "not_accepted": _l("不予受理"),
    "rated": _l("已收到您的评价"),
    "closed": _l("已办结"),
    "media_kept": _l("彩信图片已保存"),
    "media_failed": _l("彩信图片未能接收"),
}


def merged_note(target_no: str) -> str:
    """The public note of a merge (recorded in Chinese, shown in the reader's language)."""
    return _("与受理编号 %(target)s 反映的问题相同，合并办理；可继续用本编号和查询码查询进度，"
             "办理结果也会告知您。", target=target_no)


def referred_note(unit: str | None) -> str:
    """The public note of a referral to another authority."""
    return _("您反映的问题属于%(unit)s职责范围，已移交其处理。", unit=unit or _("有权处理的部门"))


def _step_text(event: Event) -> str:
    data = event.data or {}
    if event.kind == "merged" and data.get("into"):
        return merged_note(data["into"])
    if event.kind == "referred":
        return referred_note(localized(data.get("unit"), data.get("unit_en")))
    if event.kind == "received" and data.get("media_not_kept"):
        return media_not_kept_note(int(data["media_not_kept"]))
    if event.kind == "media_kept":
        return media_kept_note()
    if event.kind == "media_failed":
        return media_lost_note()
    return event.note


def media_kept_note() -> str:
    return _("随短信发送的一张彩信图片已保存为证据材料。")


def media_lost_note() -> str:
    return _("随短信发送的一张彩信图片未能接收。如需补充，请在网上“我要举报”页面或通过受理邮箱提交，"
             "并注明受理编号。")


def media_not_kept_note(count: int) -> str:
    """The note of an SMS whose MMS pictures could not be taken in."""
    return _("随短信发送的 %(n)d 张彩信图片未能接收。", n=count)


@dataclass
class PublicStep:
    at: datetime
    label: str
    text: str


@dataclass
class PublicView:
    tracking_no: str
    received_at: datetime
    status: ReportStatus
    status_label: str
    steps: list[PublicStep]
    public_reply: str | None


def find_for_tracker(session: Session, tracking_no: str, receipt_code: str) -> Report | None:
    """The report only when both match; an unknown number costs the same as a wrong code."""
    number = (tracking_no or "").strip().upper()
    report = session.exec(select(Report).where(Report.tracking_no == number)).first()
    if not check_code(report.receipt_hash if report else None, receipt_code):
        return None
    return report


# Steps of the report a duplicate was merged into that its reporter also sees (the
# receipt and ratings belong to the other reporter).
SHARED_AFTER_MERGE = frozenset({"dispatched", "acknowledged", "reply_approved", "reopened",
                                "referred", "not_accepted", "closed"})


def _public_events(session: Session, report_id: int) -> list[Event]:
    return list(session.exec(select(Event).where(Event.report_id == report_id,
                                                 Event.public == True)  # noqa: E712
                             .order_by(Event.at, Event.id)))


def merge_root(session: Session, report: Report) -> Report:
    """The report `report` was finally merged into, through merges of merges (itself if it
    was not merged). A chain that comes round again stops where it would repeat."""
    seen = {report.id}
    while report.status is ReportStatus.merged and report.duplicate_of_id \
            and report.duplicate_of_id not in seen:
        report = session.get(Report, report.duplicate_of_id)
        seen.add(report.id)
    return report


def merged_into(session: Session, report_id: int) -> list[Report]:
    """Every report merged into this one, directly or through another merged report (the
    other way round from `merge_root`)."""
    found: list[Report] = []
    frontier = [report_id]
    while frontier:
        rows = session.exec(select(Report).where(Report.duplicate_of_id.in_(frontier),
                                                 Report.status == ReportStatus.merged)).all()
        rows = [r for r in rows if r.id != report_id and r not in found]
        found += rows
        frontier = [r.id for r in rows]
    return found


def public_view(session: Session, report: Report) -> PublicView:
    """Status and public steps; a merged report also shows the progress and answer of the
    report it was merged into, so its reporter needs no other receipt code."""
    events = _public_events(session, report.id)
    steps = [PublicStep(e.at, str(EVENT_LABELS.get(e.kind, e.kind)), _step_text(e))
             for e in events]
    status_label = str(PUBLIC_STATUS.get(report.status, report.status.value))
    target = merge_root(session, report)
    target = target if target is not report else None
    if target is not None:
        shared = [e for e in _public_events(session, target.id) if e.kind in SHARED_AFTER_MERGE]
        events += shared
        steps += [PublicStep(e.at, str(_l("合并办理：%(step)s",
                                          step=EVENT_LABELS.get(e.kind, e.kind))), _step_text(e))
                  for e in shared]
        steps.sort(key=lambda step: step.at)
        status_label = str(_l("%(merged)s（%(no)s：%(state)s）", merged=status_label,
                              no=target.tracking_no,
                              state=PUBLIC_STATUS.get(target.status, target.status.value)))
    replies = [e.note for e in sorted(events, key=lambda e: e.at)
               if e.kind == "reply_approved" and e.note]
    return PublicView(report.tracking_no, report.received_at, report.status, status_label,
                      steps, replies[-1] if replies else None)
