"""Turn whatever arrived into safe plain text before it is stored.

Markup is removed with bleach, entities are decoded, and the angle brackets that remain
become full-width so stored text can never be read back as a tag. Control characters and
bidirectional overrides (used to disguise text) are dropped; line breaks are kept.
"""

from __future__ import annotations

import html
import re
import unicodedata

import bleach

_BIDI_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))
_SPACES = re.compile(r"[ \t\u3000]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def clean_text(value: str | None, *, multiline: bool = True) -> str:
    if not value:
        return ""
    text = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")
    text = text.translate(_BIDI_CONTROLS)
    text = bleach.clean(text, tags=set(), attributes={}, strip=True, strip_comments=True)
    text = html.unescape(text).replace("<", "＜").replace(">", "＞")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")
    if not multiline:
        text = text.replace("\n", " ")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def is_blank(value: str | None) -> bool:
    return not clean_text(value)
