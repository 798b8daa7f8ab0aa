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
        "kind": "county_bureau", "email": "hdq@example.cn", "phone": "0971-1234567"})
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
