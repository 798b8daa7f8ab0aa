"""The language a citizen is written to: the one they reported in.

A report made on the English pages, or sent by SMS or e-mail in English
(`Report.language == "en"`), is answered in English; every other report in Chinese,
which is also the language of the audit trail.
"""

from __future__ import annotations

from collections.abc import Callable

from flask_babel import force_locale, get_locale

from intake.models import Report

CHINESE = "zh_Hans_CN"


def in_language(language: str, build: Callable[[], str]) -> str:
    """`build()` with the messages of `language` ("en"; anything else is Chinese)."""
    with force_locale("en" if language == "en" else CHINESE):
        return build()


def in_reporters_language(report: Report, build: Callable[[], str]) -> str:
    return in_language(report.language, build)


def as_recorded(build: Callable[[], str]) -> str:
    """A public note as the audit trail keeps it: in Chinese."""
    with force_locale(CHINESE):
        return build()


def reading_english() -> bool:
    """Whether the text being built now is in English (the page's or a forced locale)."""
    locale = get_locale()
    return bool(locale and locale.language == "en")


def localized(chinese: str | None, english: str | None) -> str | None:
    """A name as the text being built reads it: its English form when writing English and
    there is one, else the Chinese."""
    return english if english and reading_english() else chinese
