"""Text normalisation, jieba word segmentation and the shared n-gram featuriser."""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

import jieba

__all__ = ["Featurizer", "Tokenizer", "normalize"]

_WS_RE = re.compile(r"\s+")
# Runs of CJK ideographs, latin letters and digits; everything else splits n-grams.
_RUN_RE = re.compile(r"[\u4e00-\u9fff\u3400-\u4dbfA-Za-z0-9]+")
_TOKEN_OK_RE = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]")

# A few traditional forms seen in posts; enough to keep cues matching.
_TRAD = str.maketrans(
    "這麼誰機車輛罰縣區證據執關係錢說話讓問題處為時們對難實",
    "这么谁机车辆罚县区证据执关系钱说话让问题处为时们对难实",
)


def normalize(text: str) -> str:
    """NFKC (full-width digits and letters to ASCII), a few traditional forms, one space."""
    text = unicodedata.normalize("NFKC", text or "")
    text = text.translate(_TRAD)
    return _WS_RE.sub(" ", text).strip()


class Tokenizer:
    """A private jieba tokenizer with the campaign's own words added.

    A private instance keeps the custom dictionary from leaking into other code
    that uses jieba's global tokenizer.
    """

    def __init__(self, words: Iterable[str] = ()) -> None:
        jieba.setLogLevel(logging.WARNING)
        self._tk = jieba.Tokenizer()
        self._tk.initialize()
        for w in sorted({w for w in words if w and len(w) >= 2}):
            self._tk.add_word(w, freq=20000)

    def words(self, text: str) -> list[str]:
        return [t for t in self._tk.lcut(text, HMM=False) if _TOKEN_OK_RE.search(t)]


class Featurizer:
    """Word unigrams/bigrams plus character 1-3-grams, the features every model shares."""

    def __init__(self, tokenizer: Tokenizer, char_ngrams: tuple[int, ...] = (1, 2, 3)) -> None:
        self.tokenizer = tokenizer
        self.char_ngrams = char_ngrams

    def counts(self, text: str) -> Counter[str]:
        text = normalize(text).lower()
        feats: Counter[str] = Counter()
        words = self.tokenizer.words(text)
        for w in words:
            feats["w|" + w] += 1
        for a, b in zip(words, words[1:], strict=False):
            feats["b|" + a + "_" + b] += 1
        for run in _RUN_RE.findall(text):
            for n in self.char_ngrams:
                for i in range(len(run) - n + 1):
                    feats["c|" + run[i : i + n]] += 1
        return feats


def tfidf(counts: Counter[str], vocab: dict[str, int], idf: list[float] | None) -> dict[int, float]:
    """Sublinear tf * idf over known features, L2-normalised; ``{index: value}``."""
    vec: dict[int, float] = {}
    for f, c in counts.items():
        j = vocab.get(f)
        if j is None:
            continue
        vec[j] = (1.0 + math.log(c)) * (idf[j] if idf is not None else 1.0)
    norm = math.sqrt(sum(v * v for v in vec.values())) or 1.0
    return {j: v / norm for j, v in vec.items()}
