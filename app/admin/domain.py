"""Administration: staff accounts, units, campaign settings and checklist keywords.

Every change writes an audit `Event` (report_id None) naming what changed — never a
password. Plain functions over a session; the caller commits.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import date
from pathlib import Path

import phonenumbers
import yaml
from flask_babel import lazy_gettext as _l
from sqlmodel import Session, select

from app.auth import CAMPAIGN_SCOPED_ROLES, create_user, hash_password
from app.models import Role, User
from intake.models import Event
from intake.registration import DISTRICTS, RegistrationError, normalise_email, normalise_phone
from intake.sanitize import clean_text
from notices.campaigns import sms_digits
from notices.db import begin_write
from notices.models import Campaign, ChecklistItem, Phase
from notices.timeutil import as_date
from routing import deadlines
from routing.models import Unit, UnitKind

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,64}$")
NUMERIC_DEADLINES = ("dispatch_days", "acknowledge_days", "return_window_days",
                     "extension_max_days", "feedback_days", "warning_days_before",
                     "supervision_after_days", "listed_after_days")
# What the admin sees instead of the key (the form and the messages).
DEADLINE_LABELS = {
    "dispatch_days": _l("转办期限"),
    "acknowledge_days": _l("签收期限"),
    "return_window_days": _l("退回期限"),
    "extension_max_days": _l("最长延期工作日数"),
    "feedback_days": _l("回访评价等待期限"),
    "warning_days_before": _l("到期前预警天数"),
    "supervision_after_days": _l("逾期转督办天数"),
    "listed_after_days": _l("逾期转挂牌督办天数"),
}
# The lowest value each setting may take; at most 60 working days each. A unit may ask for
# 1..extension_max_days days (routing.transitions), so 0 would leave no valid request; the
# sweep escalates to 督办 at `supervision_after_days` overdue days, so 0 would mean 督办
# before anything is late.
DEADLINE_MINIMUM = {"extension_max_days": 1, "supervision_after_days": 1}
DEADLINE_MAXIMUM = 60


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
              "email": _unit_email(email),
              "phone": _unit_mobile(phone)}
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
    if unit is not None and values["code"] != unit.code:
        # The code is how the data files, the classifier's conflict-of-interest check and
        # the seeding know the unit: a new code would make them lose it.
        raise AdminError(_l("单位代码创建后不能修改（分办规则、利益冲突检查和数据文件都按代码识别单位）；"
                            "如需更名，请只修改名称。"))
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
        unit.is_active = bool(is_active)  # routing reads it for each decision: no cache
    session.flush()
    if changed:
        _audit(session, actor, "admin_unit_saved", unit_id=unit.id, changes=changed)
    return unit


def _unit_email(raw: str | None) -> str | None:
    """The unit's e-mail address for clue notices, normalised; None when left empty."""
    value = clean_text(raw, multiline=False)
    try:
        email = normalise_email(value)
    except RegistrationError:
        raise AdminError(_l("单位电子邮箱格式不正确：%(value)s", value=value[:80])) from None
    if email is not None and len(email) > 255:
        raise AdminError(_l("单位电子邮箱格式不正确：%(value)s", value=value[:80]))
    return email


def _unit_mobile(raw: str | None) -> str | None:
    """The unit's mobile number for clue SMS, in E.164; None when left empty.

    routing.notify sends SMS to it, so a landline (which cannot receive SMS) is refused.
    """
    value = clean_text(raw, multiline=False)
    try:
        number = normalise_phone(value)
    except RegistrationError:
        number = ""
    if number == "" or (number is not None and phonenumbers.number_type(
            phonenumbers.parse(number)) not in (phonenumbers.PhoneNumberType.MOBILE,
                                               phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)):
        raise AdminError(_l("短信手机号不正确：%(value)s。请填写能接收短信的11位手机号码，"
                            "座机号码收不到转办短信。", value=value[:40]))
    return number


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
    channels = _channels(session, campaign, channels)
    settings = dict(campaign.deadlines or {})
    for key in NUMERIC_DEADLINES:
        if key in deadline_values and deadline_values[key] is not None:
            value = int(deadline_values[key])
            low = DEADLINE_MINIMUM.get(key, 0)
            if not low <= value <= DEADLINE_MAXIMUM:
                raise AdminError(_l("%(field)s应在%(low)d至%(high)d个工作日之间。",
                                    field=DEADLINE_LABELS[key], low=low, high=DEADLINE_MAXIMUM))
            settings[key] = value
    _check_escalation_order({**deadlines.DEFAULTS, **settings})
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
    channels_before = dict(campaign.channels or {})
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
           deadlines=settings, phases=len(phases), phases_removed=removed,
           channels_before=channels_before, channels_after=channels)
    return campaign


def _check_escalation_order(settings: dict) -> None:
    """督办 must come no later than 挂牌督办: the sweep escalates to supervision at
    `supervision_after_days` overdue working days and lists once past `listed_after_days`."""
    supervision = int(settings["supervision_after_days"])
    listed = int(settings["listed_after_days"])
    if supervision > listed:
        raise AdminError(_l("%(supervision)s（%(s)d）不能大于%(listed)s（%(l)d），"
                            "否则挂牌督办会早于督办。",
                            supervision=DEADLINE_LABELS["supervision_after_days"], s=supervision,
                            listed=DEADLINE_LABELS["listed_after_days"], l=listed))


CHANNEL_KEYS = ("hotline", "sms", "email", "web")
_NUMBER_SEPARATORS = re.compile(r"[\s\-()（）]")
_SERVICE_HOTLINE = re.compile(r"1\d{4}|9[56]\d{3,4}")  # 12345, 12328, 95xxx, 96xxx


def _channels(session: Session, campaign: Campaign, channels: dict) -> dict:
    """The published reporting channels, checked and normalised; an empty value drops it.

    The SMS number and the e-mail address decide which campaign an inbound message belongs
    to (notices.campaigns), so neither may be one another campaign already publishes.
    :raise AdminError: in Chinese, naming the channel; nothing is saved.
    """
    result: dict[str, str] = {}
    for key, raw in channels.items():
        if key not in CHANNEL_KEYS:
            raise AdminError(_l("举报渠道“%(key)s”无法识别。可填写的渠道：hotline（举报电话）、"
                                "sms（短信号码）、email（电子邮箱）、web（网上举报地址）。",
                                key=str(key)[:40]))
        if raw is None:
            continue
        if isinstance(raw, bool) or not isinstance(raw, str | int):
            raise AdminError(_l("举报渠道 %(key)s 须填写一个号码或地址，不能是列表或映射。",
                                key=key))
        value = clean_text(str(raw), multiline=False)[:255]
        if not value:
            continue
        result[key] = {"hotline": _hotline, "sms": _sms_number, "email": _channel_email,
                       "web": _web_address}[key](value)
    others = session.exec(select(Campaign).where(Campaign.id != campaign.id)
                          .order_by(Campaign.id)).all()
    for other in others:
        published = other.channels or {}
        if "sms" in result and sms_digits(str(published.get("sms") or "")) == sms_digits(
                result["sms"]):
            raise AdminError(_l("短信号码 %(value)s 已是专项整治“%(title)s”的举报渠道。同一号码"
                                "收到的短信只能归入一个专项整治，请换一个号码。",
                                value=result["sms"], title=other.short_title))
        if "email" in result and str(published.get("email") or "").strip().lower() \
                == result["email"].lower():
            raise AdminError(_l("电子邮箱 %(value)s 已是专项整治“%(title)s”的举报渠道。同一邮箱"
                                "收到的邮件只能归入一个专项整治，请换一个邮箱。",
                                value=result["email"], title=other.short_title))
    return result


def _hotline(value: str) -> str:
    """A hotline as citizens dial it: 0971-6145462, 13800000001, 12345, or +E.164 abroad."""
    digits = _NUMBER_SEPARATORS.sub("", value)
    if _SERVICE_HOTLINE.fullmatch(digits):
        return digits
    try:
        number = phonenumbers.parse(normalise_phone(value) or "")
    except (RegistrationError, phonenumbers.NumberParseException):
        raise AdminError(_l("举报电话格式不正确：%(value)s。请填写带区号的座机号码（如"
                            " 0971-6145462）、手机号码或 12345 这类服务号码。",
                            value=value[:40])) from None
    if number.country_code != 86:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    national = phonenumbers.national_significant_number(number)
    area = phonenumbers.length_of_geographical_area_code(number)
    return f"0{national[:area]}-{national[area:]}" if area else national


def _sms_number(value: str) -> str:
    """The SMS service number citizens text to, as digits (106900000129, 13800000001)."""
    digits = _NUMBER_SEPARATORS.sub("", value)
    if not re.fullmatch(r"\+?\d{5,20}", digits):
        raise AdminError(_l("短信号码格式不正确：%(value)s。请填写短信服务号码（如 106900000129）"
                            "或手机号码，只含数字。", value=value[:40]))
    if digits.startswith("+") and not digits.startswith("+86"):
        try:
            return normalise_phone(digits) or ""
        except RegistrationError:
            raise AdminError(_l("短信号码格式不正确：%(value)s。请填写短信服务号码（如 106900000129）"
                                "或手机号码，只含数字。", value=value[:40])) from None
    return sms_digits(digits)


def _channel_email(value: str) -> str:
    """Lower case: inbound mail is matched to its campaign without regard to case."""
    try:
        return (normalise_email(value) or "").lower()
    except RegistrationError:
        raise AdminError(_l("举报邮箱格式不正确：%(value)s", value=value[:80])) from None


def _web_address(value: str) -> str:
    if " " in value or not (value.startswith("/") or re.match(r"https?://[^/]", value)):
        raise AdminError(_l("网上举报地址须为以 / 开头的本站地址或 http(s):// 开头的网址："
                            "%(value)s", value=value[:80]))
    return value


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
    directory must be shared (CAMPAIGN_DATA_DIR). The audit event carries the sha256 of the
    old and new file and the names added and removed.
    :raise AdminError: the YAML does not parse, is not a gazetteer, or would misroute
        reports (see `_check_gazetteer`); the file is untouched.
    """
    from intake.classification.gazetteer import Gazetteer

    _require_admin(actor)
    text = text or ""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise AdminError(_l("地名库格式有误：%(e)s", e=str(exc)[:200])) from None
    if not isinstance(data, dict):
        raise AdminError(_l("地名库为空或格式不正确，未保存。"))
    _check_gazetteer(data)
    try:
        gazetteer = Gazetteer(data)
    except Exception as exc:  # a shape the checks above missed is still the admin's to fix
        raise AdminError(_l("地名库格式有误：%(e)s", e=str(exc)[:200])) from None
    names = gazetteer.names()
    if not names:
        raise AdminError(_l("地名库为空或格式不正确，未保存。"))
    try:
        old_text = path.read_text(encoding="utf-8")
        old_names = Gazetteer(yaml.safe_load(old_text) or {}).names()
    except Exception:  # no file yet, or one saved before these checks: compare with nothing
        old_text, old_names = None, set()
    begin_write(session)
    text = text if text.endswith("\n") else text + "\n"
    temporary = path.with_suffix(".yaml.tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(path)
    _audit(session, actor, "admin_gazetteer_saved", places=len(names),
           sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
           previous_sha256=hashlib.sha256(old_text.encode("utf-8")).hexdigest()
           if old_text is not None else None,
           added=sorted(names - old_names)[:100], removed=sorted(old_names - names)[:100])
    return len(names)


GAZETTEER_PLACE_KINDS = ("streets", "towns", "parks", "landmarks", "roads")


def _check_gazetteer(data: dict) -> None:
    """Refuse a gazetteer that would misroute reports (the classifier takes it as it is).

    Every district must be one of intake.registration.DISTRICTS; every place a name of at
    least two characters, written as text or {name: ..., aliases: [...]}; a name listed
    under two districts (or under a district and as a regional/outside name) must be in
    `ambiguous`, else the last one would win silently.
    :raise AdminError: in Chinese, naming the entry.
    """
    for key in ("districts", "ambiguous", "regional", "outside"):
        if data.get(key) is not None and not isinstance(data[key], list):
            raise AdminError(_l("地名库的 %(key)s 须为列表，未保存。", key=key))
    everyday = data.get("everyday")
    if everyday is not None and not (isinstance(everyday, dict) and all(
            isinstance(everyday.get(k) or [], list) for k in ("words", "place_after"))):
        raise AdminError(_l("地名库的 everyday 须写成 {words: [...], place_after: [...]}，"
                            "未保存。"))
    shared = _ambiguous_names(data.get("ambiguous") or [])
    owner: dict[str, str] = {}  # place name -> the district it is listed under
    seen: set[str] = set()
    for spec in data.get("districts") or []:
        if not isinstance(spec, dict) or spec.get("name") is None:
            raise AdminError(_l("地名库 districts 中的一项“%(entry)s”须写成 {name: 区县名, "
                                "towns: [...], ...}，未保存。", entry=_entry_text(spec)))
        district = _gazetteer_name(spec["name"], "districts")
        if district not in DISTRICTS:
            raise AdminError(_l("地名库中的区县“%(name)s”不是本系统的区县（%(known)s），"
                                "按它分出的线索无人接收，未保存。",
                                name=district, known="、".join(DISTRICTS)))
        if district in seen:
            raise AdminError(_l("区县“%(name)s”在地名库中出现了两次，请合并为一项，未保存。",
                                name=district))
        seen.add(district)
        if not isinstance(spec.get("aliases") or [], list):
            raise AdminError(_l("区县“%(name)s”的 aliases 须为列表，例如 aliases: [%(name)s]，"
                                "未保存。", name=district))
        names = [district, *(_gazetteer_name(a, district) for a in spec.get("aliases") or [])]
        for key in GAZETTEER_PLACE_KINDS:
            entries = spec.get(key) or []
            if not isinstance(entries, list):
                raise AdminError(_l("区县“%(name)s”的 %(key)s 须为列表，未保存。",
                                    name=district, key=key))
            for entry in entries:
                names.extend(_place_names(entry, district))
        for name in names:
            first = owner.setdefault(name, district)
            if first != district and name not in shared:
                raise AdminError(_l("地名“%(name)s”同时列在%(first)s和%(second)s下，会被误分到"
                                    "其中一个区县。确属重名的，请列入 ambiguous 并写明 candidates，"
                                    "否则只保留一处，未保存。",
                                    name=name, first=first, second=district))
    for key in ("regional", "outside"):
        for entry in data.get(key) or []:
            for name in _place_names(entry, key):
                if name in owner and name not in shared:
                    raise AdminError(_l("地名“%(name)s”既列在%(district)s下，又列在 %(key)s 中，"
                                        "请只保留一处，未保存。",
                                        name=name, district=owner[name], key=key))


def _ambiguous_names(entries: list) -> set[str]:
    """The names of the `ambiguous` list, each checked: candidates and context districts
    must be known districts, context words names of two characters or more."""
    names = set()
    for spec in entries:
        if not isinstance(spec, dict) or spec.get("name") is None or not isinstance(
                spec.get("candidates") or [], list) or not isinstance(
                spec.get("context") or {}, dict):
            raise AdminError(_l("地名库 ambiguous 中的一项“%(entry)s”须写成 {name: 地名, "
                                "candidates: [区县, ...], context: {区县: [词, ...]}}，未保存。",
                                entry=_entry_text(spec)))
        name = _gazetteer_name(spec["name"], "ambiguous")
        context = spec.get("context") or {}
        for district in [*(spec.get("candidates") or []), *context]:
            if str(district).strip() not in DISTRICTS:
                raise AdminError(_l("重名地名“%(name)s”的候选区县“%(district)s”不是本系统的区县"
                                    "（%(known)s），未保存。", name=name,
                                    district=_entry_text(district), known="、".join(DISTRICTS)))
        for district, words in context.items():
            if not isinstance(words, list):
                raise AdminError(_l("重名地名“%(name)s”的 context 中，%(district)s 须对应一个"
                                    "词语列表，未保存。", name=name, district=district))
            for word in words:
                _gazetteer_name(word, name)
        names.add(name)
    return names


def _place_names(entry, where: str) -> list[str]:
    """The names an entry of a place list stands for: a text, or {name:, aliases: [...]}."""
    if isinstance(entry, dict) and isinstance(entry.get("name"), str):
        name = _gazetteer_name(entry["name"], where)
        aliases = entry.get("aliases") or []
        if not isinstance(aliases, list):
            raise AdminError(_l("%(where)s下“%(name)s”的 aliases 须为列表，例如 aliases: [简称]，"
                                "未保存。", where=where, name=name))
        return [name, *(_gazetteer_name(a, where) for a in aliases)]
    return [_gazetteer_name(entry, where)]  # a text; anything else is refused there


def _gazetteer_name(value, where: str) -> str:
    """A place name as reports will contain it: text of two characters or more."""
    if not isinstance(value, str):
        raise AdminError(_l("%(where)s下的一项“%(entry)s”不是地名：每一项须为地名文字，或写成 "
                            "{name: 地名, aliases: [简称]}，未保存。",
                            where=where, entry=_entry_text(value)))
    name = clean_text(value, multiline=False)
    if not name:
        raise AdminError(_l("%(where)s下有一个空白地名，它会匹配所有举报，未保存。", where=where))
    if name != value:
        raise AdminError(_l("%(where)s下的地名“%(name)s”前后有空格，或含有不可见字符、标记，"
                            "举报中不会这样写，未保存。", where=where, name=name[:40]))
    if len(name) < 2:
        raise AdminError(_l("%(where)s下的地名“%(name)s”只有一个字，会匹配大量无关的举报。"
                            "地名至少两个字，未保存。", where=where, name=name))
    return name


def _entry_text(value) -> str:
    """An entry as the admin wrote it, short, for a message."""
    if value is None:
        return _l("空")
    return str(value)[:60]
