"""The ledger as the notice's template (attachment 2) in XLSX, and as CSV.

Sheet 1 is the template exactly: title, date line, 制定单位, then the 8 columns in order,
bordered, wrapped, A4 landscape, header repeated on every printed page. Status, source
and the clues behind each entry go on a second sheet so the template stays as printed.
Nothing about reporters is exported (entries hold no PII; clues appear by number only).
"""

from __future__ import annotations

import io
from datetime import date

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from sqlmodel import Session, select

from app.dashboard.exports import csv_bytes, xlsx_append, xlsx_set
from app.ledger.entries import SOURCE_LABELS, TEMPLATE_COLUMNS, linked_reports
from app.models import LedgerEntry, LedgerStatus
from routing.models import Unit

TITLE = "道路交通安全和运输执法领域突出问题整改工作台账"
WIDTHS = (6, 12, 24, 32, 16, 16, 36, 22)
HEADER_ROW = 4
THIN = Side(style="thin", color="000000")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
WRAP_TOP = Alignment(wrap_text=True, vertical="top")
WRAP_CENTER = Alignment(wrap_text=True, vertical="center", horizontal="center")
EXTRA_COLUMNS = ("序号", "状态", "来源", "关联线索（受理编号）", "销号时间")


def _date_line(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def template_row(entry: LedgerEntry, unit_name: str) -> list:
    return [entry.seq, entry.category, entry.symptom, entry.measures, unit_name,
            entry.deadline_text, entry.progress, entry.accountability]


def _units(session: Session) -> dict[int, str]:
    return {u.id: u.name for u in session.exec(select(Unit))}


def ledger_xlsx(session: Session, entries: list[LedgerEntry], *, maker: str,
                day: date) -> bytes:
    units = _units(session)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "整改工作台账"
    last = get_column_letter(len(TEMPLATE_COLUMNS))
    sheet.merge_cells(f"A1:{last}1")
    xlsx_set(sheet, 1, 1, TITLE)
    sheet["A1"].font = Font(name="宋体", size=16, bold=True)
    sheet["A1"].alignment = Alignment(horizontal="center", vertical="center")
    sheet.row_dimensions[1].height = 32
    sheet.merge_cells(f"A2:{last}2")
    xlsx_set(sheet, 2, 1, _date_line(day))
    sheet["A2"].alignment = Alignment(horizontal="right")
    sheet.merge_cells(f"A3:{last}3")
    xlsx_set(sheet, 3, 1, f"制定单位：{maker}")
    sheet["A3"].alignment = Alignment(horizontal="left")
    for col, (name, width) in enumerate(zip(TEMPLATE_COLUMNS, WIDTHS, strict=True), start=1):
        cell = xlsx_set(sheet, HEADER_ROW, col, name)
        cell.font = Font(name="黑体", bold=True)
        cell.alignment = WRAP_CENTER
        cell.border = BORDER
        cell.fill = PatternFill("solid", fgColor="EEEEEE")
        sheet.column_dimensions[get_column_letter(col)].width = width
    for row, entry in enumerate(entries, start=HEADER_ROW + 1):
        for col, value in enumerate(template_row(entry, units.get(entry.unit_id, "")), start=1):
            cell = xlsx_set(sheet, row, col, value)
            cell.alignment = WRAP_CENTER if col in (1, 2, 5, 6) else WRAP_TOP
            cell.border = BORDER
    sheet.freeze_panes = f"A{HEADER_ROW + 1}"
    sheet.print_title_rows = f"{HEADER_ROW}:{HEADER_ROW}"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_options.horizontalCentered = True
    sheet.page_margins.left = sheet.page_margins.right = 0.5
    sheet.page_margins.top = sheet.page_margins.bottom = 0.6
    sheet.oddFooter.center.text = "第 &P 页，共 &N 页"

    extra = workbook.create_sheet("状态与来源")
    for cell in xlsx_append(extra, EXTRA_COLUMNS):
        cell.font = Font(bold=True)
        cell.border = BORDER
    for entry in entries:
        numbers = "、".join(r.tracking_no for r in linked_reports(session, entry))
        xlsx_append(extra, [entry.seq, entry.status.value, str(SOURCE_LABELS[entry.source]),
                            numbers, entry.completion_approved_at
                            if entry.status is LedgerStatus.done else ""])
    for col, width in enumerate((6, 10, 14, 40, 18), start=1):
        extra.column_dimensions[get_column_letter(col)].width = width
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def ledger_csv(session: Session, entries: list[LedgerEntry]) -> bytes:
    units = _units(session)
    header = list(TEMPLATE_COLUMNS) + ["状态", "来源", "关联线索（受理编号）"]
    rows = [template_row(e, units.get(e.unit_id, "")) + [
        e.status.value, str(SOURCE_LABELS[e.source]),
        "、".join(r.tracking_no for r in linked_reports(session, e))] for e in entries]
    return csv_bytes(header, rows)
