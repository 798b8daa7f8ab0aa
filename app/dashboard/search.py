"""Staff search, scoped by role: a unit finds only clues it was given; phone look-ups
(the reporter's number) are for the task force only and are written to the audit trail."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from sqlmodel import Session, select

from app.dashboard import metrics, sqlutil
from app.dashboard.exports import download, requested_format
from app.dashboard.filters import Filters
from intake.models import Event, Report, Reporter, ReportStatus
from intake.pii import PiiVault
from intake.registration import RegistrationError, normalise_phone
from intake.services import current_services
from notices.access import current_staff, staff_required
from notices.campaigns import staff_campaign
from notices.db import get_session
from routing.models import Assignment, Unit
from routing.scope import unit_report_ids
from routing.web import STATUS_LABELS, unit_text

bp = Blueprint("search", __name__, template_folder="templates")
LIMIT = 200
ROLES = ("taskforce", "admin", "unit")


@dataclass
class Query:
    text: str = ""
    phone: str = ""
    plate: str = ""
    f: Filters | None = None
    truncated: bool = False  # set by a unit's text search that read only the newest clues


UNIT_TEXT_SCAN = 1000  # a unit's text search reads its newest matching clues, this many


def _as_units_read_it(session: Session, conds: list, text: str,
                      vault) -> tuple[list[int], bool]:
    """The matches whose text still matches once the reporter's own details are masked, as
    a unit reads it (routing.web.unit_text): a unit must not confirm a suspected reporter's
    name or number by searching for it. Only the unit's own clues are read, the newest
    UNIT_TEXT_SCAN of them, with their reporters in one query; also says whether there
    were more."""
    wanted = text.casefold()
    found = []
    reports = session.execute(select(Report).where(*conds)
                              .order_by(Report.received_at.desc(), Report.id.desc())
                              .limit(UNIT_TEXT_SCAN + 1)).scalars().all()
    truncated = len(reports) > UNIT_TEXT_SCAN
    reports = reports[:UNIT_TEXT_SCAN]
    reporter_ids = {r.reporter_id for r in reports if r.reporter_id is not None}
    if reporter_ids:  # loaded into the session: unit_text finds them without a query each
        session.execute(select(Reporter).where(Reporter.id.in_(reporter_ids))).scalars().all()
    for report in reports:
        if text.upper().replace(" ", "") == report.plate \
                or wanted in (report.place_text or "").casefold() \
                or wanted in unit_text(session, report, vault).casefold():
            found.append(report.id)
    return found, truncated


def search(session: Session, actor, q: Query, *, limit: int = LIMIT,
           phone_hash: str | None = None, vault: PiiVault | None = None) -> tuple[int, list]:
    """Reports matching `q` that `actor` may see, newest first: (count, rows). A unit's
    text search needs `vault` (its matches are checked against the masked text)."""
    f = q.f or Filters()
    conds = list(f.report_conditions(with_unit=actor.role != "unit"))
    if f.item:
        conds.append(sqlutil.has_item(sqlutil.dialect(session), f.item))
    if actor.role == "unit":
        conds.append(Report.id.in_(unit_report_ids(actor.unit_id)))
        if f.unit_id and f.unit_id != actor.unit_id:
            conds.append(sa.false())
    text = q.text.strip()
    exact = session.execute(select(Report.id).where(Report.tracking_no == text.upper())
                            ).scalar() if text else None
    if exact is not None:  # a tracking number: no need to scan the texts
        conds.append(Report.id == exact)
    elif text:
        like = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        conds.append(sa.or_(Report.plate == text.upper().replace(" ", ""),
                            Report.text.like(like, escape="\\"),
                            Report.place_text.like(like, escape="\\")))
    if q.plate.strip():
        conds.append(Report.plate == q.plate.strip().upper().replace(" ", "").replace(".", "·"))
    if phone_hash is not None:
        conds.append(Report.reporter_id.in_(select(Reporter.id).where(
            Reporter.phone_hash == phone_hash)))
    if text and exact is None and actor.role == "unit":  # every other filter applied first
        found, q.truncated = _as_units_read_it(session, conds, text, vault)
        conds = [Report.id.in_(found)]
    count = int(session.execute(select(sa.func.count()).select_from(Report).where(*conds))
                .scalar_one())
    stmt = (select(Report.id, Report.tracking_no, Report.received_at, Report.status,
                   Report.category, Report.district, Unit.short_name)
            .select_from(Report)
            .outerjoin(Assignment, sa.and_(Assignment.report_id == Report.id,
                                           Assignment.is_current == sa.true()))
            .outerjoin(Unit, Unit.id == Assignment.unit_id)
            .where(*conds).order_by(Report.received_at.desc(), Report.id.desc()).limit(limit))
    return count, session.execute(stmt).all()


def _run(session: Session):
    staff = current_staff()
    campaign = staff_campaign(session)
    args = request.args
    q = Query(text=args.get("q", "")[:100], phone=args.get("phone", "")[:32],
              plate=args.get("plate", "")[:16], f=Filters.from_args(args, campaign.id))
    errors: list[str] = []
    phone_hash = None
    if q.phone.strip():
        if staff.role == "unit":
            errors.append(_("按举报人电话查询仅限专班使用。"))
        else:
            try:
                phone_hash = current_services().vault.keyed_hash(normalise_phone(q.phone))
            except RegistrationError:
                errors.append(_("电话号码格式不正确。"))
    searched = any(args.get(k) for k in ("q", "phone", "plate", "from", "to", "status",
                                         "unit", "item", "category", "channel"))
    if errors or not searched:
        return staff, campaign, q, errors, searched, 0, []
    if phone_hash is not None:  # looking a reporter up by number is a view of PII: audited
        session.add(Event(report_id=None, kind="pii_search", actor_id=staff.id,
                          note=_("按举报人电话查询线索")))
        session.commit()
    count, rows = search(session, staff, q, phone_hash=phone_hash or None,
                         vault=current_services().vault)
    return staff, campaign, q, errors, searched, count, rows


@bp.route("/search")
@staff_required(*ROLES)
def index():
    session = get_session()
    staff, campaign, q, errors, searched, count, rows = _run(session)
    units = metrics.unit_names(session)
    return render_template(
        "dashboard/search.html", q=q, f=q.f, errors=errors, searched=searched, count=count,
        rows=rows, limit=LIMIT, units=units, is_unit=staff.role == "unit",
        status_labels=STATUS_LABELS, scan=UNIT_TEXT_SCAN,
        statuses=[(s.value, STATUS_LABELS[s.value]) for s in ReportStatus])


@bp.route("/search/export")
@staff_required(*ROLES)
def export():
    session = get_session()
    staff, _campaign, q, errors, searched, count, rows = _run(session)
    fmt = requested_format()
    header = [_("受理编号"), _("受理时间"), _("状态"), _("问题类别"), _("区县"), _("责任单位")]
    data = [(r.tracking_no, r.received_at, str(STATUS_LABELS.get(getattr(r.status, "value",
                                                                          r.status), r.status)),
             r.category, r.district, r.short_name) for r in rows]
    return download(fmt, header, data, "线索查询结果", title="查询结果")


