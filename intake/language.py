"""The language a citizen is written to: the one of the pages they reported on.

A report made on the English pages (`Report.language == "en"`) is answered in English;
every other report in Chinese, which is also the language of the audit trail.
"""

from __future__ import annotations

from collections.abc import Callable

from flask_babel import force_locale

from intake.models import Report

CHINESE = "zh_Hans_CN"


def in_reporters_language(report: Report, build: Callable[[], str]) -> str:
    with force_locale("en" if report.language == "en" else CHINESE):
        return build()


def as_recorded(build: Callable[[], str]) -> str:
    """A public note as the audit trail keeps it: in Chinese."""
    with force_locale(CHINESE):
        return build()
