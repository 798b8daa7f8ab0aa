"""CSV and XLSX downloads of any list: a header row and rows of plain values."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from urllib.parse import quote

from flask import Response, request
from openpyxl import Workbook
from openpyxl.styles import Font

from notices.timeutil import to_cst

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def plain(value) -> object:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return to_cst(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (int, float)):
        return value
    value = str(getattr(value, "value", value))
    # A cell starting with = + - @ would be run as a formula by spreadsheet programs.
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


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
    sheet.append(list(header))
    for row in rows:
        sheet.append([plain(v) for v in row])
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
