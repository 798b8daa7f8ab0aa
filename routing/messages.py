"""What the citizen is told by SMS or e-mail, in the language they reported in
(intake.language). The unit's own answer is quoted as written."""

from __future__ import annotations

from flask_babel import gettext as _

from intake.language import in_reporters_language, localized
from intake.models import Report
from intake.tracking import merged_note, referred_note


def result_text(report: Report, answer: str) -> str:
    return in_reporters_language(report, lambda: _(
        "【专项整治】受理编号 %(no)s 办理结果：%(answer)s 请回复“满意 %(no)s”“基本满意 %(no)s”"
        "或“不满意 %(no)s”评价（邮件请在正文第一行回复），或在网上查询页面评价。",
        no=report.tracking_no, answer=answer))


def merged_result_text(report: Report, target: Report, answer: str) -> str:
    return in_reporters_language(report, lambda: _(
        "【专项整治】受理编号 %(no)s（与 %(target)s 合并办理）办理结果：%(answer)s",
        no=report.tracking_no, target=target.tracking_no, answer=answer))


def merged_text(report: Report, target: Report) -> str:
    return in_reporters_language(report, lambda: _(
        "【专项整治】受理编号 %(no)s：%(note)s", no=report.tracking_no,
        note=merged_note(target.tracking_no)))


def referred_text(report: Report, unit_name: str | None, unit_name_en: str | None = None) -> str:
    return in_reporters_language(report, lambda: _(
        "【专项整治】受理编号 %(no)s：%(note)s", no=report.tracking_no,
        note=referred_note(localized(unit_name, unit_name_en))))


def not_accepted_text(report: Report, reason: str) -> str:
    return in_reporters_language(report, lambda: _(
        "【专项整治】受理编号 %(no)s：经审核不予受理。理由：%(reason)s", no=report.tracking_no,
        reason=reason))
