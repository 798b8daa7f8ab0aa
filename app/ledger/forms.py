"""Forms of the ledger pages (CSRF via Flask-WTF)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from app.models import LedgerSource, LedgerStatus

STATUS_CHOICES = [(s.value, s.value) for s in LedgerStatus]
SOURCE_CHOICES = [(LedgerSource.clue.value, _l("群众投诉举报")),
                  (LedgerSource.inspection.value, _l("督察检查")),
                  (LedgerSource.self_check.value, _l("对照自查"))]


class EntryForm(FlaskForm):
    category = SelectField(_l("问题类别"), validate_choice=False,
                           validators=[DataRequired(message=_l("请选择问题类别。"))])
    symptom = TextAreaField(_l("具体表现"), validators=[
        DataRequired(message=_l("请填写具体表现。")), Length(max=2000)])
    measures = TextAreaField(_l("整改措施"), validators=[
        DataRequired(message=_l("请填写整改措施。")), Length(max=4000)])
    unit_id = SelectField(_l("责任单位"), coerce=int, validate_choice=False)
    deadline_text = StringField(_l("整改时限"), validators=[Optional(), Length(max=128)],
                                description=_l("例如：9月30日前；长期推进的写明阶段目标。"))
    accountability = TextAreaField(_l("问责情况"), validators=[Optional(), Length(max=2000)])
    source = SelectField(_l("来源"), choices=SOURCE_CHOICES)
    tracking_nos = StringField(_l("关联线索受理编号（多个用逗号分隔）"),
                               validators=[Optional(), Length(max=500)])


class ProgressForm(FlaskForm):
    progress = TextAreaField(_l("整改进度及可验证成果"), validators=[
        DataRequired(message=_l("请填写整改进度及可验证成果。")), Length(max=4000)],
        description=_l("写明已完成的工作和可验证的成果（文件名称、文号、处理决定等）。"))
    status = SelectField(_l("整改状态"), choices=STATUS_CHOICES)


class CaseForm(FlaskForm):
    tracking_no = StringField(_l("受理编号"), validators=[
        DataRequired(message=_l("请填写受理编号。")), Length(max=40)])
    polarity = SelectField(_l("典型类型"), choices=[("positive", _l("正面典型")),
                                                    ("negative", _l("反面典型"))])
    note = TextAreaField(_l("案例简述（写入阶段报告，勿写举报人信息）"), validators=[
        DataRequired(message=_l("请填写案例简述。")), Length(max=2000)])
