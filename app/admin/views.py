"""Admin pages (/admin): accounts, units, campaign settings, checklist keywords.

Ids of the rows being changed travel in the form body, not the URL; every change goes
through `domain` (which writes the audit Event) in its own transaction.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlmodel import select

from app.admin import domain
from app.models import Role, User
from intake.models import Event
from notices.access import current_staff, staff_required
from notices.campaigns import staff_campaign
from notices.db import db_int, get_session
from notices.models import Campaign, ChecklistItem
from routing.forms import ActionForm
from routing.models import Unit, UnitKind

bp = Blueprint("admin", __name__, template_folder="templates")
ROLE_LABELS = {"admin": _l("系统管理员"), "taskforce": _l("专班"), "operator": _l("热线话务员"),
               "unit": _l("责任单位"), "inspector": _l("督察组")}
KIND_LABELS = {"city_bureau": _l("市级执法机构"), "county_bureau": _l("县区交通局"),
               "office": _l("局内科室"), "external": _l("外部单位")}


def _change(action, *args, success: str, **kwargs):
    """Run a domain change in its own transaction; flash the outcome."""
    session = get_session()
    session.commit()
    if not ActionForm().validate_on_submit():
        flash(_("页面已过期，请刷新后重试。"), "error")
        return None
    try:
        result = action(session, current_staff(), *args, **kwargs)
        session.commit()
    except (domain.AdminError, ValueError) as exc:
        session.rollback()
        flash(str(getattr(exc, "message", exc)), "error")
        return None
    if success:
        flash(success, "success")
    return result


def _int(name: str) -> int | None:
    return request.form.get(name, type=db_int)


@bp.route("/admin")
@staff_required("admin")
def index():
    session = get_session()
    events = session.exec(select(Event).where(Event.report_id.is_(None))
                          .order_by(Event.id.desc()).limit(50)).all()
    names = {u.id: u.display_name for u in session.exec(select(User))}
    return render_template("admin/index.html", events=events, names=names)


@bp.route("/admin/users")
@staff_required("admin")
def users():
    session = get_session()
    return render_template(
        "admin/users.html", users=session.exec(select(User).order_by(User.id)).all(),
        units=session.exec(select(Unit).order_by(Unit.id)).all(), roles=ROLE_LABELS,
        campaigns=session.exec(select(Campaign).order_by(Campaign.id)).all(), form=ActionForm())


@bp.post("/admin/users")
@staff_required("admin")
def create_user():
    result = _change(domain.add_user, username=request.form.get("username", ""),
                     display_name=request.form.get("display_name", ""),
                     role=request.form.get("role", ""), unit_id=_int("unit_id"),
                     campaign_id=_int("campaign_id"), success="")
    if result:
        user, password = result
        flash(_("已创建账号 %(u)s，初始密码：%(p)s（只显示这一次，请当面或通过安全渠道告知）。",
                u=user.username, p=password), "success")
    return redirect(url_for("admin.users"))


@bp.post("/admin/users/update")
@staff_required("admin")
def update_user():
    _change(domain.update_user, _int("user_id") or 0, role=request.form.get("role", ""),
            unit_id=_int("unit_id"), campaign_id=_int("campaign_id"),
            is_active=request.form.get("is_active") == "1",
            display_name=request.form.get("display_name", ""), success=_("已保存账号。"))
    return redirect(url_for("admin.users"))


@bp.post("/admin/users/password")
@staff_required("admin")
def reset_password():
    password = _change(domain.reset_password, _int("user_id") or 0, success="")
    if password:
        flash(_("已重置密码，新密码：%(p)s（只显示这一次）。", p=password), "success")
    return redirect(url_for("admin.users"))


@bp.route("/admin/units")
@staff_required("admin")
def units():
    return render_template("admin/units.html",
                           units=get_session().exec(select(Unit).order_by(Unit.id)).all(),
                           kinds=KIND_LABELS, form=ActionForm())


@bp.post("/admin/units")
@staff_required("admin")
def save_unit():
    f = request.form
    _change(domain.save_unit, _int("unit_id"), code=f.get("code", ""), name=f.get("name", ""),
            short_name=f.get("short_name", ""), name_en=f.get("name_en", ""),
            kind=f.get("kind", ""),
            email=f.get("email", ""), phone=f.get("phone", ""),
            is_active=f.get("is_active", "1") == "1", success=_("已保存单位。"))
    return redirect(url_for("admin.units"))


@bp.route("/admin/campaign")
@staff_required("admin")
def campaign():
    import yaml

    session = get_session()
    item = staff_campaign(session)
    from routing import deadlines

    return render_template(
        "admin/campaign.html", campaign=item, settings=deadlines.settings(item),
        channels_yaml=yaml.safe_dump(item.channels, allow_unicode=True, sort_keys=False),
        phases_yaml=domain.phases_yaml(session, item.id), numeric=domain.NUMERIC_DEADLINES,
        labels=domain.DEADLINE_LABELS, minimum=domain.DEADLINE_MINIMUM, form=ActionForm())


@bp.post("/admin/campaign")
@staff_required("admin")
def save_campaign():
    f = request.form
    values = {k: f.get(k, type=db_int) for k in domain.NUMERIC_DEADLINES}
    values.update({f"reply_{k}": f.get(f"reply_{k}", type=db_int)
                   for k in ("complaint", "tip", "inquiry")})
    campaign_id = _int("campaign_id") or staff_campaign(get_session()).id
    _change(domain.save_campaign, campaign_id, title=f.get("title", ""),
            short_title=f.get("short_title", ""), short_title_en=f.get("short_title_en"),
            summary=f.get("summary", ""),
            notice_text=f.get("notice_text", ""), channels_yaml=f.get("channels_yaml", ""),
            phases_yaml=f.get("phases_yaml", ""), deadline_values=values,
            success=_("已保存专项整治设置。"))
    return redirect(url_for("admin.campaign"))


@bp.route("/admin/checklist")
@staff_required("admin")
def checklist():
    session = get_session()
    item = staff_campaign(session)
    items = session.exec(select(ChecklistItem).where(ChecklistItem.campaign_id == item.id)
                         .order_by(ChecklistItem.number)).all()
    return render_template("admin/checklist.html", items=items, form=ActionForm())


@bp.post("/admin/checklist")
@staff_required("admin")
def save_keywords():
    _change(domain.save_keywords, _int("item_id") or 0,
            request.form.get("keywords", ""), success=_("已保存关键词。"))
    return redirect(url_for("admin.checklist"))


def _gazetteer_path() -> tuple[Path, Campaign]:
    """The gazetteer file of the campaign chosen on /staff (or a shared one it takes its
    files from, `data_from`)."""
    from notices.loader import campaign_file

    campaign = staff_campaign(get_session())
    folder = Path(current_app.config["CAMPAIGN_DATA_DIR"]) / campaign.slug
    if not (folder / "campaign.yaml").exists():
        folder = folder.parent / current_app.config["DEFAULT_CAMPAIGN"]
    return campaign_file(folder, "gazetteer.yaml"), campaign


@bp.route("/admin/gazetteer", methods=["GET", "POST"])
@staff_required("admin")
def gazetteer():
    """The place gazetteer (towns, streets, landmarks -> district) as its YAML file."""
    path, campaign = _gazetteer_path()
    text = request.form.get("gazetteer", "") if request.method == "POST" else \
        path.read_text(encoding="utf-8")
    if request.method == "POST":
        count = _change(domain.save_gazetteer, path, text, success="")
        if count is not None:
            flash(_("已保存地名库（%(n)d 个地名），分类器将自动重新加载。", n=count), "success")
            return redirect(url_for("admin.gazetteer"))
    return render_template("admin/gazetteer.html", text=text, form=ActionForm(),
                           campaign=campaign, file=f"{path.parent.name}/{path.name}",
                           shared=path.parent.name != campaign.slug)


ROLES = [r.value for r in Role]
UNIT_KINDS = [k.value for k in UnitKind]
