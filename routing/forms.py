"""Forms of the unit workspace and the task force's desks."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import MultipleFileField
from wtforms import HiddenField, IntegerField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from intake.forms import DISTRICT_CHOICES
from intake.sanitize import clean_text
from routing.models import Finding, Rating, ReviewStatus

FINDING_LABELS = {Finding.true: _l("属实"), Finding.partly_true: _l("部分属实"),
                  Finding.untrue: _l("不属实"), Finding.unverifiable: _l("无法核实")}
RATING_LABELS = {Rating.satisfied: _l("满意"), Rating.basically_satisfied: _l("基本满意"),
                 Rating.unsatisfied: _l("不满意"), Rating.unrated: _l("未评价")}
FINDINGS = [(f.value, FINDING_LABELS[f]) for f in Finding]
RATINGS = [(r.value, RATING_LABELS[r]) for r in Rating if r is not Rating.unrated]
REVIEW_LABELS = {ReviewStatus.pending: _l("待审核"), ReviewStatus.approved: _l("审核通过"),
                 ReviewStatus.rejected: _l("审核退回")}
KINDS = [("complaint", _l("投诉")), ("tip", _l("举报")), ("inquiry", _l("咨询")),
         ("praise", _l("表扬")), ("spam", _l("垃圾信息")), ("invalid", _l("无效"))]
KIND_LABELS = dict(KINDS)


class ActionForm(FlaskForm):
    """A bare POST (acknowledge, approve...): only the CSRF token."""


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("理由"), validators=[DataRequired(message=_l("请填写理由。")),
                                                 Length(max=1000)])


class ExtensionForm(FlaskForm):
    days = IntegerField(_l("延期工作日数"), validators=[
        InputRequired(message=_l("请填写延期天数。")),
        NumberRange(min=1, max=10, message=_l("延期天数应在1至10个工作日之间。"))])
    reason = TextAreaField(_l("延期理由"), validators=[DataRequired(message=_l("请填写理由。")),
                                                    Length(max=1000)])


class ReplyForm(FlaskForm):
    finding = RadioField(_l("核实情况"), choices=FINDINGS,
                         validators=[InputRequired(message=_l("请选择核实情况。"))])
    measures = TextAreaField(_l("核实及整改措施"), validators=[
        DataRequired(message=_l("请填写核实及整改措施。")), Length(max=4000)])
    accountability = TextAreaField(_l("问责情况"), validators=[Optional(), Length(max=2000)])
    public_text = TextAreaField(_l("给群众的答复（将公开给举报人）"), validators=[
        DataRequired(message=_l("请填写给群众的答复。")), Length(max=2000)])
    attachments = MultipleFileField(_l("佐证材料（照片、PDF，选填，最多5个）"))


class ReviewForm(FlaskForm):
    decision = HiddenField(validators=[DataRequired()])
    note = TextAreaField(_l("审核意见"), validators=[Optional(), Length(max=1000)])


def _unit_or_none(value: object) -> int | None:
    """The unit select's value: the placeholder ("") is no unit."""
    if value is None or value == "":
        return None
    return int(value)


class TriageForm(FlaskForm):
    # The default only fills a fresh card: a refused one is shown again as submitted.
    action = RadioField(_l("处理方式"), choices=[
        ("dispatch", _l("转办责任单位")), ("refer", _l("移交外部单位")),
        ("not_accept", _l("不予受理")), ("merge", _l("并入已有线索"))], default="dispatch",
        validators=[InputRequired(message=_l("请选择处理方式。"))])
    items = StringField(_l("清单条目（用逗号分隔）"), validators=[Optional(), Length(max=60)])
    kind = SelectField(_l("类型"), choices=KINDS)
    district = SelectField(_l("区县"), choices=DISTRICT_CHOICES, default="")
    # Choices are set by the view: the placeholder first, then the active units.
    unit_id = SelectField(_l("责任单位"), coerce=_unit_or_none, validate_choice=False,
                          invalid_value_message=_l("请选择责任单位。"))
    # No Optional(): it would stop the chain before the checks below that depend on action.
    merge_into = StringField(_l("并入的受理编号"), validators=[Length(max=40)])
    note = TextAreaField(_l("说明（不予受理须填写理由）"), validators=[Length(max=1000)])

    def validate_unit_id(self, field) -> None:
        if self.action.data in ("dispatch", "refer") and field.data is None:
            raise ValidationError(_l("请选择责任单位。"))

    def validate_merge_into(self, field) -> None:
        if self.action.data == "merge" and not (field.data or "").strip():
            raise ValidationError(_l("请填写并入的受理编号。"))

    def validate_note(self, field) -> None:
        if self.action.data == "not_accept" and not (field.data or "").strip():
            raise ValidationError(_l("请填写不予受理的理由。"))


def _lf(value: str | None) -> str | None:
    return value.replace("\r\n", "\n") if value else value


class RatingForm(FlaskForm):
    rating = RadioField(_l("您对办理结果的评价"), choices=RATINGS,
                        validators=[InputRequired(message=_l("请选择评价。"))])
    # Browsers count a line break as one character against maxlength but send CRLF.
    note = TextAreaField(_l("意见（选填）"), filters=[_lf], validators=[
        Optional(), Length(max=500, message=_l("意见请不超过500字。"))])


def _one_line(value: str | None) -> str | None:
    """Sanitised before the validators run, so markup alone counts as empty."""
    return clean_text(value, multiline=False) if value else value


class RevealForm(FlaskForm):
    reason = StringField(_l("查看原因（将记入操作记录）"), filters=[_one_line], validators=[
        DataRequired(message=_l("请填写查看原因。")), Length(max=200)])
