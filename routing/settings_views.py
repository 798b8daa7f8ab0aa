"""Pages where the task force edits routing rules and the holiday calendar (data, not code)."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlmodel import select
from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from intake.models import Event
from intake.registration import DISTRICTS
from intake.sanitize import clean_text
from notices.access import current_staff, staff_required
from notices.campaigns import staff_campaign, staff_scope
from notices.db import begin_write, db_int, get_session
from routing.deadlines import (
    build_calendar,
    forget_calendar,
    mark_year,
    move_open_deadlines,
    work_calendar,
)
from routing.dispatch import forget_rules
from routing.forms import ActionForm
from routing.models import CalendarOverride, RoutingAction, RoutingRule, Unit, UnitKind
from routing.transitions import unfit_unit
from routing.web import checklist_texts

bp = Blueprint("settings", __name__, template_folder="templates")
DESK = ("taskforce", "admin")
CONDITIONS = [("agency", _l("涉及部门")), ("first_item", _l("首要清单条目")),
              ("jurisdiction", _l("区县")), ("kind", _l("类型"))]
# Only values a rule can ever match (routing.policy.resolve_unit): inquiry, praise, spam
# and invalid go to triage before any rule is tried, and the classifier gives agency
# "none" only to those kinds, so rules on them would be saved but never route.
RULE_AGENCIES = ("police", "transport")
RULE_KINDS = ("complaint", "tip")


def _unit_choice(value: object) -> int | None:
    """The submitted unit id as an int, or None (shown as "choose a unit", never a 500)."""
    try:
        return db_int(str(value))
    except (TypeError, ValueError):
        return None


class RuleForm(FlaskForm):
    priority = IntegerField(_l("优先级（小者先）"), validators=[
        InputRequired(message=_l("请填写优先级。")), NumberRange(min=0, max=9999)])
    name = StringField(_l("名称"), validators=[DataRequired(message=_l("请填写名称。")),
                                               Length(max=64)])
    condition = SelectField(_l("条件"), choices=CONDITIONS)
    value = StringField(_l("取值"), validators=[DataRequired(message=_l("请填写取值。")),
                                                Length(max=32)])
    action = SelectField(_l("处理"), choices=[("dispatch", _l("转办")), ("refer", _l("移交"))])
    # Checked in the view against the active units offered (with a Chinese message).
    unit_id = SelectField(_l("单位"), coerce=_unit_choice, validate_choice=False)
    is_active = BooleanField(_l("启用"), default=True)


class DayForm(FlaskForm):
    day = DateField(_l("日期"), validators=[InputRequired(message=_l("请选择日期。"))])
    workday = SelectField(_l("类型"), choices=[("0", _l("放假")), ("1", _l("调休上班"))])
    note = StringField(_l("说明"), validators=[Optional(), Length(max=64)])


def _audit(kind: str, data: dict) -> None:
    get_session().add(Event(kind=kind, actor_id=current_staff().id, data=data))


def _valid_value(condition: str, value: str, items: set[int]) -> str | int | None:
    if condition == "agency":
        return value if value in RULE_AGENCIES else None
    if condition == "first_item":
        # isascii: "²" and "³" pass str.isdigit() but int() refuses them.
        ok = value.isascii() and value.isdigit() and int(value) in items
        return int(value) if ok else None
    if condition == "jurisdiction":
        return value if value in DISTRICTS else None
    if condition == "kind":
        return value if value in RULE_KINDS else None
    return None


def _value_error(condition: str, items: set[int]) -> str:
    if condition == "agency":
        return _("取值不正确：涉及部门只能填 police（公安交警）或 transport（交通运输）。")
    if condition == "first_item":
        return _("取值不正确：首要清单条目请填 1-%(last)d 之间的条目编号。",
                 last=max(items, default=0))
    if condition == "jurisdiction":
        return _("取值不正确：区县请填区县全称：%(names)s。", names="、".join(DISTRICTS))
    return _("取值不正确：类型只能填 complaint（投诉）或 tip（举报）；"
             "咨询、表扬、无效和垃圾信息不经规则，直接进入分拣。")


def _unit_error(action: str, unit_id: int | None, units: dict[int, Unit]) -> str | None:
    """Why this action cannot go to this unit (the moves in routing.transitions refuse it)."""
    unit = units.get(unit_id) if unit_id is not None else None
    if unit is None:  # a stale form or a crafted POST: not one of the active units offered
        return _("请从列表中选择一个启用中的单位。")
    problem = unfit_unit(action, unit)
    return str(problem) if problem is not None else None


def _rule_values(rule: RoutingRule) -> dict:
    """A rule as plain data, for the audit trail."""
    return {"name": rule.name, "when": dict(rule.when or {}),
            "action": RoutingAction(rule.action).value, "unit_id": rule.unit_id,
            "is_active": rule.is_active}


@bp.route("/taskforce/rules", methods=["GET", "POST"])
@staff_required(*DESK)
def rules():
    session = get_session()
    campaign = staff_campaign(session)
    form = RuleForm()
    units = {u.id: u for u in session.exec(
        select(Unit).where(Unit.is_active == True).order_by(Unit.id)).all()}  # noqa: E712
    form.unit_id.choices = [
        (u.id, _("%(name)s（外部单位）", name=u.name) if u.kind is UnitKind.external else u.name)
        for u in units.values()]
    if form.validate_on_submit():
        items = set(checklist_texts(session, campaign.id))
        value = _valid_value(form.condition.data, form.value.data.strip(), items)
        if value is None:
            form.value.errors.append(_value_error(form.condition.data, items))
        unit_error = _unit_error(form.action.data, form.unit_id.data, units)
        if unit_error:
            form.unit_id.errors.append(unit_error)
        if value is not None and not unit_error:
            session.commit()
            begin_write(session)
            # The page says "same priority means edit": an existing rule is replaced, and
            # the audit event keeps what it was.
            rule = session.exec(select(RoutingRule).where(
                RoutingRule.campaign_id == campaign.id,
                RoutingRule.priority == form.priority.data)).first()
            previous = _rule_values(rule) if rule is not None else None
            values = {"name": clean_text(form.name.data, multiline=False)[:64],
                      "when": {form.condition.data: value},
                      "action": RoutingAction(form.action.data), "unit_id": form.unit_id.data,
                      "is_active": form.is_active.data}
            if rule is None:
                rule = RoutingRule(campaign_id=campaign.id, priority=form.priority.data, **values)
                session.add(rule)
            else:
                for key, item in values.items():
                    setattr(rule, key, item)
            _audit("routing_rule_saved", {"priority": form.priority.data, **{
                k: (v.value if hasattr(v, "value") else v) for k, v in values.items()},
                "previous": previous})
            session.commit()
            forget_rules()
            if previous is None:
                flash(_("规则已保存。"), "success")
            else:
                flash(_("规则已保存，替换了优先级 %(priority)d 的原规则“%(name)s”。",
                        priority=form.priority.data, name=previous["name"]), "success")
            return redirect(url_for("settings.rules"))
    rows = session.exec(select(RoutingRule, Unit).join(Unit, Unit.id == RoutingRule.unit_id)
                        .where(RoutingRule.campaign_id == campaign.id)
                        .order_by(RoutingRule.priority)).all()
    return render_template("routing/rules.html", rows=rows, form=form, campaign=campaign,
                           threshold=(campaign.routing or {}).get("min_confidence"))


@bp.route("/taskforce/calendar", methods=["GET", "POST"])
@staff_required(*DESK)
def calendar():
    session = get_session()
    form = DayForm()
    shared = staff_scope() is None  # one calendar serves every campaign
    if request.method == "POST" and not shared:
        flash(_("节假日表由各项整治共用，只能由不限于某项整治的专班账号修改。"), "error")
        return redirect(url_for("settings.calendar"))
    if form.validate_on_submit():
        session.commit()
        begin_write(session)
        before = build_calendar(session)
        row = session.get(CalendarOverride, form.day.data)
        workday = form.workday.data == "1"
        note = clean_text(form.note.data, multiline=False)[:64]
        if row is None:
            session.add(CalendarOverride(day=form.day.data, workday=workday, note=note))
        else:
            row.workday, row.note = workday, note
        session.flush()
        moved = move_open_deadlines(session, before)
        _audit("calendar_day_saved", {"day": form.day.data.isoformat(), "workday": workday,
                                      "note": note, "moved_deadlines": moved})
        session.commit()
        forget_calendar()
        flash(_("已保存 %(day)s。", day=form.day.data.isoformat()), "success")
        if moved:
            flash(_("%(n)d 条在办线索的期限已按新的节假日安排重新计算。", n=moved), "success")
        return redirect(url_for("settings.calendar"))
    today = date.today()
    rows = session.exec(select(CalendarOverride).where(CalendarOverride.day >= date(
        today.year - 1, 1, 1)).order_by(CalendarOverride.day)).all()
    cal = work_calendar(session)
    years = [(y, cal.is_year_published(y)) for y in (today.year, today.year + 1)]
    warnings = [w for w in (cal.warning_for(date(y, 6, 1)) for y, _done in years) if w]
    return render_template("routing/calendar.html", rows=rows, form=form, warnings=warnings,
                           may_edit=shared, years=years, action_form=ActionForm())


@bp.post("/taskforce/calendar/year")
@staff_required(*DESK)
def calendar_year():
    """Mark a year's schedule as entered in full (or not yet): the warning follows."""
    year = request.form.get("year", type=db_int)
    if staff_scope() is not None:
        flash(_("节假日表由各项整治共用，只能由不限于某项整治的专班账号修改。"), "error")
    elif ActionForm().validate_on_submit() and year and 2000 <= year <= 2100:
        session = get_session()
        session.commit()
        begin_write(session)
        published = request.form.get("published") == "1"
        mark_year(session, year, published)
        _audit("calendar_year_marked", {"year": year, "published": published})
        session.commit()
        flash(_("已标记 %(year)d 年节假日安排已完整录入。", year=year) if published
              else _("已标记 %(year)d 年节假日安排尚未完整录入。", year=year), "success")
    return redirect(url_for("settings.calendar"))
