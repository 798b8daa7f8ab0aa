"""Turn whatever arrived into safe plain text before it is stored.

Markup is removed with bleach, entities are decoded, and the angle brackets that remain
become full-width so stored text can never be read back as a tag. Control characters and
bidirectional overrides (used to disguise text) are dropped; line breaks are kept.

Text without ``<``, ``>`` or ``&`` holds no markup and no entity, and bleach returns it
unchanged, so it skips the HTML parser (most reports: the parser is most of the cost).
The parser's `Cleaner` is built once per thread (bleach's cleaners are not thread-safe).
"""

from __future__ import annotations

import html
import re
import threading
import unicodedata

import bleach

_BIDI_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))
_SPACES = re.compile(r"[ \t\u3000]+")
_BLANK_LINES = re.compile(r"\n{3,}")


_MARKUP = re.compile(r"[<>&]")
_local = threading.local()


def _cleaner() -> bleach.sanitizer.Cleaner:
    cleaner = getattr(_local, "cleaner", None)
    if cleaner is None:
        cleaner = _local.cleaner = bleach.sanitizer.Cleaner(
            tags=set(), attributes={}, strip=True, strip_comments=True)
    return cleaner


def _strip_markup(text: str) -> str:
    """Tags and comments removed, entities decoded, remaining angle brackets full-width."""
    if _MARKUP.search(text) is None:
        return text  # nothing for bleach to strip, escape or decode
    text = html.unescape(_cleaner().clean(text)).replace("<", "＜").replace(">", "＞")
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")


def clean_text(value: str | None, *, multiline: bool = True) -> str:
    if not value:
        return ""
    text = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")
    text = _strip_markup(text.translate(_BIDI_CONTROLS))
    if not multiline:
        text = text.replace("\n", " ")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    text = _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
    return text if _has_visible(text) else ""


def _has_visible(text: str) -> bool:
    """False for a text of spaces and format characters only (zero-width space, word
    joiner, BOM): it says nothing, however long."""
    return any(not ch.isspace() and unicodedata.category(ch) != "Cf" for ch in text)


def is_blank(value: str | None) -> bool:
    return not clean_text(value)
