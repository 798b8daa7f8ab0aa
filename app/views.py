"""Cross-cutting pages: the staff landing page and the language switch."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.security import safe_next
from notices.access import current_staff, staff_required
from notices.campaigns import STAFF_CAMPAIGN_KEY, active_campaigns, in_scope, staff_campaign
from notices.db import db_int, get_session

bp = Blueprint("staff", __name__)

# (endpoint, label): shown on the staff home page to roles the endpoint admits.
STAFF_LINKS = (
    ("desk.triage", _l("待分办线索（分拣）")),
    ("desk.review_queue", _l("待审核回复与延期申请")),
    ("unit.inbox", _l("本单位线索")),
    ("calls.console", _l("来电登记")),
    ("desk.callbacks", _l("回访评价")),
    ("settings.rules", _l("分办规则")),
    ("settings.calendar", _l("节假日与调休")),
    ("outbox.index", _l("短信与邮件发送")),
    ("taskforce.dashboard", _l("专班看板")),
    ("search.index", _l("线索查询")),
    ("ledger.index", _l("整改工作台账")),
    ("admin.index", _l("系统管理")),
)


@bp.route("/staff")
@staff_required()
def home():
    user = current_staff()
    links = []
    for endpoint, label in STAFF_LINKS:
        view = current_app.view_functions.get(endpoint)
        if view is not None and user.role in getattr(view, "required_roles", ()):
            links.append({"url": url_for(endpoint), "label": label})
    db = get_session()
    campaign = staff_campaign(db)
    choices = [c for c in active_campaigns(db) if in_scope(c.id)]
    return render_template("staff/home.html", user=user, staff_links=links, campaign=campaign,
                           campaign_choices=choices if len(choices) > 1 else [])


@bp.post("/staff/campaign")
@staff_required()
def choose_campaign():
    """Which campaign the dashboard, ledger, rules and search pages show (remembered); a
    unit's inbox shows the clues of every campaign, its ledger and search the chosen one."""
    db = get_session()
    wanted = request.form.get("campaign", type=db_int)
    chosen = next((c for c in active_campaigns(db) if c.id == wanted and in_scope(c.id)), None)
    if chosen is None:
        flash(_("请选择一项本平台受理的专项整治。"), "error")
    else:
        session[STAFF_CAMPAIGN_KEY] = chosen.id
        flash(_("已切换到：%(title)s", title=chosen.short_title), "success")
    return redirect(url_for("staff.home"))


@bp.route("/lang/<code>")
def set_language(code: str):
    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next"), url_for("notices.home")))
