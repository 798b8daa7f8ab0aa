"""Forms of the public report page, the tracker and the hotline console."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import (
    BooleanField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from intake.registration import DISTRICTS

# Intake's vocabulary as staff read it (the triage desk, the hotline console, dashboards).
# The classifier's agency head; "none" when it did not decide.
AGENCY_LABELS = {"transport": _l("交通运输"), "police": _l("公安交警"), "none": _l("未识别")}
CHANNEL_LABELS = {"web": _l("网站"), "sms": _l("短信"), "email": _l("电子邮件"),
                  "hotline": _l("热线电话"), "inspection": _l("督察检查"), "api": _l("接口")}
DISTRICT_CHOICES = [("", _l("不清楚 / 不在列表中"))] + [(d, d) for d in DISTRICTS]


class ReportForm(FlaskForm):
    # One random key per form page: a second POST of the same form (a double click, a
    # reload) finds the report the first one made instead of filing it again.
    submission_key = HiddenField()
    text = TextAreaField(_l("反映的问题"), validators=[
        DataRequired(message=_l("请填写反映的问题内容。"))],
        description=_l("请写明时间、地点、执法单位或人员、经过，越具体越便于核实。"))
    place_text = StringField(_l("发生地点"), validators=[Optional(), Length(max=200, message=_l(
        "地点请控制在200字以内。"))])
    district = SelectField(_l("所在区县"), choices=DISTRICT_CHOICES, default="",
                           validate_choice=False)
    occurred_text = StringField(_l("发生时间"), validators=[Optional(), Length(max=60)])
    plate = StringField(_l("涉及车牌号（选填）"), validators=[Optional(), Length(max=16)])
    attachments = MultipleFileField(_l("照片、视频或 PDF（选填，最多5个）"))
    identity = RadioField(_l("举报方式"), choices=[("anonymous", _l("匿名举报")),
                                                   ("named", _l("实名举报"))],
                          default="anonymous",
                          validators=[InputRequired(message=_l("请选择举报方式。"))])
    name = StringField(_l("姓名"), validators=[Optional(), Length(max=40)])
    phone = StringField(_l("联系电话"), validators=[Optional(), Length(max=32)])
    email = StringField(_l("电子邮箱"), validators=[Optional(), Length(max=120)])
    consent = BooleanField(_l("我已阅读并同意：我提交的内容真实；个人信息仅用于核实和反馈本问题，由专班保密保存，不提供给被举报单位。"),
                           validators=[DataRequired(message=_l("请阅读并同意保密与真实性说明。"))])

    def validate_identity(self, field: RadioField) -> None:
        """Contact details typed beside 匿名举报 are never dropped unasked: the reporter
        chooses, with every typed value still in the form."""
        if field.data == "anonymous" and any(
                (f.data or "").strip() for f in (self.name, self.phone, self.email)):
            raise ValidationError(_l(
                "您选择了匿名举报，但填写了姓名、电话或邮箱。匿名举报不保存任何联系方式，"
                "工作人员也无法回访您。希望工作人员联系您，请选择“实名举报”；"
                "坚持匿名举报，请清空姓名、电话和邮箱后再提交。"))


class TrackForm(FlaskForm):
    tracking_no = StringField(_l("受理编号"), validators=[
        DataRequired(message=_l("请输入受理编号。")), Length(max=40)])
    receipt_code = StringField(_l("查询码"), validators=[
        DataRequired(message=_l("请输入查询码。")), Length(max=40)])


class CallForm(FlaskForm):
    # Shown only when the operator may log calls for more than one campaign.
    campaign = SelectField(_l("专项整治"), coerce=int, choices=[], validate_choice=False)
    channel = SelectField(_l("来源"), choices=[("hotline", _l("热线来电")),
                                               ("inspection", _l("督察检查发现"))],
                          default="hotline")
    caller_phone = StringField(_l("来电号码"), validators=[Optional(), Length(max=32)])
    caller_name = StringField(_l("来电人姓名（如愿意提供）"), validators=[Optional(), Length(max=40)])
    occurred_text = StringField(_l("来电/发现时间"), validators=[Optional(), Length(max=60)])
    district = SelectField(_l("所在区县"), choices=DISTRICT_CHOICES, default="",
                           validate_choice=False)
    place_text = StringField(_l("地点"), validators=[Optional(), Length(max=200)])
    plate = StringField(_l("车牌号"), validators=[Optional(), Length(max=16)])
    text = TextAreaField(_l("来电内容摘要"), validators=[
        DataRequired(message=_l("请填写来电内容摘要。"))])
