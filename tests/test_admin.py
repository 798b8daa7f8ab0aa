"""Admin pages: accounts, units, campaign settings, keywords; every change audited."""

from __future__ import annotations

import re

from sqlmodel import select

from app.models import Role, User
from intake.models import Event
from notices.models import Campaign, ChecklistItem
from routing.models import Unit
from tests.conftest import csrf_from


def _token(client) -> str:
    return csrf_from(client.get("/admin/users").get_data(as_text=True))


def test_only_admin_opens_admin_pages(client, login, make_user):
    login(make_user("taskforce"))
    for url in ("/admin", "/admin/users", "/admin/units", "/admin/campaign", "/admin/checklist"):
        assert client.get(url).status_code == 403, url


def test_admin_creates_a_unit_user_resets_and_deactivates(client, login, make_user, db):
    admin = make_user("admin")
    login(admin)
    token = _token(client)
    hzq = db.exec(select(Unit.id).where(Unit.code == "hzq")).one()
    response = client.post("/admin/users", data={
        "csrf_token": token, "username": "hz-clerk", "display_name": "湟中文员", "role": "unit",
        "unit_id": str(hzq)}, follow_redirects=True)
    html = response.get_data(as_text=True)
    password = re.search(r"初始密码：(\S+?)（", html).group(1)
    db.commit()
    db.expire_all()
    user = db.exec(select(User).where(User.username == "hz-clerk")).one()
    assert user.role is Role.unit and user.unit_id == hzq
    # a unit user without a unit is refused
    client.post("/admin/users", data={"csrf_token": token, "username": "nounit", "role": "unit"})
    assert db.exec(select(User).where(User.username == "nounit")).first() is None
    client.post("/admin/users/password", data={"csrf_token": token, "user_id": str(user.id)})
    client.post("/admin/users/update", data={
        "csrf_token": token, "user_id": str(user.id), "role": "unit", "unit_id": str(hzq),
        "is_active": "0", "display_name": "湟中文员"})
    db.commit()
    db.expire_all()
    assert db.get(User, user.id).is_active is False
    kinds = [e.kind for e in db.exec(select(Event).where(Event.report_id.is_(None)))]
    assert {"admin_user_created", "admin_password_reset", "admin_user_updated"} <= set(kinds)
    assert all(password not in str(e.data) for e in db.exec(select(Event)))


def test_admin_edits_units_campaign_and_keywords(client, login, make_user, db):
    login(make_user("admin"))
    token = _token(client)
    client.post("/admin/units", data={
        "csrf_token": token, "code": "hdq", "name": "测试区交通运输局", "short_name": "测试区交通局",
        "kind": "county_bureau", "email": "hdq@example.cn", "phone": "13800000099"})
    db.commit()
    db.expire_all()
    unit = db.exec(select(Unit).where(Unit.code == "hdq")).one()
    assert unit.email == "hdq@example.cn"
    campaign = db.exec(select(Campaign)).first()
    page = client.get("/admin/campaign").get_data(as_text=True)
    assert "dispatch_days" in page
    phases = re.search(r'name="phases_yaml">(.*?)</textarea>', page, re.S).group(1)
    import html as html_lib
    channels = re.search(r'name="channels_yaml">(.*?)</textarea>', page, re.S).group(1)
    client.post("/admin/campaign", data={
        "csrf_token": token, "campaign_id": str(campaign.id), "title": campaign.title,
        "short_title": campaign.short_title, "summary": campaign.summary,
        "notice_text": campaign.notice_text, "channels_yaml": html_lib.unescape(channels),
        "phases_yaml": html_lib.unescape(phases), "dispatch_days": "2", "reply_complaint": "15"})
    db.commit()
    db.expire_all()
    campaign = db.get(Campaign, campaign.id)
    assert campaign.deadlines["dispatch_days"] == 2
    assert campaign.deadlines["reply_days"]["complaint"] == 15
    item = db.exec(select(ChecklistItem).where(ChecklistItem.number == 9)).first()
    client.post("/admin/checklist", data={"csrf_token": token, "item_id": str(item.id),
                                          "keywords": "拦车，行车道拦截、随意拦截"})
    db.commit()
    db.expire_all()
    assert db.get(ChecklistItem, item.id).keywords == ["拦车", "行车道拦截", "随意拦截"]
    kinds = {e.kind for e in db.exec(select(Event).where(Event.report_id.is_(None)))}
    assert {"admin_unit_saved", "admin_campaign_saved", "admin_keywords_saved"} <= kinds
    assert "admin_keywords_saved" in client.get("/admin").get_data(as_text=True)


def test_keywords_edited_by_the_task_force_reach_the_classifier(app, client, login, make_user,
                                                                 db, monkeypatch):
    from sqlmodel import select

    from app.wiring import _CampaignData
    from notices.models import ChecklistItem

    monkeypatch.setattr(_CampaignData, "CHECK_SECONDS", 0.0)
    classify = app.extensions["intake"].classify
    text = "他们搞的那个蓝鲸专项考评表就是问题根源。"
    assert 3 not in classify(text, "web")["items"][:1]
    item = db.exec(select(ChecklistItem).where(ChecklistItem.number == 3)).one()
    login(make_user("admin"))
    page = client.get("/admin/checklist").get_data(as_text=True)
    from tests.conftest import csrf_from

    client.post("/admin/checklist", data={"csrf_token": csrf_from(page), "item_id": item.id,
                                          "keywords": "非税收入任务，蓝鲸专项考评表"})
    assert classify(text, "web")["items"][0] == 3


def test_gazetteer_page_saves_a_valid_file_and_refuses_a_broken_one(app, client, login,
                                                                     make_user, db, tmp_path):
    import shutil
    from pathlib import Path

    from sqlmodel import select

    from intake.models import Event

    data_dir = tmp_path / "data"
    shutil.copytree(Path(app.config["CAMPAIGN_DATA_DIR"]), data_dir)
    app.config["CAMPAIGN_DATA_DIR"] = data_dir
    path = data_dir / app.config["DEFAULT_CAMPAIGN"] / "gazetteer.yaml"
    login(make_user("admin"))
    from tests.conftest import csrf_from

    page = client.get("/admin/gazetteer").get_data(as_text=True)
    original = path.read_text(encoding="utf-8")
    response = client.post("/admin/gazetteer", data={"csrf_token": csrf_from(page),
                                                     "gazetteer": "districts: [unclosed"})
    assert "格式有误" in response.get_data(as_text=True)
    assert path.read_text(encoding="utf-8") == original
    edited = original + "\n# 专班补充\n"
    response = client.post("/admin/gazetteer", data={"csrf_token": csrf_from(page),
                                                     "gazetteer": edited})
    assert response.status_code == 302
    assert path.read_text(encoding="utf-8").rstrip("\n") == edited.rstrip("\n")
    assert db.exec(select(Event).where(Event.kind == "admin_gazetteer_saved")).first()


def _campaign_form(client, db) -> dict:
    """The campaign page's form as it stands (what an unchanged save would post)."""
    import html as html_lib

    page = client.get("/admin/campaign").get_data(as_text=True)
    campaign = db.exec(select(Campaign).order_by(Campaign.id)).first()

    def area(name):
        return html_lib.unescape(re.search(rf'name="{name}">(.*?)</textarea>', page, re.S).group(1))

    return {"csrf_token": csrf_from(page), "campaign_id": str(campaign.id),
            "title": campaign.title, "short_title": campaign.short_title,
            "summary": campaign.summary, "notice_text": campaign.notice_text,
            "channels_yaml": area("channels_yaml"), "phases_yaml": area("phases_yaml")}


def _phases(db) -> dict[int, object]:
    from notices.models import Phase

    db.commit()
    db.expire_all()
    return {p.seq: p for p in db.exec(select(Phase))}


def test_a_milestone_without_a_date_is_kept_without_one(client, login, make_user, db):
    """A milestone whose date is not fixed yet is stored with no `due_on` (never "None"); the
    stage reports page, which lists the dated report milestones, still opens."""
    login(make_user("admin"))
    form = _campaign_form(client, db)
    form["phases_yaml"] = ("- seq: 2\n  name: 查摆问题\n  due_on: 2023-05-10\n  description: ''\n"
                           "  milestones:\n  - {name: 报送问题线索办理情况}\n"
                           "  - {name: 报送整治进度, due_on: '2023-06-30'}\n")
    response = client.post("/admin/campaign", data=form, follow_redirects=True)
    assert "已保存专项整治设置" in response.get_data(as_text=True)
    phase = _phases(db)[2]
    assert phase.milestones == [{"name": "报送问题线索办理情况"},
                                {"name": "报送整治进度", "due_on": "2023-06-30"}]
    assert "None" not in _campaign_form(client, db)["phases_yaml"]
    page = client.get("/ledger/stage-reports")
    assert page.status_code == 200
    assert "报送整治进度" in page.get_data(as_text=True)


def test_stage_report_dates_skip_milestones_without_a_readable_date(db):
    """Rows written before dates were checked ("None", "5月10日") are left out, not a crash."""
    from app.ledger.stage_reports import milestones
    from notices.models import Phase

    campaign = db.exec(select(Campaign)).first()
    phase = db.exec(select(Phase).where(Phase.campaign_id == campaign.id)).first()
    phase.milestones = [{"due_on": "None", "name": "报送甲"}, {"due_on": "5月10日", "name": "报送乙"},
                        {"name": "报送丙"}, "报送丁", {"due_on": "2023-05-12", "name": "报送戊"}]
    db.add(phase)
    db.commit()
    names = [name for _day, name in milestones(db, campaign.id)]
    assert "报送戊" in names
    assert not {"报送甲", "报送乙", "报送丙", "报送丁"} & set(names)


def test_a_wrong_phases_yaml_is_a_chinese_message_and_saves_nothing(app, client, login,
                                                                     make_user, db):
    """An unreadable phase date, milestones given as text, a repeated seq or a milestone
    with an unreadable date: back to the form with a message naming the problem; neither
    the phases nor the rest of the form are saved."""
    app.config["PROPAGATE_EXCEPTIONS"] = False
    login(make_user("admin"))
    before = {seq: (p.name, p.due_on, p.milestones) for seq, p in _phases(db).items()}
    title = db.exec(select(Campaign)).first().title
    cases = {
        "- seq: 2\n  name: 查摆问题\n  due_on: 5月10日\n  milestones: []\n": "无法识别",
        "- seq: 2\n  name: 查摆问题\n  due_on: 2023-05-10\n  milestones: 报送台账\n": "须为列表",
        "- {seq: 9, name: 甲}\n- {seq: 9, name: 乙}\n": "重复",
        "- seq: 2\n  name: 查摆问题\n  milestones:\n  - {name: 报送, due_on: 下周}\n": "无法识别",
        "- {seq: 二, name: 甲}\n": "整数",
        "- seq: 2\n  name: 查摆问题\n  milestones: [报送台账]\n": "里程碑",
    }
    for phases_yaml, message in cases.items():
        form = _campaign_form(client, db)
        form.update(phases_yaml=phases_yaml, title="改过的标题")
        response = client.post("/admin/campaign", data=form)
        assert response.status_code == 302, phases_yaml
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        assert message in page, phases_yaml
        assert "已保存" not in page
        after = {seq: (p.name, p.due_on, p.milestones) for seq, p in _phases(db).items()}
        assert after == before, phases_yaml
        assert db.exec(select(Campaign)).first().title == title


def test_a_phase_deleted_from_the_yaml_is_deleted(client, login, make_user, db):
    """The YAML is the whole list of phases: one left out is removed from the form, the
    public notice page and the stage reports; the audit event names it."""
    login(make_user("admin"))
    form = _campaign_form(client, db)
    assert "巩固提升" in form["phases_yaml"]
    form["phases_yaml"] = form["phases_yaml"].split("- seq: 5")[0]
    assert "巩固提升" not in form["phases_yaml"]
    assert client.post("/admin/campaign", data=form).status_code == 302
    phases = _phases(db)
    assert 5 not in phases and 1 in phases
    assert "巩固提升" not in [p.name for p in phases.values()]
    assert "巩固提升" not in _campaign_form(client, db)["phases_yaml"]
    assert "<strong>巩固提升</strong>" not in client.get("/").get_data(as_text=True)
    event = db.exec(select(Event).where(Event.kind == "admin_campaign_saved")).one()
    assert event.data["phases_removed"] == [5]
