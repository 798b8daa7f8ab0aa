"""The report lifecycle: every allowed move, then one function per move.

Each function checks the actor's role and the report's state, changes the report with a
version check (two staff clicking at once: one wins, the other gets ConcurrentChange),
writes its Event and queues the messages it implies, all in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Any, Protocol

import sqlalchemy as sa
from flask_babel import LazyString
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, select

from intake.language import as_recorded
from intake.models import Attachment, Event, Kind, Report
from intake.models import ReportStatus as S
from intake.registration import IntakeServices
from intake.sanitize import clean_text
from intake.tracking import PUBLIC_STATUS, merge_root, merged_into, merged_note, referred_note
from intake.uploads import IncomingFile, UploadError, discard, prepare, store
from notices.db import begin_write
from notices.models import Campaign
from notices.timeutil import CST, as_utc, to_cst, utcnow
from routing import deadlines, messages
from routing.models import (
    Assignment,
    Escalation,
    EscalationLevel,
    Feedback,
    Finding,
    Rating,
    Reply,
    ReplyAttachment,
    ReviewStatus,
    Unit,
    UnitKind,
)
from routing.notify import notify_citizen, notify_taskforce, notify_unit

INTAKE = frozenset({S.received, S.triage, S.returned})
WITH_UNIT = deadlines.WITH_UNIT
OPEN = INTAKE | WITH_UNIT | {S.replied, S.reviewed, S.awaiting_feedback}
TERMINAL = frozenset({S.closed, S.referred, S.not_accepted, S.merged})  # handled, no way back
DESK = frozenset({"taskforce", "admin"})


@dataclass(frozen=True)
class Move:
    sources: frozenset[S]
    target: S | None  # None: the state does not change
    roles: frozenset[str]


def _m(sources, target, *roles) -> Move:
    return Move(frozenset(sources), target, frozenset(roles))


#                      from                         to                  who
MOVES: dict[str, Move] = {
    "dispatch":          _m(INTAKE,                     S.dispatched,       "taskforce", "admin", "system"),
    "refer":             _m(INTAKE,                     S.referred,         "taskforce", "admin", "system"),
    "not_accept":        _m(INTAKE,                     S.not_accepted,     "taskforce", "admin", "system"),
    "merge":             _m(INTAKE,                     S.merged,           "taskforce", "admin"),
    "acknowledge":       _m({S.dispatched, S.reopened}, S.acknowledged,     "unit"),
    "return_":           _m({S.dispatched, S.reopened}, S.returned,         "unit"),
    "request_extension": _m({S.acknowledged, S.rejected_reply}, None,       "unit"),
    "decide_extension":  _m(WITH_UNIT | {S.replied},    None,               "taskforce", "admin"),
    "reply":             _m({S.acknowledged, S.rejected_reply}, S.replied,  "unit"),
    "approve":           _m({S.replied},                S.reviewed,         "taskforce", "admin"),
    "inform":            _m({S.reviewed},               S.awaiting_feedback, "taskforce", "admin"),
    "reject_reply":      _m({S.replied},                S.rejected_reply,   "taskforce", "admin"),
    "reopen":            _m({S.awaiting_feedback},      S.reopened,         "citizen", "operator", "taskforce", "admin"),
    "close":             _m({S.awaiting_feedback},      S.closed,           "citizen", "operator", "taskforce", "admin", "system"),
    "escalate":          _m(WITH_UNIT,                  None,               "taskforce", "admin", "system"),
}  # fmt: skip


class Actor(Protocol):
    id: int | None
    role: Any
    unit_id: int | None


@dataclass(frozen=True)
class SystemActor:
    id: None = None
    role: str = "system"
    unit_id: None = None


@dataclass(frozen=True)
class CitizenActor:
    id: None = None
    role: str = "citizen"
    unit_id: None = None


SYSTEM = SystemActor()
CITIZEN = CitizenActor()


class TransitionError(Exception):
    """A move that is not allowed now; `message` is for the person who tried it."""

    def __init__(self, message: Any) -> None:
        super().__init__(str(message))
        self.message = message


class ConcurrentChange(TransitionError):
    pass


def _role(actor: Actor) -> str:
    return getattr(actor.role, "value", actor.role)


def current_assignment(session: Session, report_id: int) -> Assignment | None:
    return session.exec(select(Assignment).where(Assignment.report_id == report_id,
                                                 Assignment.is_current == True)  # noqa: E712
                        .order_by(Assignment.id.desc())).first()


def _begin(session: Session, report_id: int, action: str, actor: Actor) -> Report:
    """Load the report for a move, checking role, state and (for units) ownership."""
    begin_write(session)
    move = MOVES[action]
    if _role(actor) not in move.roles:
        raise TransitionError(_l("您的角色不能执行此操作。"))
    report = session.get(Report, report_id, populate_existing=True)
    if report is None:
        raise TransitionError(_l("线索不存在。"))
    scope = getattr(actor, "campaign_id", None)
    if scope is not None and report.campaign_id != scope:
        raise TransitionError(_l("该线索不属于您负责的专项整治。"))
    if report.status not in move.sources:
        raise TransitionError(_l("线索当前状态为“%(state)s”，不能执行此操作，请刷新页面。",
                                 state=PUBLIC_STATUS.get(report.status, report.status.value)))
    if _role(actor) == "unit":
        assignment = current_assignment(session, report.id)
        if assignment is None or assignment.unit_id != actor.unit_id:
            raise TransitionError(_l("该线索不属于本单位。"))
    return report


def _advance(session: Session, report: Report, action: str, actor: Actor, *,
             public: bool = False, note: str = "", data: dict | None = None,
             kind: str | None = None) -> None:
    """Apply the move's target state with a version check and record the Event."""
    target = MOVES[action].target or report.status
    session.flush()
    table = Report.__table__
    now = utcnow()
    values: dict[str, Any] = {"status": target, "version": report.version + 1, "updated_at": now}
    if target in TERMINAL:
        values["closed_at"] = now
    result = session.execute(sa.update(table).where(table.c.id == report.id,
                                                    table.c.version == report.version)
                             .values(**values))
    if result.rowcount != 1:
        raise ConcurrentChange(_l("该线索刚被其他人处理过，请刷新页面后再操作。"))
    for name, value in values.items():  # what the row now holds, without reading it back
        set_committed_value(report, name, value)
    session.add(Event(report_id=report.id, kind=kind or action.rstrip("_"), public=public,
                      actor_id=actor.id, note=note, data=data or {}))


def _campaign(session: Session, report: Report) -> Campaign:
    return session.get(Campaign, report.campaign_id)


def _new_assignment(session: Session, report: Report, unit: Unit, actor: Actor) -> Assignment:
    """The report's next round; earlier assignments stop being current."""
    earlier = session.exec(select(Assignment).where(Assignment.report_id == report.id)).all()
    for old in earlier:
        old.is_current = False
    round_ = len(earlier) + 1
    settings = deadlines.settings(_campaign(session, report))
    calendar = deadlines.work_calendar(session)
    now = utcnow()
    kind = report.kind.value if report.kind else "complaint"
    assignment = Assignment(
        report_id=report.id, unit_id=unit.id, round=round_, dispatched_at=now,
        dispatched_by_id=actor.id,
        acknowledge_due_at=calendar.add_working_days(now, settings["acknowledge_days"]),
        return_due_at=calendar.add_working_days(now, settings["return_window_days"]),
        reply_due_at=calendar.add_working_days(
            now, deadlines.reply_days(_campaign(session, report), kind)))
    session.add(assignment)
    session.flush()
    return assignment


def _unit(session: Session, unit_id: int) -> Unit:
    unit = session.get(Unit, unit_id)
    if unit is None or not unit.is_active:
        raise TransitionError(_l("责任单位不存在或已停用。"))
    return unit


# -- intake desk ----------------------------------------------------------------------

def unfit_unit(action: str, unit: Unit) -> LazyString | None:
    """Why `action` ("dispatch" or "refer") cannot go to `unit`, or None:
    dispatch is for units in this system, referral for outside bodies."""
    external = unit.kind is UnitKind.external
    if action == "dispatch" and external:
        return _l("转办只能交给本系统内的单位；外部单位（如交警部门）请选择“移交”。")
    if action == "refer" and not external:
        return _l("移交只能交给外部单位（如交警部门）；本系统内的单位请用转办。")
    return None


def dispatch(session: Session, services: IntakeServices, report_id: int, unit_id: int,
             actor: Actor, *, note: str = "") -> Assignment:
    """转办 to a unit with fresh deadlines; the unit's contacts are told (no reporter PII)."""
    report = _begin(session, report_id, "dispatch", actor)
    unit = _unit(session, unit_id)
    if (problem := unfit_unit("dispatch", unit)) is not None:
        raise TransitionError(problem)
    assignment = _new_assignment(session, report, unit, actor)
    _advance(session, report, "dispatch", actor, public=True, note="",
             data={"unit_id": unit.id, "unit": unit.name, "note": clean_text(note)[:500],
                   "reply_due_at": assignment.reply_due_at.isoformat()}, kind="dispatched")
    notify_unit(session, services, unit, report, purpose="new_clue",
                text=f"新转办线索，请于{_cst_date(assignment.acknowledge_due_at)}前签收",
                dedupe=f"new_clue:{assignment.id}")
    return assignment


def refer(session: Session, services: IntakeServices, report_id: int, actor: Actor, *,
          unit_id: int | None = None, note: str = "") -> None:
    """Out of scope (e.g. traffic police): hand over and tell the citizen where it went."""
    report = _begin(session, report_id, "refer", actor)
    unit = _unit(session, unit_id) if unit_id else session.exec(
        select(Unit).where(Unit.kind == UnitKind.external)).first()
    if unit is not None and (problem := unfit_unit("refer", unit)) is not None:
        raise TransitionError(problem)
    name, name_en = (unit.name, unit.name_en) if unit else (None, None)
    public_note = as_recorded(lambda: referred_note(name))
    _advance(session, report, "refer", actor, public=True, note=public_note,
             data={"unit": name, "unit_en": name_en, "note": clean_text(note)[:500]},
             kind="referred")
    if unit is not None and unit.email:
        notify_unit(session, services, unit, report, purpose="referral", text="移交线索")
    for told in [report, *merged_into(session, report.id)]:  # duplicates share its fate
        notify_citizen(session, services, told, purpose="referred",
                       text=messages.referred_text(told, name, name_en))


def not_accept(session: Session, services: IntakeServices, report_id: int, actor: Actor, *,
               reason: str) -> None:
    reason = clean_text(reason)[:500]
    if not reason:
        raise TransitionError(_l("请填写不予受理的理由。"))
    report = _begin(session, report_id, "not_accept", actor)
    _advance(session, report, "not_accept", actor, public=True, note=reason,
             kind="not_accepted")
    for told in [report, *merged_into(session, report.id)]:
        if told.kind is Kind.spam:
            continue  # spam gets no answer: the tracker shows the decision to whoever asks
        notify_citizen(session, services, told, purpose="not_accepted",
                       text=messages.not_accepted_text(told, reason))


def merge(session: Session, services: IntakeServices, report_id: int, into_tracking_no: str,
          actor: Actor) -> Report:
    """并单: the duplicate closes as merged into a report of the same campaign (the one that
    report was itself merged into, if so); its citizen follows that report on their own
    receipt and is told its answer, at once if it has one already."""
    report = _begin(session, report_id, "merge", actor)
    target = session.exec(select(Report).where(
        Report.tracking_no == (into_tracking_no or "").strip().upper(),
        Report.campaign_id == report.campaign_id)).first()
    if target is not None:
        # Stops at this report if the chain leads here, on a merged one if it goes round.
        target = merge_root(session, target)
    if target is None or target.id == report.id or target.status is S.merged:
        raise TransitionError(_l("请填写另一条线索的正确受理编号。"))
    if target.status in (S.referred, S.not_accepted):
        raise TransitionError(_l("该线索已移交或不予受理，不能并入，请直接处理本线索。"))
    report.duplicate_of_id = target.id
    note = as_recorded(lambda: merged_note(target.tracking_no))
    _advance(session, report, "merge", actor, public=True, note=note,
             data={"into": target.tracking_no}, kind="merged")
    notify_citizen(session, services, report, purpose="merged",
                   text=messages.merged_text(report, target))
    answer = session.exec(select(Reply).where(Reply.report_id == target.id,
                                              Reply.review_status == ReviewStatus.approved)
                          .order_by(Reply.id.desc())).first()
    if answer is not None:  # answered already: no later approval will tell these citizens
        for duplicate in [report, *merged_into(session, report.id)]:
            notify_citizen(session, services, duplicate, purpose="result",
                           text=messages.merged_result_text(duplicate, target,
                                                            answer.public_text))
    return target


# -- unit -----------------------------------------------------------------------------

def acknowledge(session: Session, services: IntakeServices, report_id: int,
                actor: Actor) -> None:
    """签收."""
    report = _begin(session, report_id, "acknowledge", actor)
    assignment = current_assignment(session, report.id)
    assignment.acknowledged_at = utcnow()
    _advance(session, report, "acknowledge", actor, public=True, kind="acknowledged")


def return_(session: Session, services: IntakeServices, report_id: int, actor: Actor, *,
            reason: str) -> None:
    """退回: not ours, within the return window, with a reason; back to the triage queue."""
    reason = clean_text(reason)[:1000]
    if not reason:
        raise TransitionError(_l("请填写退回理由。"))
    report = _begin(session, report_id, "return_", actor)
    assignment = current_assignment(session, report.id)
    if utcnow() > as_utc(assignment.return_due_at):
        raise TransitionError(_l("已超过退回期限（转办后2个工作日），请办理或申请延期。"))
    assignment.returned_at = utcnow()
    assignment.return_reason = reason
    assignment.is_current = False
    _advance(session, report, "return_", actor, note=reason, kind="returned")
    notify_taskforce(session, services, report, purpose="returned", text="责任单位退回线索")


def request_extension(session: Session, services: IntakeServices, report_id: int,
                      actor: Actor, *, days: int, reason: str) -> None:
    """延期: once per assignment, before the cutoff hour of the due day."""
    reason = clean_text(reason)[:1000]
    report = _begin(session, report_id, "request_extension", actor)
    settings = deadlines.settings(_campaign(session, report))
    if not reason:
        raise TransitionError(_l("请填写延期理由。"))
    if not 1 <= int(days) <= int(settings["extension_max_days"]):
        raise TransitionError(_l("延期天数应在1至%(n)d个工作日之间。",
                                 n=settings["extension_max_days"]))
    assignment = current_assignment(session, report.id)
    if assignment.extension_requested_at is not None:
        raise TransitionError(_l("每条线索只能申请一次延期。"))
    hour, minute = (int(x) for x in str(settings["extension_request_cutoff"]).split(":"))
    due_day = as_utc(assignment.reply_due_at).astimezone(CST).date()
    cutoff = datetime.combine(due_day, time(hour, minute), tzinfo=CST)
    if utcnow() > cutoff:
        raise TransitionError(_l("延期须在办理期限当天%(t)s前申请。",
                                 t=settings["extension_request_cutoff"]))
    assignment.extension_requested_at = utcnow()
    assignment.extension_days = int(days)
    assignment.extension_reason = reason
    _advance(session, report, "request_extension", actor, note=reason,
             data={"days": int(days)}, kind="extension_requested")
    notify_taskforce(session, services, report, purpose="extension_request",
                     text="责任单位申请延期")


def decide_extension(session: Session, services: IntakeServices, report_id: int,
                     actor: Actor, *, approve: bool, note: str = "") -> None:
    report = _begin(session, report_id, "decide_extension", actor)
    assignment = current_assignment(session, report.id)
    if assignment is None or assignment.extension_requested_at is None \
            or assignment.extension_decision is not None:
        raise TransitionError(_l("没有待审批的延期申请。"))
    assignment.extension_decision = "approved" if approve else "refused"
    if approve:
        assignment.reply_due_at = deadlines.work_calendar(session).add_working_days(
            as_utc(assignment.reply_due_at), assignment.extension_days)
    _advance(session, report, "decide_extension", actor, note=clean_text(note)[:500],
             data={"approved": approve, "reply_due_at": assignment.reply_due_at.isoformat()},
             kind="extension_approved" if approve else "extension_refused")
    unit = session.get(Unit, assignment.unit_id)
    notify_unit(session, services, unit, report, purpose="extension_decision",
                text="延期申请已批准" if approve else "延期申请未获批准")


def reply(session: Session, services: IntakeServices, report_id: int, actor: Actor, *,
          finding: str, measures: str, public_text: str, accountability: str = "",
          attachments: list[IncomingFile] | None = None) -> Reply:
    """办结回复 with the finding, the measures, accountability, the text for the citizen and
    evidence files (under the same upload rules as citizens' attachments)."""
    try:
        prepared = prepare(attachments or [], max_files=services.max_files,
                           max_bytes=services.max_file_bytes)
    except UploadError as exc:
        raise TransitionError(exc.args[0]) from None
    report = _begin(session, report_id, "reply", actor)
    try:
        finding_value = Finding(finding)
    except ValueError:
        raise TransitionError(_l("请选择核实情况。")) from None
    measures, public_text = clean_text(measures)[:4000], clean_text(public_text)[:2000]
    if not measures or not public_text:
        raise TransitionError(_l("请填写处理情况和给群众的答复。"))
    assignment = current_assignment(session, report.id)
    assignment.replied_at = utcnow()
    answer = Reply(report_id=report.id, assignment_id=assignment.id, finding=finding_value,
                   measures=measures, accountability=clean_text(accountability)[:2000],
                   public_text=public_text, author_id=actor.id,
                   review_status=ReviewStatus.pending)
    session.add(answer)
    session.flush()
    stored = store(prepared, services.upload_dir) if prepared else []
    try:
        for item in stored:
            attachment = Attachment(report_id=report.id, stored_name=item.stored_name,
                                    original_name=item.original_name,
                                    content_type=item.content_type, size=item.size,
                                    sha256=item.sha256)
            session.add(attachment)
            session.flush()
            session.add(ReplyAttachment(reply_id=answer.id, attachment_id=attachment.id))
        _advance(session, report, "reply", actor, data={"reply_id": answer.id,
                                                        "finding": finding_value.value,
                                                        "files": len(stored)},
                 kind="replied")
    except BaseException:
        discard(stored)
        raise
    return answer


# -- task force review and citizen feedback ---------------------------------------------

def _pending_reply(session: Session, report: Report) -> Reply:
    answer = session.exec(select(Reply).where(Reply.report_id == report.id,
                                              Reply.review_status == ReviewStatus.pending)
                          .order_by(Reply.id.desc())).first()
    if answer is None:
        raise TransitionError(_l("没有待审核的回复。"))
    return answer


def review(session: Session, services: IntakeServices, report_id: int, actor: Actor, *,
           approve: bool, note: str = "") -> Reply:
    """审核: approve (the citizen is told on their channel) or send back with a reason."""
    note = clean_text(note)[:1000]
    report = _begin(session, report_id, "approve" if approve else "reject_reply", actor)
    answer = _pending_reply(session, report)
    answer.reviewer_id, answer.reviewed_at, answer.review_note = actor.id, utcnow(), note
    assignment = session.get(Assignment, answer.assignment_id)
    unit = session.get(Unit, assignment.unit_id)
    if not approve:
        if not note:
            raise TransitionError(_l("退回修改须填写理由。"))
        answer.review_status = ReviewStatus.rejected
        _advance(session, report, "reject_reply", actor, note=note, kind="reply_rejected")
        notify_unit(session, services, unit, report, purpose="reply_rejected",
                    text=f"办结回复未通过审核：{note[:60]}")
        return answer
    answer.review_status = ReviewStatus.approved
    _advance(session, report, "approve", actor, note=note, kind="reviewed")
    # 告知: the answer is published and sent in the same transaction, so `reviewed` is
    # never left standing; the trail shows both steps.
    _advance(session, report, "inform", actor, public=True, note=answer.public_text,
             data={"reply_id": answer.id}, kind="reply_approved")
    notify_citizen(session, services, report, purpose="result",
                   text=messages.result_text(report, answer.public_text))
    for duplicate in merged_into(session, report.id):
        notify_citizen(session, services, duplicate, purpose="result",
                       text=messages.merged_result_text(duplicate, report, answer.public_text))
    return answer


def rate(session: Session, services: IntakeServices, report_id: int, rating: str, *,
         channel: str, actor: Actor = CITIZEN, note: str = "") -> Report:
    """回访: 满意/基本满意 close; the first 不满意 reopens (重办), a second closes flagged."""
    try:
        value = Rating(rating)
    except ValueError:
        raise TransitionError(_l("评价只能是满意、基本满意或不满意。")) from None
    begin_write(session)
    reopened_before = session.exec(select(sa.func.count()).select_from(Event).where(
        Event.report_id == report_id, Event.kind == "reopened")).one()
    reopen = value is Rating.unsatisfied and not reopened_before
    report = _begin(session, report_id, "reopen" if reopen else "close", actor)
    answer = session.exec(select(Reply).where(Reply.report_id == report.id,
                                              Reply.review_status == ReviewStatus.approved)
                          .order_by(Reply.id.desc())).first()
    session.add(Feedback(report_id=report.id, reply_id=answer.id if answer else None,
                         rating=value, channel=channel[:16], note=clean_text(note)[:500],
                         recorded_by_id=actor.id))
    session.add(Event(report_id=report.id, kind="rated", public=True, actor_id=actor.id,
                      data={"rating": value.value, "channel": channel}))
    assignment = current_assignment(session, report.id)
    if reopen:
        unit = session.get(Unit, assignment.unit_id)
        new = _new_assignment(session, report, unit, actor)
        session.add(Escalation(report_id=report.id, assignment_id=new.id, due_kind="feedback",
                               level=EscalationLevel.supervision, by_id=actor.id,
                               note="群众不满意，重办督办"))
        _advance(session, report, "reopen", actor, public=True, kind="reopened",
                 data={"unit": unit.name, "reply_due_at": new.reply_due_at.isoformat()})
        notify_unit(session, services, unit, report, purpose="reopened",
                    text="群众对办理结果不满意，请重新办理（督办）", dedupe=f"reopened:{new.id}")
        return report
    flagged = value is Rating.unsatisfied
    if flagged and assignment is not None:
        session.add(Escalation(report_id=report.id, assignment_id=assignment.id,
                               due_kind="feedback", level=EscalationLevel.listed,
                               by_id=actor.id, note="重办后群众仍不满意"))
        notify_taskforce(session, services, report, purpose="unsatisfied_again",
                         text="重办后群众仍不满意，已办结并挂牌督办")
    _advance(session, report, "close", actor, public=True, kind="closed",
             data={"rating": value.value, "flagged": flagged})
    return report


def close_unrated(session: Session, services: IntakeServices, report_id: int) -> None:
    """The feedback window passed without a rating: close as 未评价."""
    report = _begin(session, report_id, "close", SYSTEM)
    session.add(Feedback(report_id=report.id, rating=Rating.unrated, channel="system"))
    _advance(session, report, "close", SYSTEM, public=True, kind="closed",
             data={"rating": Rating.unrated.value})


LEVELS = (EscalationLevel.reminder, EscalationLevel.supervision, EscalationLevel.listed)
LEVEL_TEXT = {EscalationLevel.warning: "预警：办理期限将至", EscalationLevel.reminder: "催办",
              EscalationLevel.supervision: "督办", EscalationLevel.listed: "挂牌督办"}


def escalate(session: Session, services: IntakeServices, report_id: int, actor: Actor, *,
             level: EscalationLevel | None = None, due_kind: str | None = None,
             note: str = "") -> Escalation | None:
    """催办 → 督办 → 挂牌督办; each level once per deadline (returns None if already there).

    `due_kind` ("acknowledge", "reply", "reply_extended") names the deadline; by default the
    one that applies now (签收 before the unit signs, 办结回复 after, the extended one once
    an extension is approved), as the sweep counts it.
    """
    report = _begin(session, report_id, "escalate", actor)
    assignment = current_assignment(session, report.id)
    if due_kind is None:
        due_kind = deadlines.assignment_due(report.status, assignment)[0]
    done = set(session.exec(select(Escalation.level).where(
        Escalation.assignment_id == assignment.id, Escalation.due_kind == due_kind)))
    if level is None:
        level = next((lv for lv in LEVELS if lv not in done), None)
        if level is None:
            raise TransitionError(_l("已是最高督办级别（挂牌督办）。"))
    if level in done:
        return None
    escalation = Escalation(report_id=report.id, assignment_id=assignment.id,
                            due_kind=due_kind, level=level, by_id=actor.id,
                            note=clean_text(note)[:500])
    try:
        with session.begin_nested():
            session.add(escalation)
    except sa.exc.IntegrityError:  # the sweep got there first
        return None
    _advance(session, report, "escalate", actor, note=LEVEL_TEXT[level],
             data={"level": level.value, "due_kind": due_kind}, kind=f"escalated_{level.value}")
    unit = session.get(Unit, assignment.unit_id)
    # Once per deadline: one moved by a calendar change (a new day) may be escalated again.
    day = to_cst(deadlines.assignment_due(report.status, assignment)[1]).strftime("%Y%m%d")
    notify_unit(session, services, unit, report, purpose=f"escalation_{level.value}",
                text=LEVEL_TEXT[level], dedupe=f"esc:{assignment.id}:{due_kind}:{level.value}:{day}")
    if level is not EscalationLevel.warning:
        notify_taskforce(session, services, report, purpose=f"escalation_{level.value}",
                         text=f"{unit.short_name}{LEVEL_TEXT[level]}",
                         dedupe=f"esc-tf:{assignment.id}:{due_kind}:{level.value}:{day}")
    return escalation


def _cst_date(value: datetime) -> str:
    return as_utc(value).astimezone(CST).strftime("%m月%d日")

