"""The pages people use, driven in headless Chromium (Debian's /usr/bin/chromium)."""

from __future__ import annotations

import pytest
from sqlmodel import select

from intake.models import Attachment, Report
from intake.models import ReportStatus as S
from tests.support.browser import MARKS
from tests.support.files import has_exif, jpeg_with_gps

pytestmark = MARKS



@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True, device_scale_factor=2, locale="zh-CN")
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def desktop(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    yield context
    context.close()


def test_citizen_reports_with_a_photo_on_a_phone_and_tracks_it(live_url, phone, db, app,
                                                                tmp_path):
    photo = tmp_path / "IMG_2041.jpg"
    photo.write_bytes(jpeg_with_gps())
    phone.goto(live_url + "/")
    phone.get_by_role("link", name="在线提交问题线索").click()
    phone.fill("#text", "6月20日下午，109国道湟源段日月山方向，交通执法车辆在行车道上突然拦停货车，"
                        "导致后车追尾，执法人员不认账。")
    phone.select_option("#district", "湟源县")
    phone.fill("#place_text", "109国道湟源段")
    phone.set_input_files("#attachments", str(photo))
    phone.check("#consent")
    phone.get_by_role("button", name="提交").click()
    phone.wait_for_selector("#tracking-no")
    number = phone.inner_text("#tracking-no")
    code = phone.inner_text("#receipt-code")
    phone.screenshot(path=str(tmp_path / "receipt.png"), full_page=True)
    # no horizontal scrolling on a phone
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390

    phone.get_by_role("link", name="查询进度").first.click()
    phone.fill("#tracking_no", number)
    phone.fill("#receipt_code", code)
    phone.get_by_role("button", name="查询").click()
    phone.wait_for_selector("#status")
    assert number in phone.content()

    db.commit()
    report = db.exec(select(Report).where(Report.tracking_no == number)).one()
    attachment = db.exec(select(Attachment).where(Attachment.report_id == report.id)).one()
    assert not has_exif((app.config["UPLOAD_DIR"] / attachment.stored_name).read_bytes())


def login(page, base: str, user) -> None:
    page.goto(base + "/login")
    page.fill("#username", user.username)
    page.fill("#password", f"pw-{user.username}")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(base + "/staff")


def test_unit_acknowledges_and_replies_then_taskforce_approves(live_url, desktop, db, app,
                                                               campaign_id, make_user):
    from routing import transitions as t
    from tests.support.flow import file_report, unit_id

    report = file_report(app, db, campaign_id)
    if report.status is not S.dispatched:
        t.dispatch(db, app.extensions["intake"], report.id, unit_id(db, "hzq"), t.SYSTEM)
        db.commit()
    unit_user, tf = make_user("unit", unit_code="hzq"), make_user("taskforce")

    page = desktop.new_page()
    login(page, live_url, unit_user)
    page.get_by_role("link", name="本单位线索").click()
    page.get_by_role("link", name=report.tracking_no).click()
    assert "李四" not in page.content() and "13800001111" not in page.content()
    page.click("#acknowledge")
    page.wait_for_selector("text=已签收")
    page.check("input[value='属实']")
    page.fill("#rep-measures", "已约谈当班执法人员，调整检查点设置。")
    page.fill("#rep-public_text", "经核实，您反映的问题属实，已整改。")
    page.click("#submit-reply")
    page.wait_for_selector("text=办结回复已提交专班审核")
    page.close()

    page = desktop.new_page()
    login(page, live_url, tf)
    page.get_by_role("link", name="待审核回复与延期申请").click()
    page.click(f"#approve-{report.id}")
    page.wait_for_selector("text=已审核通过")
    page.close()
    db.commit()
    db.expire_all()
    assert db.get(Report, report.id).status is S.awaiting_feedback
