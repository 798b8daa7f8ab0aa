"""Who the text accuses: the leadership of which unit (for the conflict-of-interest rule)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .lexicon import Lexicon

__all__ = ["ANY_UNIT", "LeadershipDetector"]

# Marker for "the leadership of the local bureau the report would go to", used when the
# text accuses a 局长 without naming the unit (routing treats it as the receiving unit).
ANY_UNIT = "*"
_STOP = "。！？!?；;\n"
_SUBUNIT_BEFORE = ("大队", "中队", "队", "科", "站", "所", "公司", "村", "小组", "学校")


@dataclass
class LeadershipDetector:
    lexicon: Lexicon
    units: list[dict[str, Any]] = field(default_factory=list)
    bureau_leaders: list[dict[str, Any]] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        titles = {*self.titles, *self.lexicon.leader_titles}
        self._title_re = re.compile(
            "|".join(re.escape(t) for t in sorted(titles, key=len, reverse=True))
        )
        self.codes: dict[str, str] = {str(u["name"]): str(u["code"])
                                      for u in self.units if u.get("name") and u.get("code")}
        self.aliases: dict[str, str] = {}
        # The city bureau's leaders head its internal offices and the bodies it runs (the
        # enforcement supervision bureau); county bureaus answer to their own governments.
        self._offices = [u["name"] for u in self.units
                         if u.get("kind") in ("office", "city_bureau")]
        for u in self.units:
            for a in (
                u.get("name"),
                u.get("short_name"),
                *self.lexicon.unit_aliases.get(u.get("name", ""), []),
            ):
                if a and len(a) >= 3:
                    self.aliases[str(a)] = str(u["name"])
        for a in self.lexicon.unit_aliases.get("西宁市交通运输局", []):
            self.aliases[a] = "西宁市交通运输局"
        self.by_district: dict[str, str] = {}
        for u in self.units:
            for d in u.get("jurisdiction") or []:
                self.by_district.setdefault(str(d), str(u["name"]))
        self.people: dict[str, str] = {}
        for u in self.units:
            for leader in u.get("leaders") or []:
                name = str(leader.get("name") or "").replace(" ", "")
                if len(name) >= 2:
                    self.people[name] = str(u["name"])
        for leader in self.bureau_leaders:
            name = str(leader.get("name") or "").replace(" ", "")
            if len(name) >= 2:
                self.people[name] = "西宁市交通运输局"

    def _expand(self, unit: str) -> list[str]:
        return list(self._offices) if unit == "西宁市交通运输局" else [unit]

    def _addressed(self, text: str, start: int) -> bool:
        before = text[max(0, start - 4) : start]
        return any(cue in before for cue in self.lexicon.address_cues)

    def detect(self, text: str, jurisdiction: str | None) -> list[str]:
        out: list[str] = []

        def add(unit: str) -> None:
            for u in self._expand(unit):
                if u not in out:
                    out.append(u)

        compact = text.replace(" ", "")
        for name, unit in self.people.items():
            if name in compact:
                add(unit)
        for m in self._title_re.finditer(text):
            start = m.start()
            window = text[max(0, start - 12) : start]
            cut = max(window.rfind(ch) for ch in _STOP + "，,、")
            window = window[cut + 1 :]
            if self._addressed(text, start):
                continue
            named = [u for a, u in self.aliases.items() if a in window]
            closing = [u for a, u in self.aliases.items() if window.endswith(a)]
            if closing:  # 执法支队领导, 局运输科负责人: the title is that unit's
                add(closing[-1])
                continue
            if window.endswith(_SUBUNIT_BEFORE):
                continue  # 湟源县交通运输局执法大队负责同志: the head of a team in it
            if named:
                add(named[-1])
                continue
            if any(g in window for g in self.lexicon.generic_local):
                if jurisdiction and jurisdiction in self.by_district:
                    add(self.by_district[jurisdiction])
                else:
                    add(ANY_UNIT)
                continue
            if any(window.endswith(s) for s in _SUBUNIT_BEFORE) or m.group(0) not in (
                "局长",
                "副局长",
                "一把手",
                "主要领导",
            ):
                continue
            sentence_end = min(
                [i for i in (text.find(c, start) for c in _STOP) if i >= 0] or [len(text)]
            )
            sentence = text[max(0, start - 40) : sentence_end]
            if any(w in sentence for w in self.lexicon.accusation_words):
                add(ANY_UNIT)
        return out
