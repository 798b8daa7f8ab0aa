"""Admin pages refuse settings that would misroute reports or messages: the admin sees a
Chinese message naming the problem and nothing is stored (gazetteer file, escalation
thresholds, campaign channels, unit SMS/e-mail contacts)."""

from __future__ import annotations

import hashlib
import html as html_lib
import re
import shutil
from pathlib import Path

import pytest
from sqlmodel import select

from intake.models import Event
from notices.models import Campaign
from routing.models import Unit
from tests.conftest import csrf_from
from tests.test_admin import _campaign_form

FLASH_RE = re.compile(r'<div class="flash flash-(\w+)" role="status">(.*?)</div>', re.S)


def _flashes(page: str) -> list[str]:
    return [html_lib.unescape(text).strip() for _kind, text in FLASH_RE.findall(page)]


def _events(db, kind: str) -> list[Event]:
    db.commit()
    db.expire_all()
    return db.exec(select(Event).where(Event.kind == kind).order_by(Event.id)).all()


# -- gazetteer ---------------------------------------------------------------------------

@pytest.fixture
def gazetteer_file(app, client, login, make_user, tmp_path) -> Path:
    """A copy of the campaign data the page edits, and an admin signed in."""
    data_dir = tmp_path / "data"
    shutil.copytree(Path(app.config["CAMPAIGN_DATA_DIR"]), data_dir)
    app.config["CAMPAIGN_DATA_DIR"] = data_dir
    login(make_user("admin"))
    return data_dir / app.config["DEFAULT_CAMPAIGN"] / "gazetteer.yaml"


def _in_district(text: str, district: str, key: str, line: str) -> str:
    """`text` with `line` added first under `key:` of `district`."""
    start = text.index(f"  - name: {district}\n")
    at = text.index(f"    {key}:", start)
    end = text.index("\n", at) + 1
    if text[at:end].rstrip().endswith("[]"):
        return text[:at] + f"    {key}:\n      {line}\n" + text[end:]
    return text[:end] + f"      {line}\n" + text[end:]


def _post_gazetteer(client, text: str):
    page = client.get("/admin/gazetteer").get_data(as_text=True)
    return client.post("/admin/gazetteer", data={"csrf_token": csrf_from(page),
                                                 "gazetteer": text})


GAZETTEER_CASES = {
    # 多巴镇 (湟中区) added again under 大通县, not marked ambiguous: last one would win
    "duplicate": (lambda t: _in_district(t, "大通县", "towns", "- 多巴镇"),
                  "地名“多巴镇”同时列在湟中区和大通县下"),
    "duplicate alias": (lambda t: _in_district(t, "湟源县", "landmarks",
                                               "- {name: 湟源大桥, aliases: [多巴]}"),
                        "地名“多巴”同时列在湟中区和湟源县下"),
    "blank": (lambda t: _in_district(t, "城东区", "streets", "- ' '"), "城东区下有一个空白地名"),
    "empty entry": (lambda t: _in_district(t, "城东区", "streets", "-"),
                    "城东区下的一项“空”不是地名"),
    "one character": (lambda t: _in_district(t, "城东区", "streets", "- 东"),
                      "城东区下的地名“东”只有一个字"),
    "one character alias": (lambda t: _in_district(t, "城西区", "streets",
                                                   "- {name: 海晏路, aliases: [海]}"),
                            "城西区下的地名“海”只有一个字"),
    "aliases as text": (lambda t: _in_district(t, "城西区", "streets",
                                               "- {name: 海晏路, aliases: 海晏}"),
                        "城西区下“海晏路”的 aliases 须为列表"),
    "mapping without name": (lambda t: _in_district(t, "城西区", "streets",
                                                    "- {aliases: [海晏路]}"),
                             "城西区下的一项“{'aliases': ['海晏路']}”不是地名"),
    "number": (lambda t: _in_district(t, "城西区", "roads", "- 109"), "城西区下的一项“109”不是地名"),
    "unknown district": (lambda t: t.replace(
        "districts:\n", "districts:\n  - name: 海湖新区\n    landmarks: [海湖万达]\n", 1),
        "地名库中的区县“海湖新区”不是本系统的区县"),
    "ambiguous unknown candidate": (lambda t: t.replace(
        "ambiguous:\n", "ambiguous:\n  - name: 新城\n    candidates: [城东区, 海湖新区]\n", 1),
        "重名地名“新城”的候选区县“海湖新区”不是本系统的区县"),
    "regional and district": (lambda t: _in_district(t, "城中区", "landmarks", "- 京藏高速"),
                              "地名“京藏高速”既列在城中区下，又列在 regional 中"),
}


@pytest.mark.parametrize("case", list(GAZETTEER_CASES))
def test_a_gazetteer_that_would_misroute_is_refused_naming_the_entry(
        case, app, client, db, gazetteer_file):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    original = gazetteer_file.read_text(encoding="utf-8")
    edit, message = GAZETTEER_CASES[case]
    text = edit(original)
    assert text != original
    response = _post_gazetteer(client, text)
    assert response.status_code == 200  # back on the form, with what the admin typed
    page = response.get_data(as_text=True)
    shown = " ".join(_flashes(page))
    assert message in shown, shown
    assert "未保存" in shown
    assert "Error" not in shown and "object" not in shown  # no raw Python error
    assert html_lib.unescape(page).count(text.strip()[-40:]) >= 1
    assert gazetteer_file.read_text(encoding="utf-8") == original
    assert not list(gazetteer_file.parent.glob("*.tmp"))
    assert _events(db, "admin_gazetteer_saved") == []


def test_a_shared_name_marked_ambiguous_is_saved_and_audited_with_hash_and_names(
        client, db, gazetteer_file):
    original = gazetteer_file.read_text(encoding="utf-8")
    text = _in_district(original, "大通县", "towns", "- 多巴镇")
    text = text.replace("ambiguous:\n", "ambiguous:\n  - name: 多巴镇\n"
                        "    candidates: [湟中区, 大通县]\n    context: {湟中区: [湟中], 大通县: [大通]}\n", 1)
    text = _in_district(text, "湟中区", "landmarks", "- 湟中测试广场")
    text = text.replace("      - 老爷山\n", "", 1)
    response = _post_gazetteer(client, text)
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert any("已保存地名库" in f for f in _flashes(page))
    saved = gazetteer_file.read_text(encoding="utf-8")
    assert saved.rstrip("\n") == text.rstrip("\n")
    (event,) = _events(db, "admin_gazetteer_saved")
    assert event.data["sha256"] == hashlib.sha256(saved.encode("utf-8")).hexdigest()
    assert event.data["previous_sha256"] == hashlib.sha256(original.encode("utf-8")).hexdigest()
    assert event.data["added"] == ["湟中测试广场"]
    assert event.data["removed"] == ["老爷山"]


# -- escalation thresholds ---------------------------------------------------------------

def _stored_campaign(db) -> Campaign:
    db.commit()
    db.expire_all()
    return db.exec(select(Campaign).order_by(Campaign.id)).first()


def _post_campaign(client, form: dict) -> list[str]:
    response = client.post("/admin/campaign", data=form, follow_redirects=True)
    assert response.status_code == 200
    return _flashes(response.get_data(as_text=True))


def test_the_campaign_form_labels_the_deadline_settings_in_chinese(client, login, make_user):
    login(make_user("admin"))
    page = client.get("/admin/campaign").get_data(as_text=True)
    for label in ("转办期限", "签收期限", "退回期限", "最长延期工作日数", "回访评价等待期限",
                  "到期前预警天数", "逾期转督办天数", "逾期转挂牌督办天数"):
        assert f"<label>{label}<input" in page, label
    assert "<label>supervision_after_days<" not in page


@pytest.mark.parametrize("values, message", [
    ({"supervision_after_days": "5", "listed_after_days": "1"},
     "逾期转督办天数（5）不能大于逾期转挂牌督办天数（1），否则挂牌督办会早于督办。"),
    # only one of the two sent: checked against the stored other one (挂牌 after 5 days)
    ({"supervision_after_days": "6"}, "逾期转督办天数（6）不能大于逾期转挂牌督办天数（5）"),
    ({"supervision_after_days": "0"}, "逾期转督办天数应在1至60个工作日之间。"),
    ({"extension_max_days": "0"}, "最长延期工作日数应在1至60个工作日之间。"),
    ({"warning_days_before": "-1"}, "到期前预警天数应在0至60个工作日之间。"),
    ({"listed_after_days": "61"}, "逾期转挂牌督办天数应在0至60个工作日之间。"),
])
def test_escalation_thresholds_out_of_order_or_range_are_refused(
        values, message, client, login, make_user, db):
    login(make_user("admin"))
    before = _stored_campaign(db)
    deadlines_before, title_before = dict(before.deadlines or {}), before.title
    form = _campaign_form(client, db)
    form.update(values, title="改过的标题")
    shown = _post_campaign(client, form)
    assert any(message in f for f in shown), shown
    assert not any("已保存" in f for f in shown)
    after = _stored_campaign(db)
    assert (after.deadlines or {}) == deadlines_before
    assert after.title == title_before
    assert _events(db, "admin_campaign_saved") == []


def test_escalation_thresholds_in_order_are_saved(client, login, make_user, db):
    from routing.sweep import _level_for

    login(make_user("admin"))
    form = _campaign_form(client, db)
    form.update(supervision_after_days="3", listed_after_days="3", extension_max_days="1",
                warning_days_before="0")
    assert any("已保存专项整治设置" in f for f in _post_campaign(client, form))
    campaign = _stored_campaign(db)
    assert campaign.deadlines["supervision_after_days"] == 3
    assert campaign.deadlines["listed_after_days"] == 3
    from routing import deadlines

    settings = deadlines.settings(campaign)
    levels = {d: [level.value for level in _level_for(d, settings)] for d in range(0, 6)}
    assert levels[3] == ["reminder", "supervision"]
    assert levels[4] == ["reminder", "supervision", "listed"]


# -- campaign channels -------------------------------------------------------------------

@pytest.fixture
def other_campaign(db) -> Campaign:
    other = Campaign(slug="hz-b", code="b", title="湟中专项", short_title="湟中专项整治",
                     issuer="x", tracking_prefix="HZB",
                     channels={"sms": "106900000888", "email": "hz@x.example"})
    db.add(other)
    db.commit()
    return other


@pytest.mark.parametrize("channels, message", [
    ("sms: '106900000888'\n", "短信号码 106900000888 已是专项整治“湟中专项整治”的举报渠道"),
    ("sms: '+86 1069 0000 0888'\n", "短信号码 106900000888 已是专项整治“湟中专项整治”的举报渠道"),
    ("email: HZ@X.example\n", "电子邮箱 hz@x.example 已是专项整治“湟中专项整治”的举报渠道"),
    ("hotline2: '<b>x</b>'\n", "举报渠道“hotline2”无法识别"),
    ("email: not-an-email\n", "举报邮箱格式不正确：not-an-email"),
    ("sms: 短信号码\n", "短信号码格式不正确：短信号码"),
    ("hotline: '6145'\n", "举报电话格式不正确：6145"),
    ("web: javascript:alert(1)\n", "网上举报地址须为以 / 开头的本站地址"),
    ("sms: [106900000129, 106900000130]\n", "举报渠道 sms 须填写一个号码或地址"),
])
def test_wrong_or_stolen_channels_are_refused(channels, message, client, login, make_user, db,
                                             other_campaign):
    login(make_user("admin"))
    before = _stored_campaign(db).channels
    form = _campaign_form(client, db)
    form["channels_yaml"] = channels
    shown = _post_campaign(client, form)
    assert any(message in f for f in shown), shown
    assert not any("已保存" in f for f in shown)
    assert _stored_campaign(db).channels == before
    assert _events(db, "admin_campaign_saved") == []
    from notices.campaigns import campaign_for_message, campaign_for_number

    assert campaign_for_number(db, "106900000888").slug == "hz-b"
    assert campaign_for_message(db, ["hz@x.example"]).slug == "hz-b"


def test_channels_are_normalised_cleaned_and_audited(client, login, make_user, db, other_campaign):
    login(make_user("admin"))
    before = dict(_stored_campaign(db).channels)
    form = _campaign_form(client, db)
    form["channels_yaml"] = ("hotline: '0971 6145462'\nsms: '+86 1069-0000-0129'\n"
                             "email: ' zhuanban@XNJT.example '\nweb: '/c/<i>x</i>'\n")
    assert any("已保存专项整治设置" in f for f in _post_campaign(client, form))
    after = _stored_campaign(db).channels
    assert after == {"hotline": "0971-6145462", "sms": "106900000129",
                     "email": "zhuanban@xnjt.example", "web": "/c/x"}
    (event,) = _events(db, "admin_campaign_saved")
    assert event.data["channels_before"] == before
    assert event.data["channels_after"] == after
    # an empty value takes the channel off the notice
    form = _campaign_form(client, db)
    form["channels_yaml"] = "hotline: '12328'\nsms: ''\nemail:\nweb: /report\n"
    assert any("已保存专项整治设置" in f for f in _post_campaign(client, form))
    assert _stored_campaign(db).channels == {"hotline": "12328", "web": "/report"}


# -- unit contacts -----------------------------------------------------------------------

def _unit_form(client, db, code: str = "hzq", **changes) -> dict:
    page = client.get("/admin/units").get_data(as_text=True)
    unit = db.exec(select(Unit).where(Unit.code == code)).one()
    form = {"csrf_token": csrf_from(page), "unit_id": str(unit.id), "code": unit.code,
            "name": unit.name, "short_name": unit.short_name, "kind": unit.kind.value,
            "email": unit.email or "", "phone": unit.phone or "", "is_active": "1"}
    form.update(changes)
    return form


def _stored_unit(db, code: str = "hzq") -> Unit:
    db.commit()
    db.expire_all()
    return db.exec(select(Unit).where(Unit.code == code)).one()


def test_the_unit_form_asks_for_a_mobile_for_sms(client, login, make_user):
    login(make_user("admin"))
    page = client.get("/admin/units").get_data(as_text=True)
    assert "短信手机号" in page


@pytest.mark.parametrize("changes, message", [
    ({"phone": "0971-2231234"}, "短信手机号不正确：0971-2231234。请填写能接收短信的11位手机号码"),
    ({"phone": "12345"}, "短信手机号不正确：12345"),
    ({"email": "not-an-email"}, "单位电子邮箱格式不正确：not-an-email"),
    ({"name": "改名的单位", "email": "a@b"}, "单位电子邮箱格式不正确：a@b"),
])
def test_a_unit_contact_that_cannot_receive_notices_is_refused(changes, message, client, login,
                                                               make_user, db):
    login(make_user("admin"))
    before = _stored_unit(db)
    before_values = (before.name, before.email, before.phone)
    response = client.post("/admin/units", data=_unit_form(client, db, **changes),
                           follow_redirects=True)
    shown = _flashes(response.get_data(as_text=True))
    assert any(message in f for f in shown), shown
    assert not any("已保存" in f for f in shown)
    after = _stored_unit(db)
    assert (after.name, after.email, after.phone) == before_values
    assert _events(db, "admin_unit_saved") == []


def test_a_units_code_cannot_change_once_created(client, login, make_user, db):
    login(make_user("admin"))
    form = _unit_form(client, db)
    form.update({"code": "hzq2024", "name": "西宁市湟中区交通运输局"})
    shown = _flashes(client.post("/admin/units", data=form,
                                 follow_redirects=True).get_data(as_text=True))
    assert any("单位代码创建后不能修改" in f for f in shown), shown
    assert _stored_unit(db).name == "湟中区交通运输局"  # nothing saved
    assert "readonly" in client.get("/admin/units").get_data(as_text=True)


def test_a_new_unit_with_a_landline_is_not_created(client, login, make_user, db):
    login(make_user("admin"))
    page = client.get("/admin/units").get_data(as_text=True)
    response = client.post("/admin/units", data={
        "csrf_token": csrf_from(page), "code": "hdq", "name": "测试区交通运输局",
        "short_name": "测试区交通局", "kind": "county_bureau", "email": "hdq@example.cn",
        "phone": "0971-1234567"}, follow_redirects=True)
    assert any("短信手机号不正确" in f for f in _flashes(response.get_data(as_text=True)))
    db.commit()
    assert db.exec(select(Unit).where(Unit.code == "hdq")).first() is None


def test_unit_contacts_are_stored_normalised(client, login, make_user, db):
    login(make_user("admin"))
    response = client.post("/admin/units", data=_unit_form(
        client, db, phone="138 0000 0012", email=" HZQ@XNJT.example "), follow_redirects=True)
    assert any("已保存单位" in f for f in _flashes(response.get_data(as_text=True)))
    unit = _stored_unit(db)
    assert unit.phone == "+8613800000012"
    assert unit.email == "HZQ@xnjt.example"
    # both may be left empty (the unit then only sees clues in its inbox)
    client.post("/admin/units", data=_unit_form(client, db, phone="", email=""))
    unit = _stored_unit(db)
    assert unit.phone is None and unit.email is None
