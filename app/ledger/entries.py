"""The rectification ledger (整改工作台账): entries, their progress history and completion.

Plain functions over a session; each checks who may act, writes its audit `Event`
(report_id None unless the entry comes from one clue) and leaves committing to the caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlmodel import Session, select

from app.models import LedgerEntry, LedgerEntryReport, LedgerSource, LedgerStatus, LedgerUpdate
from intake.models import Channel, Event, Report
from intake.sanitize import clean_text
from notices.db import begin_write
from notices.models import ChecklistItem, Phase
from notices.timeutil import as_utc, utcnow
from routing.models import Assignment, Finding, Reply, ReviewStatus, Unit, UnitKind

DESK = frozenset({"taskforce", "admin"})
# The 8 columns of attachment 2, in the template's order.
TEMPLATE_COLUMNS = ("序号", "问题类别", "具体表现", "整改措施", "责任单位", "整改时限",
                    "整改进度及可验证成果", "问责情况")
SOURCE_LABELS = {LedgerSource.clue: _l("群众投诉举报"), LedgerSource.inspection: _l("督察检查"),
                 LedgerSource.self_check: _l("对照自查")}
CONFIRMED = (Finding.true, Finding.partly_true)


class LedgerError(Exception):
    def __init__(self, message, status: int = 400) -> None:
        super().__init__(str(message))
        self.message = message
        self.status = status


def _role(actor) -> str:
    return getattr(actor.role, "value", actor.role)


def _event(session: Session, actor, kind: str, entry: LedgerEntry, note: str = "",
           report_id: int | None = None, **data) -> None:
    session.add(Event(report_id=report_id, kind=kind, actor_id=actor.id, note=note[:500],
                      data={"entry_id": entry.id, "seq": entry.seq, **data}))


def _text(value: str | None, limit: int) -> str:
    return clean_text(value)[:limit]


def visible(session: Session, actor, campaign_id: int, *, status: str | None = None,
            unit_id: int | None = None) -> list[LedgerEntry]:
    """The entries `actor` may see: all for the task force, the unit's own for a unit."""
    stmt = select(LedgerEntry).where(LedgerEntry.campaign_id == campaign_id)
    if _role(actor) == "unit":
        stmt = stmt.where(LedgerEntry.unit_id == actor.unit_id)
    elif unit_id:
        stmt = stmt.where(LedgerEntry.unit_id == unit_id)
    if status == "pending":
        stmt = stmt.where(LedgerEntry.id.in_(pending_ids(session)))
    elif status in {s.value for s in LedgerStatus}:
        stmt = stmt.where(LedgerEntry.status == status)
    return list(session.exec(stmt.order_by(LedgerEntry.seq)))


def get_for(session: Session, actor, entry_id: int) -> LedgerEntry:
    """:raise LedgerError 404: no such entry; 403: another unit's entry."""
    entry = session.get(LedgerEntry, entry_id)
    scope = getattr(actor, "campaign_id", None)  # an account limited to one campaign
    if entry is None or scope is not None and entry.campaign_id != scope:
        raise LedgerError(_l("台账条目不存在。"), 404)
    if _role(actor) == "unit" and entry.unit_id != actor.unit_id:
        raise LedgerError(_l("该台账条目不属于本单位。"), 403)
    if _role(actor) not in DESK | {"unit"}:
        raise LedgerError(_l("您的角色不能查看整改台账。"), 403)
    return entry


def pending_ids(session: Session):
    """Entries whose latest progress update asks for completion not yet approved (待销号)."""
    latest = (select(sa.func.max(LedgerUpdate.id)).group_by(LedgerUpdate.entry_id))
    return (select(LedgerUpdate.entry_id).join(LedgerEntry, LedgerEntry.id == LedgerUpdate.entry_id)
            .where(LedgerUpdate.id.in_(latest), LedgerUpdate.status == LedgerStatus.done,
                   LedgerEntry.status != LedgerStatus.done))


def is_pending(session: Session, entry: LedgerEntry) -> bool:
    latest = session.exec(select(LedgerUpdate).where(LedgerUpdate.entry_id == entry.id)
                          .order_by(LedgerUpdate.id.desc())).first()
    return bool(latest and latest.status is LedgerStatus.done
                and entry.status is not LedgerStatus.done)


def history(session: Session, entry: LedgerEntry) -> list[LedgerUpdate]:
    return list(session.exec(select(LedgerUpdate).where(LedgerUpdate.entry_id == entry.id)
                             .order_by(LedgerUpdate.at, LedgerUpdate.id)))


def linked_reports(session: Session, entry: LedgerEntry) -> list[Report]:
    ids = select(LedgerEntryReport.report_id).where(LedgerEntryReport.entry_id == entry.id)
    return list(session.exec(select(Report).where(
        sa.or_(Report.id.in_(ids), Report.id == entry.report_id)).order_by(Report.id)))


def _next_seq(session: Session, campaign_id: int) -> int:
    current = session.exec(select(sa.func.max(LedgerEntry.seq))
                           .where(LedgerEntry.campaign_id == campaign_id)).one()
    return int(current or 0) + 1


def _reports_by_numbers(session: Session, numbers: list[str], campaign_id: int) -> list[Report]:
    """The campaign's reports with these numbers (others' count as not found)."""
    wanted = [n.strip().upper() for n in numbers if n and n.strip()]
    if not wanted:
        return []
    found = list(session.exec(select(Report).where(Report.tracking_no.in_(wanted),
                                                   Report.campaign_id == campaign_id)))
    missing = set(wanted) - {r.tracking_no for r in found}
    if missing:
        raise LedgerError(_l("找不到受理编号：%(nos)s", nos="、".join(sorted(missing))))
    return found


def _responsible_unit(session: Session, unit_id: int | None) -> Unit:
    """One of the campaign's own units: an outside body (the traffic police) is referred
    to, never listed as responsible for a rectification."""
    unit = session.get(Unit, unit_id) if unit_id else None
    if unit is None or unit.kind is UnitKind.external:
        raise LedgerError(_l("请选择责任单位。"))
    return unit


def create(session: Session, actor, *, campaign_id: int, category: str, symptom: str,
           measures: str, unit_id: int, deadline_text: str = "", progress: str = "",
           accountability: str = "", status: str = LedgerStatus.in_progress.value,
           source: str = LedgerSource.self_check.value, tracking_nos: list[str] = (),
           reports: list[Report] = ()) -> LedgerEntry:
    """Add an entry by hand (or from clues). Task force only; gets the next 序号."""
    if _role(actor) not in DESK:
        raise LedgerError(_l("只有专班可以新增台账条目。"), 403)
    begin_write(session)
    category, symptom, measures = _text(category, 32), _text(symptom, 2000), \
        _text(measures, 4000)
    if not category or not symptom or not measures:
        raise LedgerError(_l("请填写问题类别、具体表现和整改措施。"))
    unit = _responsible_unit(session, unit_id)
    try:
        status_value, source_value = LedgerStatus(status), LedgerSource(source)
    except ValueError:
        raise LedgerError(_l("状态或来源不正确。")) from None
    if status_value is LedgerStatus.done:
        raise LedgerError(_l("新条目不能直接标为已完成，完成后由专班销号。"))
    linked = list(reports) + _reports_by_numbers(session, list(tracking_nos), campaign_id)
    entry = LedgerEntry(campaign_id=campaign_id, seq=_next_seq(session, campaign_id),
                        category=category, symptom=symptom, measures=measures,
                        unit_id=unit.id, deadline_text=_text(deadline_text, 128),
                        progress=_text(progress, 4000),
                        accountability=_text(accountability, 2000), status=status_value,
                        source=source_value,
                        report_id=linked[0].id if len(linked) == 1 else None)
    session.add(entry)
    session.flush()
    for report in {r.id: r for r in linked}.values():
        session.add(LedgerEntryReport(entry_id=entry.id, report_id=report.id))
    session.add(LedgerUpdate(entry_id=entry.id, author_id=actor.id, progress=entry.progress,
                             status=entry.status))
    _event(session, actor, "ledger_created", entry, report_id=entry.report_id,
           reports=[r.tracking_no for r in linked])
    session.flush()
    return entry


def confirmed_replies(session: Session, campaign_id: int, limit: int = 100) -> list:
    """Approved replies that found the clue (partly) true and are not in the ledger yet."""
    in_ledger = select(LedgerEntryReport.report_id)
    stmt = (select(Reply, Report, Unit).join(Report, Report.id == Reply.report_id)
            .join(Assignment, Assignment.id == Reply.assignment_id)
            .join(Unit, Unit.id == Assignment.unit_id)
            .where(Report.campaign_id == campaign_id,
                   Reply.review_status == ReviewStatus.approved,
                   Reply.finding.in_(CONFIRMED), Report.id.not_in(in_ledger))
            .order_by(Reply.id.desc()).limit(limit))  # newest first, by primary key
    seen: set[int] = set()
    rows = []
    for reply, report, unit in session.exec(stmt).all():
        if report.id not in seen:  # a reopened clue may have two approved replies
            seen.add(report.id)
            rows.append((reply, report, unit))
    return rows


def _default_deadline(session: Session, campaign_id: int) -> str:
    """整改时限 default: the due date of the campaign's 集中整治 phase ("9月30日前")."""
    phases = list(session.exec(select(Phase).where(Phase.campaign_id == campaign_id,
                                                   Phase.due_on.is_not(None))
                               .order_by(Phase.seq)))
    chosen = next((p for p in phases if "整治" in p.name), phases[-1] if phases else None)
    return f"{chosen.due_on.month}月{chosen.due_on.day}日前" if chosen else ""


def create_from_reply(session: Session, actor, report_id: int) -> LedgerEntry:
    """One step from a confirmed reply: category and 具体表现 from the clue's checklist item,
    measures and accountability from the unit's reply, the unit that replied."""
    if _role(actor) not in DESK:
        raise LedgerError(_l("只有专班可以新增台账条目。"), 403)
    report = session.get(Report, report_id)
    if report is None:
        raise LedgerError(_l("线索不存在。"), 404)
    reply = session.exec(select(Reply).where(Reply.report_id == report.id,
                                             Reply.review_status == ReviewStatus.approved)
                         .order_by(Reply.id.desc())).first()
    if reply is None or reply.finding not in CONFIRMED:
        raise LedgerError(_l("只有审核通过且核实属实（或部分属实）的线索才能列入台账。"))
    if session.exec(select(LedgerEntryReport).where(
            LedgerEntryReport.report_id == report.id)).first():
        raise LedgerError(_l("该线索已列入整改台账。"))
    assignment = session.get(Assignment, reply.assignment_id)
    item = None
    if report.items:
        item = session.exec(select(ChecklistItem).where(
            ChecklistItem.campaign_id == report.campaign_id,
            ChecklistItem.number == int(report.items[0]))).first()
    category = item.category if item else (report.category or "其他")
    symptom = item.group_title.rstrip("。") if item else (report.category or "群众反映问题")
    source = LedgerSource.inspection if report.channel is Channel.inspection \
        else LedgerSource.clue
    return create(session, actor, campaign_id=report.campaign_id, category=category,
                  symptom=f"{symptom}（线索{report.tracking_no}）", measures=reply.measures,
                  unit_id=assignment.unit_id,
                  deadline_text=_default_deadline(session, report.campaign_id),
                  accountability=reply.accountability, source=source.value, reports=[report])


def edit(session: Session, actor, entry_id: int, **fields) -> LedgerEntry:
    """The task force corrects an entry's columns (not its status: see `add_progress`)."""
    if _role(actor) not in DESK:
        raise LedgerError(_l("只有专班可以修改台账条目。"), 403)
    begin_write(session)
    entry = get_for(session, actor, entry_id)
    limits = {"category": 32, "symptom": 2000, "measures": 4000, "deadline_text": 128,
              "accountability": 2000}
    changed = {}
    for name, limit in limits.items():
        if name in fields and fields[name] is not None:
            value = _text(fields[name], limit)
            if not value and name in ("category", "symptom", "measures"):
                raise LedgerError(_l("问题类别、具体表现和整改措施不能为空。"))
            if value != getattr(entry, name):
                changed[name] = value
                setattr(entry, name, value)
    if fields.get("unit_id") and int(fields["unit_id"]) != entry.unit_id:
        changed["unit_id"] = entry.unit_id = _responsible_unit(session,
                                                               int(fields["unit_id"])).id
    if changed:
        entry.updated_at = utcnow()
        _event(session, actor, "ledger_edited", entry, fields=sorted(changed))
    return entry


def add_progress(session: Session, actor, entry_id: int, *, progress: str,
                 status: str) -> LedgerUpdate:
    """整改进度: a unit (own entries) or the task force adds a dated progress note.

    A unit reporting 已完成 asks for completion; the entry stays 整改中 until the task
    force approves it (逐项对账销号). History is kept, never overwritten.
    """
    begin_write(session)
    entry = get_for(session, actor, entry_id)
    text = _text(progress, 4000)
    if not text:
        raise LedgerError(_l("请填写整改进度及可验证成果。"))
    try:
        wanted = LedgerStatus(status)
    except ValueError:
        raise LedgerError(_l("状态不正确。")) from None
    if entry.status is LedgerStatus.done:
        raise LedgerError(_l("该条目已销号，如需补充请联系专班。"))
    update = LedgerUpdate(entry_id=entry.id, author_id=actor.id, progress=text, status=wanted)
    session.add(update)
    entry.progress = text
    entry.updated_at = utcnow()
    if wanted is not LedgerStatus.done:
        entry.status = wanted
    _event(session, actor, "ledger_progress", entry, status=wanted.value)
    if wanted is LedgerStatus.done and _role(actor) in DESK:
        session.flush()
        approve(session, actor, entry.id)
    session.flush()
    return update


def approve(session: Session, actor, entry_id: int) -> LedgerEntry:
    """逐项对账销号: the task force confirms completion."""
    if _role(actor) not in DESK:
        raise LedgerError(_l("只有专班可以审核销号。"), 403)
    begin_write(session)
    entry = get_for(session, actor, entry_id)
    if entry.status is LedgerStatus.done:
        raise LedgerError(_l("该条目已销号。"))
    if not entry.progress:
        raise LedgerError(_l("尚无整改进度及可验证成果，不能销号。"))
    entry.status = LedgerStatus.done
    entry.completion_approved_by_id = actor.id
    entry.completion_approved_at = utcnow()
    entry.updated_at = utcnow()
    if not is_pending(session, entry):
        session.add(LedgerUpdate(entry_id=entry.id, author_id=actor.id, progress=entry.progress,
                                 status=LedgerStatus.done))
    _event(session, actor, "ledger_approved", entry)
    return entry


@dataclass
class Summary:
    total: int = 0
    done: int = 0
    in_progress: int = 0
    long_term: int = 0
    pending: int = 0
    accountability: int = 0

    @property
    def done_rate(self) -> float | None:
        return self.done / self.total if self.total else None


def status_as_of(entry: LedgerEntry, as_of: datetime | None) -> LedgerStatus:
    """The entry's status at `as_of` (now if None): one signed off (销号) later was still
    in hand then."""
    status = LedgerStatus(entry.status)
    approved = entry.completion_approved_at
    if as_of and status is LedgerStatus.done and approved and as_utc(approved) >= as_utc(as_of):
        return LedgerStatus.in_progress
    return status


def summary(session: Session, campaign_id: int, *, unit_id: int | None = None,
            as_of: datetime | None = None) -> Summary:
    """Counts of the campaign's ledger entries (of one unit if given). With `as_of`, as they
    stood at that instant: only the entries created before it count, in every figure alike
    (totals, 问责, 待销号), and an entry signed off (销号) later counts as still in hand (a
    stage report passes the start of the day after its date)."""
    scope = [LedgerEntry.campaign_id == campaign_id]
    if unit_id:
        scope.append(LedgerEntry.unit_id == unit_id)
    if as_of:
        scope.append(LedgerEntry.created_at < as_of)
    out = Summary()
    keys = {LedgerStatus.done: "done", LedgerStatus.in_progress: "in_progress",
            LedgerStatus.long_term: "long_term"}
    for entry in session.exec(select(LedgerEntry).where(*scope)).all():
        status = status_as_of(entry, as_of)
        out.total += 1
        setattr(out, keys[status], getattr(out, keys[status]) + 1)
    acc = select(sa.func.count()).select_from(LedgerEntry).where(
        *scope, LedgerEntry.accountability != "")
    out.accountability = int(session.exec(acc).one())
    pend = select(sa.func.count()).select_from(LedgerEntry).where(
        *scope, LedgerEntry.id.in_(pending_ids(session)))
    out.pending = int(session.exec(pend).one())
    return out
