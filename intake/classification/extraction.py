"""Extraction of licence plates, phone numbers and time expressions from report text."""

from __future__ import annotations

import re

__all__ = ["extract_phones", "extract_plates", "extract_times"]

# Province abbreviations used on Chinese plates (plus 使/领 for embassy plates).
_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼使领"

# 青A·5X321, 青A 5X321, 青a5x321, 青AD12345 (new energy, 8 characters), 青A·12345.
_PLATE_RE = re.compile(
    rf"([{_PROVINCES}])\s?([A-Za-z])\s?[·•・.\-\s]?\s?([A-Za-z0-9]{{5,6}})(?![A-Za-z0-9])"
)


def extract_plates(text: str) -> list[str]:
    """Plates in order of appearance, normalised to ``青A·5X321`` / ``青A·D12345``.

    Six characters after the prefix are accepted only in the new-energy pattern
    (D/F first or last); five must contain a digit so that words are not taken.
    """
    found: list[str] = []
    for m in _PLATE_RE.finditer(text or ""):
        prov, letter, rest = m.group(1), m.group(2).upper(), m.group(3).upper()
        if not any(ch.isdigit() for ch in rest):
            continue
        if len(rest) == 6 and not (rest[0] in "DF" or rest[-1] in "DF"):
            continue
        plate = f"{prov}{letter}·{rest}"
        if plate not in found:
            found.append(plate)
    return found


_MOBILE_RE = re.compile(
    r"(?<![0-9*])(?:\+?86[-\s]?)?(1[3-9]\d[-\s]?(?:\d{4}|\*{4})[-\s]?\d{4})(?![0-9*])"
)
_LANDLINE_RE = re.compile(r"(?<![0-9])(?:\(|（)?(0\d{2,3})(?:\)|）)?[-—－–\s]?(\d{7,8})(?![0-9])")


def extract_phones(text: str) -> list[str]:
    """Mobile (also masked ``139****6672``) and landline (``0971-6145462``) numbers.

    Service numbers (12328, 12345, 12123) are not phones of a person and are skipped.
    """
    text = text or ""
    spans: list[tuple[int, str]] = []
    taken: list[tuple[int, int]] = []
    for m in _MOBILE_RE.finditer(text):
        spans.append((m.start(), re.sub(r"[-\s]", "", m.group(1))))
        taken.append((m.start(), m.end()))
    for m in _LANDLINE_RE.finditer(text):
        if any(a < m.end() and m.start() < b for a, b in taken):
            continue
        spans.append((m.start(), f"{m.group(1)}-{m.group(2)}"))
    out: list[str] = []
    for _, phone in sorted(spans):
        if phone not in out:
            out.append(phone)
    return out


_CN_NUM = "零〇一二两三四五六七八九十"
_TIME_PATTERNS = [
    rf"(?:\d{{4}}|[{_CN_NUM}]{{4}})年(?:\d{{1,2}}|[{_CN_NUM}]{{1,3}})月(?:(?:\d{{1,2}}|[{_CN_NUM}]{{1,3}})[日号])?",
    rf"(?:\d{{1,2}}|[{_CN_NUM}]{{1,3}})月(?:\d{{1,2}}|[{_CN_NUM}]{{1,3}})[日号]",
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}",
    r"(?:上个?月|这个月|本月|月初|月底|月中)(?:\d{1,2}[日号])?",
    r"(?:大前天|前天|昨天|今天|昨晚|今早|今晚|昨日|当天|前几天|上周[一二三四五六日天]?|上个?礼拜[一二三四五六日天]?|周[一二三四五六日末]|星期[一二三四五六日天])",
    rf"(?:凌晨|早上|上午|中午|下午|傍晚|晚上|夜里|半夜)(?:约)?(?:\d{{1,2}}|[{_CN_NUM}]{{1,3}})点(?:多|半|左右|\d{{1,2}}分)?",
    r"(?<![0-9])\d{1,2}[:：]\d{2}(?![0-9])",
    r"(?<![0-9])\d{1,2}[日号](?:[上下]午|晚上|早上|凌晨)?",
]
_TIME_RE = re.compile("|".join(f"(?:{p})" for p in _TIME_PATTERNS))


def extract_times(text: str) -> list[str]:
    """Date and time expressions as written (``6月20号``, ``下午四点多``, ``昨晚``)."""
    out: list[str] = []
    for m in _TIME_RE.finditer(text or ""):
        value = m.group(0)
        if value and value not in out:
            out.append(value)
    return out
