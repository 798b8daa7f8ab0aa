"""The skeleton: migrations, seed data, public pages, sign-in and role checks."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import Session, SQLModel, func, select

from app.cli import seed_campaign
from app.db import import_models
from notices.models import Campaign, ChecklistItem, Phase
from routing.models import CalendarOverride, RoutingRule, Unit
from tests.conftest import CAMPAIGN_DIR

NOTICE = (Path(__file__).resolve().parents[2] / "shared" / "campaign-notice-2023-129.txt")


def test_migrations_match_models(app):
    import_models()
    with app.extensions["engine"].connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []


def test_migrations_downgrade_to_empty_and_back(app):
    from alembic import command
    from alembic.config import Config

    from app.cli import run_migrations

    engine = app.extensions["engine"]
    cfg = Config(str(Path(__file__).resolve().parent.parent / "alembic.ini"))
    cfg.attributes["database_url"] = app.config["DATABASE_URL"]
    engine.dispose()
    command.downgrade(cfg, "base")
    assert set(sa.inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()
    run_migrations(app.config["DATABASE_URL"])
    assert "report" in sa.inspect(engine).get_table_names()


def test_seeding_twice_changes_nothing(db: Session):
    counts = [db.exec(select(func.count()).select_from(m)).one()
              for m in (Campaign, Phase, ChecklistItem, Unit, RoutingRule)]
    assert seed_campaign(db, CAMPAIGN_DIR) == 0
    db.commit()
    assert counts == [db.exec(select(func.count()).select_from(m)).one()
                      for m in (Campaign, Phase, ChecklistItem, Unit, RoutingRule)]


def test_seeding_again_keeps_the_task_forces_edits_unless_told_to_overwrite(db: Session):
    campaign = db.exec(select(Campaign)).first()
    item = db.exec(select(ChecklistItem).where(ChecklistItem.number == 9)).one()
    rule = db.exec(select(RoutingRule).order_by(RoutingRule.priority)).first()
    unit = db.get(Unit, rule.unit_id)
    other_unit = db.exec(select(Unit).where(Unit.id != unit.id)).first()
    phases = db.exec(select(Phase).where(Phase.campaign_id == campaign.id)
                     .order_by(Phase.seq)).all()
    makeup = db.get(CalendarOverride, date(2023, 1, 28))  # 春节调休上班 in the shipped table
    original = (campaign.title, list(item.keywords), rule.unit_id, unit.email, len(phases),
                makeup.workday, other_unit.name, campaign.summary)
    makeup.workday = False  # the task force's correction on the calendar page
    campaign.title = "专班修改后的标题"
    item.keywords = ["专班新增词"]
    rule.unit_id = other_unit.id
    unit.email = None  # the contact left: cleared on purpose
    other_unit.name = "改名后的" + other_unit.name  # renamed; the data files keep the old name
    db.delete(phases[-1])
    campaign.summary = ""
    db.commit()

    assert seed_campaign(db, CAMPAIGN_DIR) == 0
    db.commit()
    kept = db.exec(select(Phase).where(Phase.campaign_id == campaign.id)).all()
    assert (campaign.title, item.keywords, rule.unit_id, unit.email, len(kept),
            makeup.workday, campaign.summary) == ("专班修改后的标题", ["专班新增词"],
                                                  other_unit.id, None, original[4] - 1, False, "")
    assert other_unit.name.startswith("改名后的")
    county = CAMPAIGN_DIR.parent / "huangzhong-demo"  # its rules name the renamed units too
    assert seed_campaign(db, county) > 0
    db.commit()

    assert seed_campaign(db, CAMPAIGN_DIR, overwrite=True) > 0
    db.commit()
    restored = db.exec(select(Phase).where(Phase.campaign_id == campaign.id)).all()
    assert (campaign.title, item.keywords, rule.unit_id, unit.email, len(restored),
            makeup.workday, other_unit.name, campaign.summary) == original


def test_checklist_has_36_items_in_16_groups_and_6_categories(db: Session):
    items = db.exec(select(ChecklistItem).order_by(ChecklistItem.number)).all()
    assert [i.number for i in items] == list(range(1, 37))
    assert len({i.group_number for i in items}) == 16
    assert [c for c in dict.fromkeys(i.category for i in items)] == [
        "逐利执法", "执法规范化", "执法方式简单僵化", "粗暴执法", '执法"寻租"', "制度文件管理"]


@pytest.mark.skipif(not NOTICE.exists(), reason="shared notice not present")
def test_checklist_wording_is_the_notices(db: Session):
    notice = re.sub(r"\s+", "", NOTICE.read_text(encoding="utf-8"))
    for item in db.exec(select(ChecklistItem)):
        assert re.sub(r"\s+", "", item.text) in notice, item.number


def test_phases_and_channels_seeded(db: Session):
    campaign = db.exec(select(Campaign)).one()
    assert campaign.code == "宁交〔2023〕129号"
    assert set(campaign.channels) >= {"hotline", "sms", "email", "web"}
    phases = db.exec(select(Phase).order_by(Phase.seq)).all()
    assert [(p.name, p.due_on and p.due_on.isoformat()) for p in phases] == [
        ("动员部署", "2023-04-20"), ("查摆问题", "2023-05-10"), ("集中整治", "2023-09-30"),
        ("总结报告", "2023-09-30"), ("巩固提升", None)]


def test_units_of_the_design_are_seeded(db: Session):
    names = set(db.exec(select(Unit.name)))
    assert {"湟中区交通运输局", "大通县交通运输局", "湟源县交通运输局", "市交通运输综合行政执法监督局",
            "局办公室", "局财务科", "局法规科", "局运输科", "局信息中心",
            "市公安局交通警察支队"} <= names


def test_home_page_shows_notice_channels_and_all_items(client):
    page = client.get("/").get_data(as_text=True)
    assert "宁交〔2023〕129号" in page
    assert "0971-6145462" in page
    assert page.count('id="item-') == 36
    assert "动员部署" in page and "巩固提升" in page


def test_checklist_page_in_english_keeps_the_wording(client):
    client.get("/lang/en?next=/checklist")
    page = client.get("/checklist").get_data(as_text=True)
    assert 'lang="en"' in page
    assert "Checklist" in page
    assert "违规设定对非法营运行为的最低处罚数额" in page


def test_security_headers(client):
    response = client.get("/")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_login_logout(client, make_user, login):
    user = make_user("taskforce")
    login(user)
    assert client.get("/staff").status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      client.get("/staff").get_data(as_text=True)).group(1)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/staff").status_code == 302


def test_wrong_password_is_refused_with_a_message(client, make_user):
    from tests.conftest import csrf_from

    user = make_user("operator")
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": user.username, "password": "nope",
                                           "csrf_token": token})
    assert response.status_code == 200
    assert "用户名或密码错误" in response.get_data(as_text=True)
    assert client.get("/staff").status_code == 302


def test_login_without_csrf_is_refused(client, make_user):
    user = make_user("operator")
    response = client.post("/login", data={"username": user.username,
                                           "password": f"pw-{user.username}"})
    assert response.status_code == 400
    assert client.get("/staff").status_code == 302


def test_lockout_after_repeated_failures(client, make_user, app):
    from tests.conftest import csrf_from

    user = make_user("operator")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        token = csrf_from(client.get("/login").get_data(as_text=True))
        client.post("/login", data={"username": user.username, "password": "bad",
                                    "csrf_token": token})
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": user.username,
                                           "password": f"pw-{user.username}", "csrf_token": token})
    assert response.status_code == 200  # even the right password is refused while locked
    assert "暂时锁定" in response.get_data(as_text=True)
    assert client.get("/staff").status_code == 302


def test_unit_user_must_belong_to_a_unit(db: Session):
    from app.auth import create_user

    with pytest.raises(ValueError):
        create_user(db, username="orphan", password="x", role="unit")
    db.rollback()
    with pytest.raises(sa.exc.IntegrityError):
        db.execute(sa.text(
            "INSERT INTO staff_user (username, display_name, password_hash, role, is_active, "
            "failed_logins, created_at) VALUES ('x', 'x', 'x', 'unit', true, 0, CURRENT_TIMESTAMP)"))
    db.rollback()


def test_open_redirect_after_login_is_refused(client, make_user):
    from tests.conftest import csrf_from

    user = make_user("taskforce")
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login?next=//evil.example/", data={
        "username": user.username, "password": f"pw-{user.username}", "csrf_token": token})
    assert response.headers["Location"] == "/staff"


@pytest.mark.parametrize("target", ["//evil.example/", "/\t/evil.example", "/\\evil.example",
                                    "https://evil.example/", "/\n/evil.example"])
def test_language_switch_never_leaves_the_site(client, target):
    from urllib.parse import urlsplit

    location = client.get("/lang/en", query_string={"next": target}).headers["Location"]
    assert urlsplit(location).netloc in ("", "localhost"), location
    assert "evil.example" not in location
