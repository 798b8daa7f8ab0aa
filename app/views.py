"""Cross-cutting pages: the staff landing page and the language switch."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import lazy_gettext as _l

from app.security import safe_next
from notices.access import current_staff, staff_required

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
    return render_template("staff/home.html", user=user, staff_links=links)


@bp.route("/lang/<code>")
def set_language(code: str):
    if code in current_app.config["LANGUAGES"]:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next"), url_for("notices.home")))
