"""Administration: staff accounts, units, campaign settings and checklist keywords.

Every change writes an audit `Event` (report_id None) naming what changed — never a
password. Plain functions over a session; the caller commits.
"""

from __future__ import annotations

import re
import secrets
from datetime import date
from pathlib import Path

import yaml
from flask_babel import lazy_gettext as _l
from sqlmodel import Session, select

from app.auth import CAMPAIGN_SCOPED_ROLES, create_user, hash_password
from app.models import Role, User
from intake.models import Event
from intake.sanitize import clean_text
from notices.db import begin_write
from notices.models import Campaign, ChecklistItem, Phase
from notices.timeutil import as_date
from routing import deadlines
from routing.dispatch import forget_rules
from routing.models import Unit, UnitKind

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,64}$")
NUMERIC_DEADLINES = ("dispatch_days", "acknowledge_days", "return_window_days",
                     "extension_max_days", "feedback_days", "warning_days_before",
                     "supervision_after_days", "listed_after_days")


class AdminError(Exception):
    def __init__(self, message) -> None:
        super().__init__(str(message))
        self.message = message


def _audit(session: Session, actor, kind: str, **data) -> None:
    session.add(Event(report_id=None, kind=kind, actor_id=actor.id, data=data))


def _require_admin(actor) -> None:
    if getattr(actor.role, "value", actor.role) != "admin":
        raise AdminError(_l("只有系统管理员可以执行此操作。"))


def new_password() -> str:
    return secrets.token_urlsafe(9)


def add_user(session: Session, actor, *, username: str, display_name: str, role: str,
             unit_id: int | None, campaign_id: int | None = None) -> tuple[User, str]:
    """Create an account with a random first password (returned once, never stored)."""
    _require_admin(actor)
    begin_write(session)
    username = (username or "").strip()
    if not USERNAME_RE.match(username):
        raise AdminError(_l("用户名须为3至64位字母、数字、点、横线或下划线。"))
    if session.exec(select(User).where(User.username == username)).first():
        raise AdminError(_l("用户名已存在。"))
    role_value = _role_for(session, role, unit_id)
    _check_campaign(session, campaign_id)
    password = new_password()
    user = create_user(session, username=username, password=password, role=role_value,
                       display_name=clean_text(display_name, multiline=False)[:64],
                       unit_id=unit_id if role_value is Role.unit else None,
                       campaign_id=campaign_id)
    session.flush()
    _audit(session, actor, "admin_user_created", user_id=user.id, username=username,
           role=role_value.value, unit_id=user.unit_id, campaign_id=user.campaign_id)
    return user, password


def _role_for(session: Session, role: str, unit_id: int | None) -> Role:
    """The role asked for; a unit user must name an existing unit. :raise AdminError:"""
    try:
        role_value = Role(role)
    except ValueError:
        raise AdminError(_l("角色不正确。")) from None
    if role_value is Role.unit and not (unit_id and session.get(Unit, unit_id)):
        raise AdminError(_l("单位用户须选择所属单位。"))
    return role_value


def _check_campaign(session: Session, campaign_id: int | None) -> None:
    if campaign_id is not None and session.get(Campaign, campaign_id) is None:
        raise AdminError(_l("专项整治不存在。"))


def update_user(session: Session, actor, user_id: int, *, role: str, unit_id: int | None,
                is_active: bool, display_name: str, campaign_id: int | None = None) -> User:
    _require_admin(actor)
    begin_write(session)
    user = session.get(User, user_id)
    if user is None:
        raise AdminError(_l("账号不存在。"))
    role_value = _role_for(session, role, unit_id)
    if user.id == actor.id and (not is_active or role_value is not Role.admin):
        raise AdminError(_l("不能停用自己的账号或取消自己的管理员角色。"))
    _check_campaign(session, campaign_id)
    before = {"role": user.role.value, "unit_id": user.unit_id, "is_active": user.is_active,
              "display_name": user.display_name, "campaign_id": user.campaign_id}
    user.role = role_value
    user.unit_id = unit_id if role_value is Role.unit else None
    user.campaign_id = campaign_id if role_value in CAMPAIGN_SCOPED_ROLES else None
    user.is_active = bool(is_active)
    user.display_name = clean_text(display_name, multiline=False)[:64] or user.username
    after = {"role": user.role.value, "unit_id": user.unit_id, "is_active": user.is_active,
             "display_name": user.display_name, "campaign_id": user.campaign_id}
    changed = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
    if changed:
        _audit(session, actor, "admin_user_updated", user_id=user.id, changes=changed)
    return user


def reset_password(session: Session, actor, user_id: int) -> str:
    _require_admin(actor)
    begin_write(session)
    user = session.get(User, user_id)
    if user is None:
        raise AdminError(_l("账号不存在。"))
    password = new_password()
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    _audit(session, actor, "admin_password_reset", user_id=user.id)
    return password


UNIT_FIELDS = ("code", "name", "short_name", "email", "phone")


def save_unit(session: Session, actor, unit_id: int | None, *, code: str, name: str,
              short_name: str, kind: str, email: str, phone: str, is_active: bool,
              name_en: str = "") -> Unit:
    _require_admin(actor)
    begin_write(session)
    values = {"code": clean_text(code, multiline=False)[:32],
              "name": clean_text(name, multiline=False)[:128],
              "short_name": clean_text(short_name, multiline=False)[:64],
              "name_en": clean_text(name_en, multiline=False)[:255] or None,
              "email": clean_text(email, multiline=False)[:255] or None,
              "phone": clean_text(phone, multiline=False)[:32] or None}
    if not values["code"] or not values["name"]:
        raise AdminError(_l("请填写单位代码和名称。"))
    try:
        kind_value = UnitKind(kind)
    except ValueError:
        raise AdminError(_l("单位类型不正确。")) from None
    clash = session.exec(select(Unit).where((Unit.code == values["code"])
                                            | (Unit.name == values["name"]))).all()
    if any(u.id != unit_id for u in clash):
        raise AdminError(_l("单位代码或名称已存在。"))
    unit = session.get(Unit, unit_id) if unit_id else None
    if unit_id and unit is None:
        raise AdminError(_l("单位不存在。"))
    if unit is None:
        unit = Unit(code=values["code"], name=values["name"],
                    short_name=values["short_name"] or values["name"], kind=kind_value)
        session.add(unit)
    changed = {}
    for key, value in values.items():
        value = value if key != "short_name" else (value or values["name"])
        if getattr(unit, key) != value:
            changed[key] = value
            setattr(unit, key, value)
    if unit.kind is not kind_value:
        changed["kind"] = kind_value.value
        unit.kind = kind_value
    if unit.is_active != bool(is_active):
        changed["is_active"] = bool(is_active)
        unit.is_active = bool(is_active)
        forget_rules()  # rules naming an inactive unit stop matching
    session.flush()
    if changed:
        _audit(session, actor, "admin_unit_saved", unit_id=unit.id, changes=changed)
    return unit


def save_campaign(session: Session, actor, campaign_id: int, *, title: str, short_title: str,
                  summary: str, notice_text: str, channels_yaml: str, phases_yaml: str,
                  deadline_values: dict, short_title_en: str | None = None) -> Campaign:
    """Notice text, channels, phases and deadline settings (YAML for the structured parts)."""
    _require_admin(actor)
    begin_write(session)
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise AdminError(_l("专项整治活动不存在。"))
    try:
        channels = yaml.safe_load(channels_yaml or "") or {}
        phases = yaml.safe_load(phases_yaml or "") or []
    except yaml.YAMLError as exc:
        raise AdminError(_l("YAML 格式有误：%(e)s", e=str(exc)[:200])) from None
    if not isinstance(channels, dict) or not isinstance(phases, list):
        raise AdminError(_l("渠道须为映射，阶段须为列表。"))
    wanted = _phase_rows(phases)
    settings = dict(campaign.deadlines or {})
    for key in NUMERIC_DEADLINES:
        if key in deadline_values and deadline_values[key] is not None:
            value = int(deadline_values[key])
            if not 0 <= value <= 60:
                raise AdminError(_l("期限天数应在0至60之间。"))
            settings[key] = value
    reply_days = dict(settings.get("reply_days") or deadlines.DEFAULTS["reply_days"])
    for kind in ("complaint", "tip", "inquiry"):
        value = deadline_values.get(f"reply_{kind}")
        if value is not None:
            if not 1 <= int(value) <= 60:
                raise AdminError(_l("办理期限应在1至60个工作日之间。"))
            reply_days[kind] = int(value)
    settings["reply_days"] = reply_days
    campaign.title = clean_text(title, multiline=False)[:255] or campaign.title
    campaign.short_title = clean_text(short_title, multiline=False)[:255] or campaign.short_title
    if short_title_en is not None:
        campaign.short_title_en = clean_text(short_title_en, multiline=False)[:255] or None
    campaign.summary = clean_text(summary)[:4000]
    campaign.notice_text = clean_text(notice_text)[:200000]
    campaign.channels = channels
    campaign.deadlines = settings
    existing = {p.seq: p for p in session.exec(select(Phase).where(
        Phase.campaign_id == campaign.id))}
    removed = sorted(seq for seq in existing if seq not in wanted)
    for seq in removed:  # no table refers to phase rows; the YAML is the whole list
        session.delete(existing[seq])
    for seq, values in wanted.items():
        phase = existing.get(seq) or Phase(campaign_id=campaign.id, seq=seq, name="")
        for key, value in values.items():
            setattr(phase, key, value)
        session.add(phase)
    session.flush()
    _audit(session, actor, "admin_campaign_saved", campaign_id=campaign.id,
           deadlines=settings, phases=len(phases), phases_removed=removed)
    return campaign


def _phase_rows(phases: list) -> dict[int, dict]:
    """The phases of the admin's YAML, checked, by seq: name, due_on, description, milestones.

    A milestone may have no date yet (stored without `due_on`).
    :raise AdminError: in Chinese, naming the phase; nothing is saved.
    """
    rows: dict[int, dict] = {}
    for spec in phases:
        if not isinstance(spec, dict) or "seq" not in spec or not _text(spec.get("name")):
            raise AdminError(_l("每个阶段须有 seq 和 name。"))
        seq = spec["seq"]
        if isinstance(seq, str) and seq.strip().isdigit():
            seq = int(seq)
        if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq <= 999:
            raise AdminError(_l("阶段序号 seq 须为1至999的整数：%(seq)s", seq=str(seq)[:40]))
        if seq in rows:
            raise AdminError(_l("阶段序号 %(seq)s 重复，每个阶段的序号须唯一。", seq=seq))
        due_on, ok = _day(spec.get("due_on"))
        if not ok:
            raise AdminError(_l("第%(seq)s阶段的日期 due_on 无法识别：%(value)s。"
                                "请按 2023-05-10 的格式填写，或留空。",
                                seq=seq, value=str(spec.get("due_on"))[:40]))
        milestones = spec.get("milestones")
        if milestones is None:
            milestones = []
        if not isinstance(milestones, list):
            raise AdminError(_l("第%(seq)s阶段的 milestones 须为列表，每项写成"
                                " {name: 名称, due_on: 2023-05-10}。", seq=seq))
        rows[seq] = {"name": _text(spec["name"])[:64], "due_on": due_on,
                     "description": _text(spec.get("description"), multiline=True),
                     "milestones": [_milestone(seq, m) for m in milestones]}
    return rows


def _milestone(seq: int, spec) -> dict:
    """{"name": ..., "due_on": "YYYY-MM-DD"}; without `due_on` when the date is not set."""
    if not isinstance(spec, dict) or not _text(spec.get("name")):
        raise AdminError(_l("第%(seq)s阶段的每个里程碑须写成 {name: 名称, due_on: 2023-05-10}，"
                            "名称不能为空。", seq=seq))
    due_on, ok = _day(spec.get("due_on"))
    if not ok:
        raise AdminError(_l("第%(seq)s阶段里程碑“%(name)s”的日期 due_on 无法识别：%(value)s。"
                            "请按 2023-05-10 的格式填写，或留空。", seq=seq,
                            name=_text(spec["name"])[:40], value=str(spec.get("due_on"))[:40]))
    row = {"name": _text(spec["name"])[:200]}
    if due_on is not None:
        row["due_on"] = due_on.isoformat()
    return row


def _shown(milestone):
    """A stored milestone for the form; the "None" date older saves wrote reads as no date."""
    if isinstance(milestone, dict) and str(milestone.get("due_on")) in ("None", ""):
        return {k: v for k, v in milestone.items() if k != "due_on"}
    return milestone


def _text(value, *, multiline: bool = False) -> str:
    return "" if value is None else clean_text(str(value), multiline=multiline)


def _day(value) -> tuple[date | None, bool]:
    """A YAML date value as (date or None, understood?); empty means no date."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, True
    if not isinstance(value, str | date):
        return None, False
    try:
        return as_date(value), True
    except ValueError:
        return None, False


def phases_yaml(session: Session, campaign_id: int) -> str:
    phases = session.exec(select(Phase).where(Phase.campaign_id == campaign_id)
                          .order_by(Phase.seq)).all()
    data = [{"seq": p.seq, "name": p.name, "due_on": p.due_on, "description": p.description,
             "milestones": [_shown(m) for m in p.milestones or []]} for p in phases]
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def save_keywords(session: Session, actor, item_id: int, keywords_text: str) -> ChecklistItem:
    _require_admin(actor)
    begin_write(session)
    item = session.get(ChecklistItem, item_id)
    if item is None:
        raise AdminError(_l("清单条目不存在。"))
    words = [clean_text(w, multiline=False)[:32]
             for w in re.split(r"[,，、\n]", keywords_text or "")]
    words = list(dict.fromkeys(w for w in words if w))[:50]
    if words != list(item.keywords or []):
        _audit(session, actor, "admin_keywords_saved", item_id=item.id, number=item.number,
               before=list(item.keywords or []), after=words)
        item.keywords = words
    return item


def save_gazetteer(session: Session, actor, path: Path, text: str) -> int:
    """Replace the campaign's gazetteer file after checking it loads; returns place count.

    The classifier notices the file changed and reloads. With several app servers the data
    directory must be shared (CAMPAIGN_DATA_DIR).
    :raise AdminError: the YAML does not parse or is not a gazetteer; the file is untouched.
    """
    from intake.classification.gazetteer import Gazetteer

    _require_admin(actor)
    try:
        data = yaml.safe_load(text or "")
        gazetteer = Gazetteer(data if isinstance(data, dict) else {})
    except Exception as exc:  # any parse or shape error is the admin's to fix
        raise AdminError(_l("地名库格式有误：%(e)s", e=str(exc)[:200])) from None
    count = len(gazetteer.names())
    if not isinstance(data, dict) or count == 0:
        raise AdminError(_l("地名库为空或格式不正确，未保存。"))
    begin_write(session)
    temporary = path.with_suffix(".yaml.tmp")
    temporary.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    temporary.replace(path)
    _audit(session, actor, "admin_gazetteer_saved", places=count)
    return count
