"""One deployment, two campaigns: the city's and the (demo) county's.

Each has its own public pages, tracking-number prefix, SMS number, mailbox and routing
rules; staff accounts limited to one campaign see and touch only its reports.
"""

from __future__ import annotations

import re
import smtplib
from datetime import date
from email.message import EmailMessage
from pathlib import Path
from types import SimpleNamespace

import pytest
from sqlmodel import Session, select

from app.cli import seed_campaign
from app.email_commands import import_eml_command
from app.models import User
from intake.models import Channel, Report
from notices.models import Campaign
from routing import transitions
from routing.dispatch import forget_rules
from tests.conftest import csrf_from
from tests.support.flow import file_report
from tests.support.mail import receiver
from tests.test_sms import TOKEN, post_sms, reply_text, sms_params

ROOT = Path(__file__).resolve().parent.parent
COUNTY_DIR = ROOT / "notices" / "data" / "huangzhong-demo"
CITY_TEXT = "城西区五四大街执法人员对我的出租车只罚款不开票据，车牌青A12345。"
COUNTY_TEXT = "湟中区多巴镇检查站的路政执法人员在行车道上随意拦截正常行驶的大货车进行检查。"
VAGUE = "执法人员态度很差。"  # no place: waits in triage


@pytest.fixture
def app_settings(app_settings: dict) -> dict:
    app_settings.update({"TWILIO_AUTH_TOKEN": TOKEN, "TWILIO_ACCOUNT_SID": "AC" + "1" * 32})
    return app_settings


@pytest.fixture
def campaigns(db: Session) -> dict[str, Campaign]:
    seed_campaign(db, COUNTY_DIR)
    db.commit()
    forget_rules()
    rows = {c.slug: SimpleNamespace(id=c.id, slug=c.slug, title=c.title,
                                    short_title=c.short_title,
                                    tracking_prefix=c.tracking_prefix)
            for c in db.exec(select(Campaign))}
    db.rollback()  # plain values: no ORM refresh may open a stale read transaction later
    return {"city": rows["xining-2023-129"], "county": rows["huangzhong-demo"]}


def test_county_folder_takes_the_city_checklist_and_has_its_own_rules(db, campaigns):
    county = campaigns["county"]
    assert county.tracking_prefix == "HZJT"
    from notices.loader import grouped_checklist

    items = [i for c in grouped_checklist(db, county.id) for g in c["groups"] for i in g["items"]]
    assert len(items) == 36
    from routing.models import RoutingRule

    rules = db.exec(select(RoutingRule).where(RoutingRule.campaign_id == county.id)).all()
    assert {r.name for r in rules} == {"交警事项转公安", "湟中区交湟中区交通运输局"}


def test_each_campaign_has_its_own_public_pages(client, campaigns):
    city = client.get("/").get_data(as_text=True)
    assert campaigns["city"].title in city
    assert 'href="/c/huangzhong-demo/"' in city  # the other campaign is listed

    county = client.get("/c/huangzhong-demo/").get_data(as_text=True)
    assert campaigns["county"].title in county
    assert 'href="/c/huangzhong-demo/report"' in county  # links stay in the campaign
    assert "106900000130" in county and "106900000129" not in county
    assert 'href="/c/xining-2023-129/"' in county
    checklist = client.get("/c/huangzhong-demo/checklist")
    assert checklist.status_code == 200 and "执法" in checklist.get_data(as_text=True)
    assert client.get("/c/no-such-campaign/").status_code == 404
    assert client.get("/c/no-such-campaign/report").status_code == 404


def test_inactive_campaign_has_no_public_pages(client, db, campaigns):
    county = db.get(Campaign, campaigns["county"].id)
    county.is_active = False
    db.commit()
    assert client.get("/c/huangzhong-demo/").status_code == 404
    assert client.get("/c/huangzhong-demo/report").status_code == 404
    assert 'href="/c/huangzhong-demo/"' not in client.get("/").get_data(as_text=True)


def test_web_report_under_a_campaign_url_belongs_to_it(client, db, campaigns):
    page = client.get("/c/huangzhong-demo/report").get_data(as_text=True)
    assert campaigns["county"].short_title in page
    response = client.post("/c/huangzhong-demo/report", data={
        "csrf_token": csrf_from(page), "text": COUNTY_TEXT, "identity": "anonymous",
        "consent": "y"})
    assert response.status_code == 302, response.get_data(as_text=True)
    receipt = client.get(response.headers["Location"]).get_data(as_text=True)
    number = re.search(r"HZJT-\d{8}-\d{4}", receipt).group(0)
    report = db.exec(select(Report).where(Report.tracking_no == number)).one()
    assert report.campaign_id == campaigns["county"].id
    # The bare path still serves the default (city) campaign.
    page = client.get("/report").get_data(as_text=True)
    response = client.post("/report", data={"csrf_token": csrf_from(page), "text": CITY_TEXT,
                                             "identity": "anonymous", "consent": "y"})
    receipt = client.get(response.headers["Location"]).get_data(as_text=True)
    assert re.search(r"XNJT-\d{8}-\d{4}", receipt)


def test_sms_goes_to_the_campaign_whose_number_it_was_sent_to(live_url, db, campaigns):
    county = sms_params(COUNTY_TEXT)
    county["To"] = "+86106900000130"
    assert "HZJT-" in reply_text(post_sms(live_url, county))
    other = sms_params(CITY_TEXT)
    other["To"] = "+15005550006"  # not a published number: the default campaign
    assert "XNJT-" in reply_text(post_sms(live_url, other))
    db.rollback()
    by_sid = {r.source_ref: r.campaign_id for r in db.exec(
        select(Report).where(Report.channel == Channel.sms))}
    assert by_sid[county["MessageSid"]] == campaigns["county"].id
    assert by_sid[other["MessageSid"]] == campaigns["city"].id
    db.rollback()


def _mail(text: str, to: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "citizen@example.cn", to, "举报"
    msg.set_content(text)
    return msg


def test_email_goes_to_the_campaign_whose_address_it_was_sent_to(app, db, campaigns):
    with receiver(app) as address, smtplib.SMTP(*address, timeout=60) as smtp:
        smtp.send_message(_mail(COUNTY_TEXT, "zhuanban@hzjt.example"),
                          to_addrs=["Zhuanban@HZJT.example"])
        smtp.send_message(_mail(CITY_TEXT, "zhuanban@xnjt.example"),
                          to_addrs=["zhuanban@xnjt.example"])
    db.rollback()
    rows = {r.text.splitlines()[-1][:6]: r.tracking_no for r in db.exec(
        select(Report).where(Report.channel == Channel.email))}
    assert any(no.startswith("HZJT-") for key, no in rows.items() if key == COUNTY_TEXT[:6])
    assert any(no.startswith("XNJT-") for key, no in rows.items() if key == CITY_TEXT[:6])
    db.rollback()


def test_piped_email_uses_the_recipient_option_or_headers(app, db, campaigns):
    runner = app.test_cli_runner()
    result = runner.invoke(import_eml_command, ["-", "--recipient", "zhuanban@hzjt.example"],
                           input=_mail(COUNTY_TEXT, "someone@else.example").as_bytes())
    assert result.exit_code == 0, result.output
    assert "HZJT-" in result.output
    headers_only = _mail(COUNTY_TEXT + "（二）", "湟中专班 <zhuanban@hzjt.example>")
    result = runner.invoke(import_eml_command, ["-"], input=headers_only.as_bytes())
    assert result.exit_code == 0 and "HZJT-" in result.output, result.output


def _triage_numbers(client) -> set[str]:
    page = client.get("/taskforce/triage").get_data(as_text=True)
    return set(re.findall(r"(?:XNJT|HZJT)-\d{8}-\d{4}", page))


def test_staff_limited_to_a_campaign_see_and_touch_only_its_reports(
        app, client, db, login, make_user, campaigns):
    city = file_report(app, db, campaigns["city"].id, text=VAGUE)
    county = file_report(app, db, campaigns["county"].id, text=VAGUE + "（湟中）")
    city_id, county_id = city.id, county.id
    city_no, county_no = city.tracking_no, county.tracking_no

    everyone = make_user("taskforce")
    login(everyone)
    assert {city_no, county_no} <= _triage_numbers(client)

    client.post("/logout", data={"csrf_token": csrf_from(client.get("/staff").get_data(
        as_text=True))})
    limited = make_user("taskforce", campaign_id=campaigns["county"].id)
    login(limited)
    seen = _triage_numbers(client)
    assert county_no in seen and city_no not in seen
    assert client.get(f"/taskforce/reports/{county_id}").status_code == 200
    assert client.get(f"/taskforce/reports/{city_id}").status_code == 404
    token = csrf_from(client.get("/staff").get_data(as_text=True))
    assert client.post(f"/taskforce/reports/{city_id}/escalate",
                       data={"csrf_token": token}).status_code == 404
    assert client.post(f"/taskforce/triage/{city_id}", data={"csrf_token": token}
                       ).status_code == 404
    # Dashboard and search work on the account's campaign only.
    dashboard = client.get("/taskforce").get_data(as_text=True)
    assert campaigns["county"].short_title in dashboard
    assert client.get(f"/taskforce?campaign={campaigns['city'].id}").status_code == 404
    found = client.get(f"/search?q={city_no}").get_data(as_text=True)
    assert f"/reports/{city_id}" not in found
    found = client.get(f"/search?q={county_no}").get_data(as_text=True)
    assert f"/reports/{county_id}" in found
    home = client.get("/staff").get_data(as_text=True)
    assert "您的账号限于此项整治" in home and "campaign-select" not in home
    db.rollback()
    assert db.get(Report, city_id).status == city.status  # nothing happened to it


def test_transitions_refuse_an_actor_of_another_campaign(app, db, make_user, campaigns):
    city = file_report(app, db, campaigns["city"].id, text=VAGUE)
    limited = make_user("taskforce", campaign_id=campaigns["county"].id)
    with pytest.raises(transitions.TransitionError):
        transitions.escalate(db, app.extensions["intake"], city.id, limited)
    db.rollback()


def test_unlimited_staff_switch_campaigns_and_pages_follow(client, db, login, make_user,
                                                          campaigns):
    login(make_user("taskforce"))
    home = client.get("/staff").get_data(as_text=True)
    assert "campaign-select" in home
    assert campaigns["city"].short_title in client.get("/taskforce").get_data(as_text=True)
    response = client.post("/staff/campaign", data={
        "csrf_token": csrf_from(home), "campaign": str(campaigns["county"].id)})
    assert response.status_code == 302
    short = campaigns["county"].short_title
    assert short in client.get("/taskforce").get_data(as_text=True)
    assert short in client.get("/ledger").get_data(as_text=True)
    assert short in client.get("/taskforce/rules").get_data(as_text=True)
    response = client.post("/staff/campaign", data={"csrf_token": csrf_from(home),
                                                     "campaign": "99999"})
    flashed = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "请选择一项本平台受理的专项整治" in flashed


def test_hotline_operator_logs_calls_for_the_chosen_or_own_campaign(
        client, db, login, make_user, campaigns):
    login(make_user("operator"))
    page = client.get("/staff/calls").get_data(as_text=True)
    assert 'name="campaign"' in page
    response = client.post("/staff/calls", data={
        "csrf_token": csrf_from(page), "campaign": str(campaigns["county"].id),
        "channel": "hotline", "text": COUNTY_TEXT, "caller_phone": "13800002222"})
    assert response.status_code == 200
    assert re.search(r"HZJT-\d{8}-\d{4}", response.get_data(as_text=True))

    client.post("/logout", data={"csrf_token": csrf_from(page)})
    login(make_user("operator", campaign_id=campaigns["county"].id))
    page = client.get("/staff/calls").get_data(as_text=True)
    assert 'name="campaign"' not in page
    response = client.post("/staff/calls", data={
        "csrf_token": csrf_from(page), "channel": "hotline", "text": COUNTY_TEXT + "二",
        "caller_phone": "13800002223"})
    assert re.search(r"HZJT-\d{8}-\d{4}", response.get_data(as_text=True))
    refused = client.post("/staff/calls", data={
        "csrf_token": csrf_from(page), "campaign": str(campaigns["city"].id),
        "channel": "hotline", "text": CITY_TEXT, "caller_phone": "13800002224"})
    assert refused.status_code == 400
    assert "不在您的职责范围内" in refused.get_data(as_text=True)
    db.rollback()
    assert not db.exec(select(Report).where(Report.campaign_id == campaigns["city"].id,
                                            Report.channel == Channel.hotline)).all()
    db.rollback()


def test_admin_limits_an_account_to_a_campaign(client, db, login, make_user, campaigns):
    login(make_user("admin"))
    page = client.get("/admin/users").get_data(as_text=True)
    assert "限于专项整治" in page
    client.post("/admin/users", data={
        "csrf_token": csrf_from(page), "username": "hz.desk", "display_name": "湟中专班",
        "role": "taskforce", "campaign_id": str(campaigns["county"].id)})
    client.post("/admin/users", data={
        "csrf_token": csrf_from(page), "username": "all.admin", "display_name": "管理员二",
        "role": "admin", "campaign_id": str(campaigns["county"].id)})
    db.rollback()
    users = {u.username: u for u in db.exec(select(User))}
    assert users["hz.desk"].campaign_id == campaigns["county"].id
    assert users["all.admin"].campaign_id is None  # admins work across campaigns
    db.rollback()


def test_api_token_of_a_limited_account_lists_only_its_campaign(
        app, client, db, make_user, campaigns):
    from app.api.credentials import issue_token

    city = file_report(app, db, campaigns["city"].id, text=VAGUE)
    county = file_report(app, db, campaigns["county"].id, text=VAGUE + "（湟中）")
    user = make_user("taskforce", campaign_id=campaigns["county"].id)
    secret = issue_token(db, user.username).secret
    db.commit()
    headers = {"Authorization": f"Bearer {secret}"}
    listed = client.get("/api/v1/reports?limit=200", headers=headers).get_json()
    numbers = {r["tracking_no"] for r in listed["reports"]}
    assert county.tracking_no in numbers and city.tracking_no not in numbers
    assert client.get(f"/api/v1/reports/{city.id}", headers=headers).status_code == 404


def test_seed_demo_loads_every_campaign_folder_and_a_limited_demo_account(app, db):
    result = app.test_cli_runner().invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    assert "campaign xining-2023-129" in result.output
    assert "campaign huangzhong-demo" in result.output
    db.rollback()
    county = db.exec(select(Campaign).where(Campaign.slug == "huangzhong-demo")).one()
    limited = db.exec(select(User).where(User.username == "taskforce_hz")).one()
    assert limited.campaign_id == county.id
    db.rollback()


def test_county_report_is_classified_and_routed_by_the_county_rules(app, db, campaigns):
    from routing.models import Assignment, Unit

    report = file_report(app, db, campaigns["county"].id, text=COUNTY_TEXT)
    db.rollback()
    report = db.get(Report, report.id)
    assert report.tracking_no.startswith("HZJT-")
    assert report.items and report.district == "湟中区"
    unit = db.exec(select(Unit).join(Assignment, Assignment.unit_id == Unit.id)
                   .where(Assignment.report_id == report.id)).one()
    assert unit.code == "hzq"
    db.rollback()


def test_campaign_with_its_own_checklist_is_classified_against_it(app, db, tmp_path,
                                                                 campaigns):
    """A campaign folder with a checklist of its own gets no foreign model: its items come
    from its own checklist wording."""
    import shutil

    import yaml

    from app.wiring import model_for

    data_dir = tmp_path / "data"
    shutil.copytree(ROOT / "notices" / "data", data_dir)
    tiny = data_dir / "tiny-demo"
    tiny.mkdir()
    meta = yaml.safe_load((COUNTY_DIR / "campaign.yaml").read_text(encoding="utf-8"))
    meta.update(slug="tiny-demo", tracking_prefix="TINY", channels={})
    (tiny / "campaign.yaml").write_text(yaml.safe_dump(meta, allow_unicode=True),
                                        encoding="utf-8")
    (tiny / "routing.yaml").write_text((COUNTY_DIR / "routing.yaml").read_text(
        encoding="utf-8"), encoding="utf-8")
    (tiny / "checklist.yaml").write_text(yaml.safe_dump({"categories": [{
        "number": 1, "name": "出租车", "heading": "一、出租车",
        "groups": [{"number": 1, "title": "出租车执法", "items": [
            {"number": 1, "text": "出租车拒载、绕路、议价不打表", "keywords": ["拒载", "绕路"]},
            {"number": 2, "text": "网约车平台派单不公", "keywords": ["派单"]}]}]}]},
        allow_unicode=True), encoding="utf-8")
    app.config["CAMPAIGN_DATA_DIR"] = data_dir
    seed_campaign(db, tiny)
    db.commit()
    tiny_id = db.exec(select(Campaign.id).where(Campaign.slug == "tiny-demo")).one()
    db.rollback()

    assert not model_for(app, tiny).exists()
    assert model_for(app, data_dir / "huangzhong-demo") == model_for(
        app, data_dir / "xining-2023-129")
    classify = app.extensions["intake"].classify
    result = classify("昨晚在火车站打车，司机拒载还绕路，我要投诉。", "web", tiny_id)
    assert result["items"][:1] == [1]
    assert set(result["items"]) <= {1, 2}


def test_training_takes_confirmed_examples_of_the_campaigns_sharing_the_model(
        app, db, tmp_path, campaigns):
    county = file_report(app, db, campaigns["county"].id, text=COUNTY_TEXT)
    city = file_report(app, db, campaigns["city"].id, text=CITY_TEXT)
    for report in (county, city):
        report.classification_confirmed = True
    db.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["intake", "train", "--output", str(tmp_path / "m.npz")])
    assert result.exit_code == 0, result.output
    # The county campaign shares the city's checklist and model: both confirmations count.
    assert "+ 2 confirmed" in result.output
    assert (tmp_path / "m.npz").exists()
    result = runner.invoke(args=["intake", "train", "--campaign", "no-such-folder"])
    assert result.exit_code != 0 and "no campaign folder" in result.output


def test_open311_jurisdiction_id_selects_the_campaign(live_url, db, campaigns):
    import requests

    from app.api.credentials import issue_key

    key = issue_key(db, "county client").secret
    db.commit()
    base = live_url + "/open311/v2"
    services = requests.get(f"{base}/services.json",
                            params={"jurisdiction_id": "huangzhong-demo"}, timeout=30)
    assert services.status_code == 200 and len(services.json()) == 36
    created = requests.post(f"{base}/requests.json", timeout=30, data={
        "api_key": key, "jurisdiction_id": "huangzhong-demo", "service_code": "5",
        "description": COUNTY_TEXT, "address_string": "湟中区多巴镇",
        "attribute[district]": "湟中区"})
    assert created.status_code == 200, created.text
    db.rollback()
    report = db.exec(select(Report).where(Report.channel == Channel.api)).one()
    assert report.campaign_id == campaigns["county"].id
    assert report.tracking_no.startswith("HZJT-")
    number = report.tracking_no
    db.rollback()
    # The client reads its requests per jurisdiction: the county's are not the city's.
    county = requests.get(f"{base}/requests.json", timeout=30,
                          params={"api_key": key, "jurisdiction_id": "huangzhong-demo"})
    assert [r["service_request_id"] for r in county.json()] == [number]
    city = requests.get(f"{base}/requests.json", params={"api_key": key}, timeout=30)
    assert city.status_code == 200 and city.json() == []
    assert requests.get(f"{base}/requests/{number}.json", params={"api_key": key},
                        timeout=30).status_code == 404
    assert requests.get(f"{base}/requests/{number}.json", timeout=30, params={
        "api_key": key, "jurisdiction_id": "huangzhong-demo"}).status_code == 200
    unknown = requests.get(f"{base}/services.json", params={"jurisdiction_id": "beijing"},
                           timeout=30)
    assert unknown.status_code == 404 and "huangzhong-demo" in unknown.text


def test_ledger_entries_of_another_campaign_are_not_found(app, client, db, login, make_user,
                                                         campaigns):
    from app.ledger import entries as ledger
    from routing.models import Unit

    everyone = make_user("taskforce")
    unit = db.exec(select(Unit).where(Unit.code == "hzq")).one()
    city_entry = ledger.create(db, everyone, campaign_id=campaigns["city"].id,
                               category="执法不规范", symptom="随意拦车检查",
                               measures="规范检查点设置", unit_id=unit.id,
                               deadline_text="2023年9月30日前", source="self_check")
    db.commit()
    entry_id = city_entry.id
    login(make_user("taskforce", campaign_id=campaigns["county"].id))
    assert client.get(f"/ledger/{entry_id}").status_code == 404
    assert "随意拦车检查" not in client.get("/ledger").get_data(as_text=True)


def test_attachment_of_another_campaign_is_not_served(app, client, db, login, make_user,
                                                      campaigns):
    import io

    from intake.models import Attachment
    from tests.support.files import jpeg_with_gps

    page = client.get("/report").get_data(as_text=True)
    client.post("/report", data={"csrf_token": csrf_from(page), "text": CITY_TEXT,
                                 "identity": "anonymous", "consent": "y",
                                 "attachments": [(io.BytesIO(jpeg_with_gps()), "a.jpg")]},
                content_type="multipart/form-data")
    attachment_id = db.exec(select(Attachment.id)).one()
    db.rollback()
    login(make_user("taskforce", campaign_id=campaigns["county"].id))
    assert client.get(f"/attachments/{attachment_id}").status_code == 404
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/staff").get_data(
        as_text=True))})
    login(make_user("taskforce"))
    assert client.get(f"/attachments/{attachment_id}").status_code == 200


def test_limited_account_cannot_touch_other_campaigns_outbox_cases_calendar_or_links(
        app, client, db, login, make_user, campaigns):
    from app.ledger import entries as ledger
    from app.models import TypicalCase
    from intake.outbox import Message, MessageStatus, queue_message
    from routing.models import CalendarOverride, Unit

    city = file_report(app, db, campaigns["city"].id, text=VAGUE)
    city_id, city_no = city.id, city.tracking_no
    failed = queue_message(db, app.extensions["pii"], channel="sms", recipient="+8613800009999",
                           body="通知", purpose="notice", report_id=city_id)
    failed.status = MessageStatus.failed
    case = TypicalCase(campaign_id=campaigns["city"].id, report_id=city_id, polarity="positive")
    db.add(case)
    db.commit()
    message_id, case_id = failed.id, case.id

    limited = make_user("taskforce", campaign_id=campaigns["county"].id)
    login(limited)
    token = csrf_from(client.get("/staff").get_data(as_text=True))
    assert client.post(f"/taskforce/messages/{message_id}/retry",
                       data={"csrf_token": token}).status_code == 404
    assert client.post("/ledger/cases/remove", data={"csrf_token": token,
                                                     "case_id": case_id}).status_code == 404
    calendar = client.post("/taskforce/calendar", data={
        "csrf_token": token, "day": "2030-01-02", "workday": "0", "note": "x"},
        follow_redirects=True)
    assert "只能由不限于某项整治的专班账号修改" in calendar.get_data(as_text=True)
    db.rollback()
    assert db.get(Message, message_id).status is MessageStatus.failed
    assert db.get(TypicalCase, case_id) is not None
    assert db.get(CalendarOverride, date(2030, 1, 2)) is None
    unit = db.exec(select(Unit).where(Unit.code == "hzq")).one()
    with pytest.raises(ledger.LedgerError, match=city_no):  # another campaign's: not found
        ledger.create(db, limited, campaign_id=campaigns["county"].id, category="执法不规范",
                      symptom="随意拦车", measures="整改", unit_id=unit.id,
                      tracking_nos=[city_no])
    db.rollback()


def test_messages_to_an_ended_campaign_are_refused_not_filed_elsewhere(app, db, live_url,
                                                                      campaigns):
    county = db.get(Campaign, campaigns["county"].id)
    county.is_active = False
    db.commit()
    params = sms_params(COUNTY_TEXT)
    params["To"] = "106900000130"
    assert "已结束" in reply_text(post_sms(live_url, params))
    result = app.test_cli_runner().invoke(
        import_eml_command, ["-", "--recipient", "zhuanban@hzjt.example"],
        input=_mail(COUNTY_TEXT, "zhuanban@hzjt.example").as_bytes())
    assert result.exit_code == 65, result.output
    db.rollback()
    assert db.exec(select(Report)).all() == []
    db.rollback()


def test_delivered_to_wins_over_the_senders_to_header(app, db, campaigns):
    msg = _mail(COUNTY_TEXT, "zhuanban@xnjt.example")  # the sender wrote the city's address
    raw = b"Delivered-To: zhuanban@hzjt.example\r\n" + msg.as_bytes()
    result = app.test_cli_runner().invoke(import_eml_command, ["-"], input=raw)
    assert result.exit_code == 0 and "HZJT-" in result.output, result.output


def test_gazetteer_page_edits_the_chosen_campaigns_file(client, db, login, make_user,
                                                        campaigns):
    login(make_user("admin"))
    home = client.get("/staff").get_data(as_text=True)
    city = client.get("/admin/gazetteer").get_data(as_text=True)
    assert "xining-2023-129/gazetteer.yaml" in city and "共用" not in city
    client.post("/staff/campaign", data={"csrf_token": csrf_from(home),
                                         "campaign": str(campaigns["county"].id)})
    county = client.get("/admin/gazetteer").get_data(as_text=True)
    # The county folder takes its places from the city's (data_from): the page says so.
    assert campaigns["county"].short_title in county
    assert "xining-2023-129/gazetteer.yaml" in county and "共用" in county
