"""CSV and XLSX downloads of any list: a header row and rows of plain values."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from urllib.parse import quote

from flask import Response, request
from openpyxl import Workbook
from openpyxl.cell import Cell
from openpyxl.styles import Font

from notices.timeutil import to_cst

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell_text(value) -> object:
    """A value as an export shows it: numbers stay numbers, times in CST, the rest as text."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return to_cst(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (int, float)):
        return value
    return str(getattr(value, "value", value))


def plain(value) -> object:
    """A CSV field. Spreadsheet programs run a field starting with = + - @ (or a tab or
    carriage return) as a formula, so such text gets a leading apostrophe (OWASP advice)."""
    value = cell_text(value)
    if isinstance(value, str) and value.startswith(CSV_FORMULA_STARTS):
        return "'" + value
    return value


def _as_string(cell: Cell) -> Cell:
    """openpyxl stores a string starting with "=" as a formula (and "#N/A" and the like as an
    error): text is forced to a plain string cell, kept exactly as written (no "'" prefix),
    so free text can never run as a formula in an XLSX export."""
    if isinstance(cell.value, str):
        cell.data_type = "s"
    return cell


def xlsx_cell(sheet, value) -> Cell:
    """A text-safe XLSX cell holding the value as written (see `_as_string`)."""
    return _as_string(Cell(sheet, row=1, column=1, value=cell_text(value)))  # placed by append


def xlsx_row(sheet, values: Iterable) -> list[Cell]:
    """Cells for `sheet.append(...)`, in normal and write-only workbooks alike."""
    return [xlsx_cell(sheet, v) for v in values]


def xlsx_append(sheet, values: Iterable) -> list[Cell]:
    """Append a row of text-safe cells to a (normal) worksheet and return them."""
    cells = xlsx_row(sheet, values)
    sheet.append(cells)
    return cells


def xlsx_set(sheet, row: int, column: int, value) -> Cell:
    """Write one text-safe cell of a (normal) worksheet and return it."""
    return _as_string(sheet.cell(row=row, column=column, value=cell_text(value)))


def attachment(body: bytes, filename: str, mimetype: str) -> Response:
    response = Response(body, mimetype=mimetype)
    ascii_name = filename.encode("ascii", "ignore").decode() or "export"
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename)}")
    response.headers["Cache-Control"] = "no-store"
    return response


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([plain(v) for v in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")  # BOM: Excel opens it as UTF-8


def xlsx_bytes(header: Sequence[str], rows: Iterable[Sequence], *, title: str = "Sheet1") -> bytes:
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title[:31])
    sheet.append(xlsx_row(sheet, header))
    for row in rows:
        sheet.append(xlsx_row(sheet, row))
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def requested_format() -> str:
    """The export format a download link asked for (?format=xlsx), CSV otherwise."""
    return "xlsx" if request.args.get("format") == "xlsx" else "csv"


def download(fmt: str, header: Sequence[str], rows: Iterable[Sequence], basename: str,
             *, title: str = "Sheet1") -> Response:
    if fmt == "xlsx":
        return attachment(xlsx_bytes(header, rows, title=title), f"{basename}.xlsx", XLSX_TYPE)
    return attachment(csv_bytes(header, rows), f"{basename}.csv", "text/csv")


BOLD = Font(bold=True)
