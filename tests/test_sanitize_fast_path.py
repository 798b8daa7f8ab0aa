"""clean_text skips bleach for text without markup: the result must equal bleach's."""

from __future__ import annotations

import html
import re
import unicodedata

import bleach
from hypothesis import given, settings
from hypothesis import strategies as st

from intake.sanitize import clean_text

_BIDI = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


def reference(value: str | None, *, multiline: bool = True) -> str:
    """clean_text as it was before the fast path: every text through bleach."""
    if not value:
        return ""
    text = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")
    text = text.translate(_BIDI)
    text = bleach.clean(text, tags=set(), attributes={}, strip=True, strip_comments=True)
    text = html.unescape(text).replace("<", "＜").replace(">", "＞")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")
    if not multiline:
        text = text.replace("\n", " ")
    lines = [re.sub(r"[ \t\u3000]+", " ", line).strip() for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


SAMPLES = [
    "城东区八一路执法人员乱罚款，车牌青A·12345。\n\n\n\n第二段",
    "<script>alert(1)</script>正文", "a &lt;b&gt; &amp;amp; c", "1 < 2 > 0", "AT&T",
    "<!-- hidden -->可见", "<b onclick=x>粗体</b>", "\u202etxt.exe", "tab\there\r\nCRLF\rCR",
    "&#0;&#x1;null", "&#60;script&#62;", "\ufffe\uffff\ufdd0 non-characters", "\x00\x07\x1b",
    "全角　空格", "e\u0301 combining", "😀 emoji", "", " ", "&", "<", ">",
]


def test_samples_match_bleach() -> None:
    for sample in SAMPLES:
        for multiline in (True, False):
            assert clean_text(sample, multiline=multiline) == reference(
                sample, multiline=multiline), sample


@settings(max_examples=600, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=60)
       | st.text(alphabet="<>&;#/!-ab 1\n\r\t\u3000中文x\u202e\x00\x0b\ufffe", max_size=40))
def test_any_text_matches_bleach(value: str) -> None:
    assert clean_text(value) == reference(value)
    assert clean_text(value, multiline=False) == reference(value, multiline=False)
