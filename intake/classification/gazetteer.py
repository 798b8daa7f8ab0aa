"""Place names -> district (jurisdiction), with salience weights and name collisions."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = ["Gazetteer", "Placement", "PlaceMention"]

# Context just before a mention that makes it a destination or a home, not the scene.
_DEST_BEFORE = ("往", "去", "到", "至", "回", "送", "赶往", "前往", "开往", "通往", "发往")
_DEST_AFTER = ("方向", "方面来", "走了")
_HOME_BEFORE = ("住在", "住", "家在", "老家", "户口在", "来自")
_SCENE_BEFORE = ("在", "于", "经过", "途经", "路过")
# Words ending in 在 that say nothing about a place (现在 "now", 正在 "-ing").
_NOT_SCENE = ("现在", "正在", "实在", "存在", "所在", "自在", "好在")
_SIDE_OF = ("边", "旁", "上", "下", "头")  # 小桥边: by a small bridge
_DESTINATION = 0.35  # the weight of a mention that is only where someone was going
_HOME = 0.5  # ... and of one that is where someone lives
# Words that contain a place name but are not that place.
_NOT_PLACES = ("城中村", "交通大通道", "城关口")
_QUOTES = '“”"「」『』'


@dataclass(frozen=True)
class PlaceMention:
    surface: str
    start: int
    kind: str  # district | street | town | park | landmark | road | ambiguous | regional | outside
    district: str | None
    weight: float


@dataclass
class Placement:
    jurisdiction: str | None
    confidence: float
    scores: dict[str, float] = field(default_factory=dict)
    mentions: list[PlaceMention] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)


def _names(entry: Any) -> list[str]:
    if isinstance(entry, str):
        return [entry]
    return [str(entry["name"]), *[str(a) for a in entry.get("aliases") or []]]


class Gazetteer:
    def __init__(self, data: dict[str, Any]) -> None:
        self.districts: list[str] = []
        self.surfaces: dict[str, tuple[str, str | None]] = {}
        for d in data.get("districts") or []:
            name = str(d["name"])
            self.districts.append(name)
            for alias in d.get("aliases") or [name]:
                self.surfaces[str(alias)] = ("district", name)
            self.surfaces.setdefault(name, ("district", name))
            for kind, key in (
                ("street", "streets"),
                ("town", "towns"),
                ("park", "parks"),
                ("landmark", "landmarks"),
                ("road", "roads"),
            ):
                for entry in d.get(key) or []:
                    for surface in _names(entry):
                        self.surfaces[surface] = (kind, name)
        self.ambiguous: dict[str, dict[str, list[str]]] = {}
        for a in data.get("ambiguous") or []:
            ctx = {str(k): [str(x) for x in v] for k, v in (a.get("context") or {}).items()}
            for c in a.get("candidates") or []:
                ctx.setdefault(str(c), [])
            self.ambiguous[str(a["name"])] = ctx
            self.surfaces[str(a["name"])] = ("ambiguous", None)
        for kind in ("regional", "outside"):
            for entry in data.get(kind) or []:
                for surface in _names(entry):
                    self.surfaces.setdefault(surface, (kind, None))
        for surface in _NOT_PLACES:
            self.surfaces[surface] = ("ignore", None)
        everyday = data.get("everyday") or {}
        self.everyday_words = {str(w) for w in everyday.get("words") or []}
        self.place_after = tuple(str(w) for w in everyday.get("place_after") or [])
        alternation = "|".join(re.escape(s) for s in sorted(self.surfaces, key=len, reverse=True))
        self._re = re.compile(alternation) if alternation else None

    @classmethod
    def load(cls, path: Path) -> Gazetteer:
        with open(path, encoding="utf-8") as fh:
            return cls(yaml.safe_load(fh) or {})

    def names(self) -> set[str]:
        return {s for s, (k, _) in self.surfaces.items() if k != "ignore"}

    @staticmethod
    def _weight(text: str, start: int, end: int) -> float:
        before = text[max(0, start - 3) : start]
        after = text[end : end + 3]
        w = 1.0
        if any(before.endswith(p) for p in _DEST_BEFORE) or any(
            after.startswith(p) for p in _DEST_AFTER
        ):
            w = _DESTINATION
        elif any(before.endswith(p) for p in _HOME_BEFORE):
            w = _HOME
        elif any(before.endswith(p) for p in _SCENE_BEFORE):
            w = 1.25
        # Inside quotation marks (a slogan, a driver's shout) the place is not the scene.
        opened = sum(text.count(q, max(0, start - 30), start) for q in "“「『")
        closed = sum(text.count(q, max(0, start - 30), start) for q in "”」』")
        if opened > closed:
            w *= 0.5
        return w

    def locate(self, text: str) -> Placement:
        """The district where the reported events happened, or None if unknown/ambiguous."""
        if not self._re or not text:
            return Placement(None, 0.0)
        mentions: list[PlaceMention] = []
        for m in self._re.finditer(text):
            kind, district = self.surfaces[m.group(0)]
            if kind == "ignore":
                continue
            before = text[max(0, m.start() - 2):m.start()]
            if m.group(0) in self.everyday_words and not (
                    text.startswith(self.place_after, m.end())
                    or (before.endswith(_SCENE_BEFORE) and before not in _NOT_SCENE
                        and not text.startswith(_SIDE_OF, m.end()))):
                continue  # 朝阳刚升起, 停在小桥边, 现在朝阳: the word; 在朝阳, 朝阳那边: the place
            mentions.append(
                PlaceMention(
                    m.group(0), m.start(), kind, district, self._weight(text, m.start(), m.end())
                )
            )
        scores: dict[str, float] = {}
        for pm in mentions:
            if pm.district:
                bonus = 1.1 if pm.kind != "district" else 1.0
                scores[pm.district] = scores.get(pm.district, 0.0) + pm.weight * bonus
        # A name two districts share is settled only by the scene: another place of one of
        # them, or one of its context words, that is neither a destination nor a home (去大通,
        # 住在湟源 settle nothing about where the driver was stopped).
        scene = {pm.district for pm in mentions if pm.district and pm.weight > _HOME}
        ambiguous: list[str] = []
        unresolved = 0.0
        for pm in mentions:
            if pm.kind != "ambiguous":
                continue
            ctx = self.ambiguous.get(pm.surface, {})
            winners = [d for d, words in ctx.items()
                       if d in scene or any(self._at_scene(text, w) for w in words)]
            if len(winners) == 1:
                scores[winners[0]] = scores.get(winners[0], 0.0) + pm.weight
            else:
                ambiguous.append(pm.surface)
                unresolved = max(unresolved, pm.weight)
        if not scores:
            return Placement(None, 0.0, {}, mentions, ambiguous)
        ranked = sorted(scores.items(), key=lambda kv: (-kv[1], self._first(kv[0], mentions)))
        best, top = ranked[0]
        if unresolved >= top:  # the scene is the shared name itself: the task force decides
            return Placement(None, 0.0, scores, mentions, ambiguous)
        total = sum(scores.values())
        share = top / total
        # Evidence strength: one weak (destination-only) mention is not much.
        strength = min(1.0, top / 1.0)
        confidence = share * (0.6 + 0.4 * strength)
        if ambiguous:
            confidence *= 0.9
        return Placement(best, round(confidence, 4), scores, mentions, ambiguous)

    def _at_scene(self, text: str, word: str) -> bool:
        """Whether `word` occurs in `text` other than as a destination or a home."""
        start = text.find(word)
        while start != -1:
            if self._weight(text, start, start + len(word)) > _HOME:
                return True
            start = text.find(word, start + 1)
        return False

    @staticmethod
    def _first(district: str, mentions: list[PlaceMention]) -> int:
        return min((m.start for m in mentions if m.district == district), default=10**9)
