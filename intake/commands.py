"""What a citizen may send back instead of a report, in Chinese or in English: a request
for help, a progress query (查询 / TRACK) or a rating of the answer (满意 / SATISFIED ...).

A command is answered in the language it was written in; `Command.language` says which.
Ratings are returned as the stored rating values (满意, 基本满意, 不满意).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from intake.receipts import TRACKING_NO_PATTERN

# Each word -> (language, rating value). Longer phrases are tried first, so 基本满意 and
# NOT SATISFIED are not read as 满意 and SATISFIED.
RATING_WORDS: dict[str, tuple[str, str]] = {
    "满意": ("zh", "满意"), "基本满意": ("zh", "基本满意"), "不满意": ("zh", "不满意"),
    "SATISFIED": ("en", "满意"),
    "FAIRLY SATISFIED": ("en", "基本满意"), "PARTLY SATISFIED": ("en", "基本满意"),
    "UNSATISFIED": ("en", "不满意"), "NOT SATISFIED": ("en", "不满意"),
    "DISSATISFIED": ("en", "不满意"),
}
QUERY_WORDS: dict[str, str] = {"查询": "zh", "TRACK": "en", "QUERY": "en", "STATUS": "en"}
HELP_WORDS: dict[str, str] = {"帮助": "zh", "?": "zh", "？": "zh", "HELP": "en"}

_SEPARATOR = r"[\s:：,，]"
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
# Short words of English that pinyin syllables never are.
_ENGLISH_WORDS = frozenset({
    "the", "is", "was", "are", "were", "and", "of", "to", "for", "with", "my", "at", "in",
    "on", "by", "not", "no", "it", "this", "that", "have", "has", "had", "we", "they",
    "from", "or", "but", "please", "help", "officer", "officers", "police", "truck", "car",
    "fine", "fined"})


def _alternatives(words: dict) -> str:
    ordered = sorted(words, key=len, reverse=True)
    return "|".join(re.escape(word).replace(r"\ ", r"\s+") for word in ordered)


_RATING = _alternatives(RATING_WORDS)
_QUERY = _alternatives(QUERY_WORDS)
QUERY_RE = re.compile(rf"^({_QUERY}){_SEPARATOR}*({TRACKING_NO_PATTERN}){_SEPARATOR}+"
                      r"([0-9A-Za-z][0-9A-Za-z\s-]{11,30})$", re.IGNORECASE)
QUERY_START_RE = re.compile(rf"^({_QUERY}){_SEPARATOR}*{TRACKING_NO_PATTERN}", re.IGNORECASE)
RATING_RE = re.compile(rf"^({_RATING}){_SEPARATOR}*({TRACKING_NO_PATTERN})$", re.IGNORECASE)
RATING_AFTER_RE = re.compile(rf"^({TRACKING_NO_PATTERN}){_SEPARATOR}*({_RATING})$",
                             re.IGNORECASE)
# In an e-mail the rating is a line of its own, wherever the reply puts it.
RATING_LINE_RE = re.compile(rf"(?:^|\n)[ \t]*({_RATING})[ \t:：,，]*({TRACKING_NO_PATTERN})",
                            re.IGNORECASE)


@dataclass(frozen=True)
class Command:
    kind: str  # "help", "query", "query_format" (a query without a usable code) or "rating"
    language: str  # "zh" or "en"
    tracking_no: str = ""
    code: str = ""
    rating: str = ""


def _rating(word: str) -> tuple[str, str]:
    return RATING_WORDS[re.sub(r"\s+", " ", word.strip()).upper()]


def parse_sms(body: str) -> Command | None:
    """The command an SMS body carries, or None when it is a report."""
    text = body.strip()
    if not text or text.upper() in HELP_WORDS:
        return Command("help", HELP_WORDS.get(text.upper(), "zh"))
    if match := QUERY_RE.match(text):
        return Command("query", QUERY_WORDS[match.group(1).upper()],
                       tracking_no=match.group(2).upper(), code=match.group(3))
    if match := QUERY_START_RE.match(text):
        return Command("query_format", QUERY_WORDS[match.group(1).upper()])
    if match := RATING_RE.match(text):
        language, rating = _rating(match.group(1))
        return Command("rating", language, tracking_no=match.group(2).upper(), rating=rating)
    if match := RATING_AFTER_RE.match(text):
        language, rating = _rating(match.group(2))
        return Command("rating", language, tracking_no=match.group(1).upper(), rating=rating)
    return None


def rating_in_email(text: str) -> Command | None:
    """A reply to a result mail: a line that starts with the rating and the tracking number."""
    match = RATING_LINE_RE.search(text or "")
    if match is None:
        return None
    language, rating = _rating(match.group(1))
    return Command("rating", language, tracking_no=match.group(2).upper(), rating=rating)


def written_language(text: str) -> str:
    """"en" for a text written in English, else "zh". English: no Chinese characters, at
    least two Latin words, and an English function word or mostly words that are not
    pinyin (pinyin typed on an old phone stays Chinese)."""
    if _CJK.search(text or ""):
        return "zh"
    words = [w.lower() for w in _LATIN_WORD.findall(text or "")]
    if len(words) < 2:
        return "zh"
    if any(w in _ENGLISH_WORDS for w in words):
        return "en"
    return "en" if sum(not _is_pinyin(w) for w in words) * 2 > len(words) else "zh"


_INITIALS = ("", "b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q", "x", "zh",
             "ch", "sh", "r", "z", "c", "s", "y", "w")
_FINALS = ("a", "o", "e", "i", "u", "v", "ai", "ei", "ui", "ao", "ou", "iu", "ie", "ve", "er",
           "an", "en", "in", "un", "vn", "ang", "eng", "ing", "ong", "ia", "iao", "ian", "iang",
           "iong", "ua", "uo", "uai", "uan", "uang", "ue")
_SYLLABLES = frozenset(i + f for i in _INITIALS for f in _FINALS)


def _is_pinyin(word: str) -> bool:
    """Whether `word` splits into pinyin syllables (generously: any initial with any final)."""
    ok = [True] + [False] * len(word)
    for end in range(1, len(word) + 1):
        ok[end] = any(ok[start] and word[start:end] in _SYLLABLES
                      for start in range(max(0, end - 6), end))
    return ok[-1]
