"""Stage reports (阶段报告) for the campaign's due dates, as XLSX and DOCX.

For a date (5/10 台账报送, 7/25 阶段进度, 9/28 台账进度, 9/30 总结): clues received up to
that day and how they were handled, by category and by unit; ledger completion;
accountability (问责); exemptions (容错免责); the marked typical cases, 3 positive and 3
negative. Counts only and texts staff wrote; no reporter data, no clue text.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import click
import sqlalchemy as sa
from docx import Document
from docx.enum.section import WD_ORIENT
from docx.shared import Cm, Pt
from flask import current_app
from flask.cli import with_appcontext
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from sqlmodel import Session, select

from app.dashboard import metrics
from app.dashboard.exports import xlsx_append
from app.dashboard.filters import Filters
from app.ledger.entries import status_as_of, summary
from app.models import LedgerEntry, TypicalCase
from intake.models import Report
from notices.db import session_scope
from notices.models import Campaign, Phase
from notices.timeutil import as_date, cst_start
from routing.models import Assignment, Unit
from routing.transitions import TERMINAL

EXEMPTION_WORDS = ("容错", "免责")


@dataclass
class StageReport:
    campaign: Campaign
    as_of: date
    milestone: str
    received: int = 0
    handled: int = 0
    in_progress: int = 0
    by_category: list[tuple] = field(default_factory=list)  # category, received, handled, open
    by_unit: list[tuple] = field(default_factory=list)  # unit, assigned, replied, on_time%, 满意率
    ledger: object = None
    ledger_by_unit: list[tuple] = field(default_factory=list)  # unit, total, done, doing, long
    accountability: list[tuple] = field(default_factory=list)  # seq, unit, text
    exemptions: list[tuple] = field(default_factory=list)
    positive: list[tuple] = field(default_factory=list)  # tracking_no, category, unit, note
    negative: list[tuple] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"{self.campaign.short_title}阶段报告"

    @property
    def date_text(self) -> str:
        return f"{self.as_of.year}年{self.as_of.month}月{self.as_of.day}日"


def milestones(session: Session, campaign_id: int) -> list[tuple[date, str]]:
    """The campaign's report dates from its phases' milestones (section 五 of the notice).

    A milestone without a date (not fixed yet) or with one that does not read as
    YYYY-MM-DD has no report date and is left out.
    """
    out: dict[date, str] = {}
    for phase in session.exec(select(Phase).where(Phase.campaign_id == campaign_id)
                              .order_by(Phase.seq)):
        for m in phase.milestones or []:
            if not isinstance(m, dict):
                continue
            due = m.get("due_on")
            name = str(m.get("name") or "")
            if not due or not any(w in name for w in ("报送", "上报", "报告")):
                continue
            try:
                day = as_date(due)
            except ValueError:
                continue
            out[day] = name
    return sorted(out.items())


def build(session: Session, campaign: Campaign, as_of: date) -> StageReport:
    names = dict(milestones(session, campaign.id))
    report = StageReport(campaign=campaign, as_of=as_of,
                         milestone=names.get(as_of, "阶段工作进度"))
    f = Filters(campaign_id=campaign.id, date_to=as_of)
    end = cst_start(as_of + timedelta(days=1))
    # Handled by the report's date: closed (or referred, merged, refused) before its end;
    # a terminal state is never left, so closed_at says when.
    handled = sa.case((sa.and_(Report.status.in_(list(TERMINAL)), Report.closed_at < end), 1),
                      else_=0)
    rows = session.execute(
        select(sa.func.coalesce(Report.category, "其他"), handled, sa.func.count())
        .where(*f.report_conditions()).group_by(Report.category, handled)).all()
    table: dict[str, list[int]] = {}
    for category, was_handled, n in rows:
        bucket = table.setdefault(category, [0, 0, 0])
        bucket[0] += n
        bucket[1 if was_handled else 2] += n
    report.by_category = sorted(((k, *v) for k, v in table.items()), key=lambda r: -r[1])
    report.received = sum(r[1] for r in report.by_category)
    report.handled = sum(r[2] for r in report.by_category)
    report.in_progress = sum(r[3] for r in report.by_category)

    units = {u.id: u.name for u in session.exec(select(Unit))}
    timing = metrics.response_times(session, f, "unit", now=min(end, _now()))
    for key, t in sorted(timing.items(), key=lambda kv: str(kv[0])):
        if key in ("*", "None"):
            continue
        replied = t.reply[2]
        report.by_unit.append((units.get(int(key), key), t.assignments, replied,
                               _pct(t.on_time_rate), _pct(t.satisfaction)))
    report.ledger = summary(session, campaign.id, as_of=end)
    entries = list(session.exec(select(LedgerEntry).where(
        LedgerEntry.campaign_id == campaign.id, LedgerEntry.created_at < end)
        .order_by(LedgerEntry.seq)))
    per_unit: dict[int, list[int]] = {}
    for e in entries:
        bucket = per_unit.setdefault(e.unit_id, [0, 0, 0, 0])
        bucket[0] += 1
        bucket[{"已完成": 1, "整改中": 2, "长期推进": 3}[status_as_of(e, end).value]] += 1
        if e.accountability:
            row = (e.seq, units.get(e.unit_id, ""), e.accountability)
            report.accountability.append(row)
            if any(w in e.accountability for w in EXEMPTION_WORDS):
                report.exemptions.append(row)
    report.ledger_by_unit = [(units.get(k, k), *v) for k, v in sorted(per_unit.items())]
    cases = session.execute(
        select(TypicalCase, Report.tracking_no, Report.category, Unit.name)
        .join(Report, Report.id == TypicalCase.report_id)
        .outerjoin(Assignment, sa.and_(Assignment.report_id == Report.id,
                                       Assignment.is_current == sa.true()))
        .outerjoin(Unit, Unit.id == Assignment.unit_id)
        .where(TypicalCase.campaign_id == campaign.id, TypicalCase.at < end)
        .order_by(TypicalCase.at)).all()
    for case, number, category, unit in cases:
        target = report.positive if case.polarity == "positive" else report.negative
        if len(target) < 3:
            target.append((number, category or "", unit or "", case.note))
    return report


def _now() -> datetime:
    from notices.timeutil import utcnow
    return utcnow()


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


SECTIONS = {
    "category": ("一、问题线索受理及办理情况（按问题类别）", ("问题类别", "收到线索", "已办结", "办理中")),
    "unit": ("二、各责任单位办理情况", ("责任单位", "转办件数", "已回复", "按期率", "满意率")),
    "ledger": ("三、整改工作台账完成情况", ("责任单位", "问题数", "已完成", "整改中", "长期推进")),
    "accountability": ("四、责任追究情况", ("台账序号", "责任单位", "问责情况")),
    "exemptions": ("五、容错免责情况", ("台账序号", "责任单位", "情况")),
    "positive": ("六、正面典型案例", ("受理编号", "问题类别", "责任单位", "案例简述")),
    "negative": ("七、反面典型案例", ("受理编号", "问题类别", "责任单位", "案例简述")),
}


def _section_rows(r: StageReport) -> dict[str, list[tuple]]:
    return {"category": r.by_category, "unit": r.by_unit, "ledger": r.ledger_by_unit,
            "accountability": r.accountability, "exemptions": r.exemptions,
            "positive": r.positive, "negative": r.negative}


def overview(r: StageReport) -> list[str]:
    s = r.ledger
    return [
        f"截至{r.date_text}，共收到问题线索{r.received}条，已办结{r.handled}条，"
        f"正在办理{r.in_progress}条。",
        f"整改工作台账共列入问题{s.total}个，已完成{s.done}个，整改中{s.in_progress}个，"
        f"长期推进{s.long_term}个，待销号审核{s.pending}个，完成率{_pct(s.done_rate)}。",
        f"涉及责任追究的问题{s.accountability}个；容错免责{len(r.exemptions)}个。",
    ]


def to_xlsx(r: StageReport) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "阶段报告"
    thin = Side(style="thin")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    xlsx_append(sheet, [r.title])[0].font = Font(size=15, bold=True)
    xlsx_append(sheet, [f"{r.milestone}　{r.date_text}"])
    xlsx_append(sheet, [f"发文单位：{r.campaign.issuer}"])
    for line in overview(r):
        xlsx_append(sheet, [line])
    for key, rows in _section_rows(r).items():
        heading, header = SECTIONS[key]
        sheet.append([])
        xlsx_append(sheet, [heading])[0].font = Font(bold=True)
        for cell in xlsx_append(sheet, header):
            cell.font = Font(bold=True)
            cell.border = border
        if not rows:
            xlsx_append(sheet, ["无"])
        for row in rows:
            # free text (问责情况 copied from a unit's reply, case notes) stays text, never a formula
            for cell in xlsx_append(sheet, row):
                cell.border = border
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    for col, width in zip("ABCDE", (22, 14, 22, 40, 14), strict=True):
        sheet.column_dimensions[col].width = width
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def to_docx(r: StageReport) -> bytes:
    document = Document()
    section = document.sections[0]
    section.page_height, section.page_width = Cm(29.7), Cm(21.0)
    section.orientation = WD_ORIENT.PORTRAIT
    style = document.styles["Normal"]
    style.font.name = "仿宋"
    style.font.size = Pt(12)
    document.add_heading(r.title, level=0)
    document.add_paragraph(f"{r.milestone}　{r.date_text}　{r.campaign.issuer}")
    for line in overview(r):
        document.add_paragraph(line)
    for key, rows in _section_rows(r).items():
        heading, header = SECTIONS[key]
        document.add_heading(heading, level=1)
        if not rows:
            document.add_paragraph("无。")
            continue
        table = document.add_table(rows=1, cols=len(header))
        table.style = "Table Grid"
        for cell, name in zip(table.rows[0].cells, header, strict=True):
            cell.text = name
            for run in cell.paragraphs[0].runs:
                run.bold = True
        for row in rows:
            cells = table.add_row().cells
            for cell, value in zip(cells, row, strict=True):
                cell.text = str(value)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def filename(r: StageReport, ext: str) -> str:
    return f"阶段报告-{r.as_of.isoformat()}.{ext}"


@click.command("stage-report")
@click.option("--date", "day", required=False, help="report date YYYY-MM-DD (default: all due dates)")
@click.option("--campaign", "slug", default=None, help="campaign slug (default: DEFAULT_CAMPAIGN)")
@click.option("--out", "out_dir", default=".", type=click.Path(file_okay=False),
              help="folder for the XLSX and DOCX files")
@with_appcontext
def stage_report_command(day: str | None, slug: str | None, out_dir: str) -> None:
    """Write the stage report(s) of a campaign as XLSX and DOCX."""
    slug = slug or current_app.config.get("DEFAULT_CAMPAIGN")
    with session_scope() as session:
        campaign = session.exec(select(Campaign).where(Campaign.slug == slug)).first()
        if campaign is None:
            raise click.UsageError(f"no campaign {slug!r}")
        if day:
            try:
                days = [date.fromisoformat(day)]
            except ValueError:
                raise click.BadParameter("use YYYY-MM-DD", param_hint="--date") from None
        else:
            days = [d for d, _n in milestones(session, campaign.id)]
        folder = Path(out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        for as_of in days:
            r = build(session, campaign, as_of)
            for ext, body in (("xlsx", to_xlsx(r)), ("docx", to_docx(r))):
                path = folder / filename(r, ext)
                path.write_bytes(body)
                click.echo(f"{path}  ({r.received} clues, {r.ledger.total} ledger entries)")
