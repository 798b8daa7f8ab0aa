"""Two campaigns in the browser: a citizen reports on the county's pages; the county's task
force, limited to its campaign, finds the report and not the city's."""

from __future__ import annotations

import pytest
from sqlmodel import select

from app.cli import seed_campaign
from intake.models import Report
from routing.dispatch import forget_rules
from tests.support.browser import MARKS
from tests.support.flow import file_report
from tests.test_multi_campaign import COUNTY_DIR, VAGUE

pytestmark = MARKS


@pytest.fixture
def county_id(db) -> int:
    from notices.models import Campaign

    seed_campaign(db, COUNTY_DIR)
    db.commit()
    forget_rules()
    campaign_id = db.exec(select(Campaign.id).where(Campaign.slug == "huangzhong-demo")).one()
    db.rollback()
    return campaign_id


def test_citizen_reports_on_the_county_pages_and_its_task_force_sees_it(
        live_url, browser, db, app, campaign_id, county_id, make_user, tmp_path):
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                locale="zh-CN").new_page()
    phone.goto(live_url + "/")
    phone.get_by_role("link", name="湟中区交通运输局道路交通安全和运输执法领域突出问题专项整治实施方案（演示）"
                      ).click()
    phone.wait_for_url(live_url + "/c/huangzhong-demo/")
    phone.get_by_role("link", name="在线提交问题线索").click()
    phone.wait_for_url(live_url + "/c/huangzhong-demo/report")
    phone.fill("#text", "湟中区多巴镇检查站的路政执法人员随意拦车检查，态度粗暴。")
    phone.check("#consent")
    phone.get_by_role("button", name="提交").click()
    phone.wait_for_selector("#tracking-no")
    number = phone.inner_text("#tracking-no")
    assert number.startswith("HZJT-")
    phone.screenshot(path=str(tmp_path / "county-receipt.png"), full_page=True)
    phone.context.close()

    city = file_report(app, db, campaign_id, text=VAGUE)
    city_no = city.tracking_no
    county_vague = file_report(app, db, county_id, text=VAGUE + "（湟中）")
    county_vague_no = county_vague.tracking_no
    limited = make_user("taskforce", campaign_id=county_id)
    desk = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = desk.new_page()
    page.goto(live_url + "/login")
    page.fill("#username", limited.username)
    page.fill("#password", f"pw-{limited.username}")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(live_url + "/staff")
    assert "您的账号限于此项整治" in page.content()
    page.goto(live_url + "/taskforce/triage")
    content = page.content()
    assert county_vague_no in content and city_no not in content
    page.goto(live_url + "/search?q=" + number)
    assert number in page.inner_text("main")
    desk.close()
    db.rollback()
    assert db.exec(select(Report).where(Report.tracking_no == number)).one().campaign_id \
        == county_id
    db.rollback()
