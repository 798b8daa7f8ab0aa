"""The classifier: combines extraction, gazetteer, lexicon cues, checklist wording and model."""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from notices.loader import campaign_file

from .checklist import Checklist, ChecklistIndex
from .extraction import extract_phones, extract_plates, extract_times
from .gazetteer import Gazetteer
from .leadership import LeadershipDetector
from .lexicon import Lexicon, cue_score
from .model import NO_ITEM, TrainedModel
from .text import Featurizer, Tokenizer, normalize

__all__ = ["KINDS", "CampaignData", "Classification", "Classifier", "Params"]

KINDS = ("complaint", "tip", "inquiry", "praise", "spam", "invalid")
ACTIONABLE = ("complaint", "tip")
SPECIAL_ITEMS = (33, 36)  # items with their own routing rule (DESIGN.md rule 2)
_CJK_RE = re.compile(r"[\u4e00-\u9fff]")
_MEANINGFUL_RE = re.compile(r"[\u4e00-\u9fffA-Za-z]")
# Complaint vs tip. A complaint is about harm done to the writer (or their family,
# company, vehicle): first-person actors and objects of enforcement, personal
# remedies. A tip reports someone else's wrongdoing: hearsay and witness verbs,
# third parties as subjects, anonymity, calls to investigate others.
_SELF = r"(?:我|本人|俺|其|来电人)"
_ENFORCE_VERB = r"(?:罚|扣|拦|查|拍|抓|记|骂|吼|打|推|拽|摔|训|赶|拖|收|没收|认定|处罚|开单|开罚单)"
_PERSONAL_PATTERNS: tuple[tuple[str, float], ...] = (
    # The writer (or their vehicle) is the object of the enforcement: 我被罚, 我的车被扣.
    (_SELF + r"[^。！？!?，,；;]{0,10}被", 1.0),
    # Clause-initial passive with the subject left out, as writers do about themselves.
    (
        r"(?:^|[。！？!?，,；;：:\s])(?:又|还|就|都|直接|当场|竟然|结果)?被(?![^。！？!?]{0,3}(?:查处过|处罚过))",
        0.7,
    ),
    # Enforcement done to me: 罚了我, 说我, 让我交, 把我.
    (_ENFORCE_VERB + r"了?(?:我|本人)", 1.0),
    (r"(?:说|让|叫|要|把|给|逼|问|不让|不给)(?:我|本人)", 0.6),
    # My own vehicle, licence, business.
    (
        r"(?:我|本人|其)(?:的|家的?|们的)?(?:车|货车|出租车|网约车|班车|三轮车|面包车|皮卡|驾驶证|驾照|行驶证|营运证|运输证|公司|厂|店)",
        1.0,
    ),
    (r"(?:我|我们|本)(?:公司|单位|企业|厂|车队)", 0.8),
    (
        r"(?:其|来电人|本人|我)(?:驾驶|所驾|开车|开的|拉的|拉了|跑的|在[^。！？!?，,]{0,12}(?:停车|行驶|被|接单|办理))",
        0.8,
    ),
    # The writer's side of an encounter with enforcers.
    (r"我(?:当时|当场|解释|说|问|跟他们|向他们|给他们|拿出|出示|要求|申请|提出|承认|不服)", 0.8),
    # Remedies for oneself.
    (
        r"撤销|退还|退款|赔偿|找谁赔|道歉|复议|复核|给个说法|讨个说法|申辩|不服|还让不让人|凭啥|凭什么",
        0.6,
    ),
)
_THIRD_PATTERNS: tuple[tuple[str, float], ...] = (
    # Hearsay, witness, insider knowledge.
    (
        r"听说|据说|据了解|据悉|据我所知|据[^。！？，,]{0,4}透露|透露|亲眼|目睹|看见|看到|知情|都在传|传言|都知道|心里有数|心里没数",
        1.0,
    ),
    # Third parties as the actors: 有人, 有个中介, 某公司, 一家汽修厂.
    (
        r"有(?:人|个|辆|台|家|一家|一台|一辆|一个|一名|几个|几台|好几)|某(?:[个家辆台人位些])?|一家|好几台|好几辆|不少|这些人|那些",
        0.7,
    ),
    # The writer as a bystander: 我没交, 我守规矩, 我自己不超载.
    (r"我(?:没有?|不|自己)(?:办|交|超|参与|这样)", 0.7),
    # Anonymity asked for.
    (r"不愿透露|不便留名|未留姓名|不留姓名|匿名|不要回访|请保密|注意保密|不便提供", 1.5),
    # Calls to investigate and punish others.
    (r"举报|严查|彻查|查处|取缔|调查|核实|介入|追责|问责|打击|严肃处理|纪检|监察", 0.7),
    # Enforcement that lets others off (the writer is not the one punished).
    (r"放行|放走|没人管|无人管|不管|照样|照跑|照常|一阵风|常态化|长效", 0.5),
)
_PERSONAL_RES = tuple((re.compile(p), w) for p, w in _PERSONAL_PATTERNS)
_THIRD_RES = tuple((re.compile(p), w) for p, w in _THIRD_PATTERNS)


def _pattern_score(text: str, patterns, per_pattern_cap: int = 2) -> float:
    total = 0.0
    for rx, w in patterns:
        n = len(rx.findall(text))
        if n:
            total += w * min(n, per_pattern_cap)
    return total


@dataclass
class Classification:
    items: list[int]
    scores: list[float]
    category: str | None
    kind: str
    agency: str
    jurisdiction: str | None
    plates: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    times: list[str] = field(default_factory=list)
    confidence: float = 0.0
    accused_leadership: list[str] = field(default_factory=list)
    # The same units by code (ANY_UNIT kept): names in the data files may since have been
    # renamed in the app, codes are not.
    accused_units: list[str] = field(default_factory=list)
    # Per-facet confidences, for the triage page and for calibration.
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Params:
    """Combination weights, tuned by cross-validation (bench/classify.py --cv)."""

    w_model: float = 1.0  # on log-probabilities of the item head
    w_sim: float = 10.0  # on cosine similarity to the checklist wording
    w_cue: float = 0.5  # per matched checklist keyword / lexicon paraphrase
    temperature: float = 1.0
    no_item_threshold: float = 0.5  # P(no item) above which a complaint gets no items
    max_items: int = 5
    min_item_score: float = 0.02
    w_kind_model: float = 1.0
    w_kind_other: float = 0.3
    w_personal: float = 0.8
    w_third: float = 0.6
    kind_bias: float = -0.3
    w_agency_model: float = 1.0
    agency_scale: float = 0.8


@dataclass
class CampaignData:
    """Everything a campaign directory provides to the classifier."""

    checklist: Checklist
    gazetteer: Gazetteer
    lexicon: Lexicon
    units: list[dict[str, Any]]
    bureau_leaders: list[dict[str, Any]]
    leader_titles: list[str]

    @classmethod
    def load(cls, campaign_dir: Path, checklist: dict[str, Any] | None = None) -> CampaignData:
        """The campaign's data files; `checklist` (same schema as checklist.yaml) replaces the
        file when the app passes the task force's edited checklist from the database."""
        campaign_dir = Path(campaign_dir)

        def read(name: str) -> dict[str, Any]:
            path = campaign_file(campaign_dir, name)
            if not path.exists():
                return {}
            with open(path, encoding="utf-8") as fh:
                return yaml.safe_load(fh) or {}

        units = read("units.yaml")
        routing = read("routing.yaml")
        return cls(
            checklist=Checklist.from_dict(checklist or read("checklist.yaml")),
            gazetteer=Gazetteer(read("gazetteer.yaml")),
            lexicon=Lexicon.from_dict(read("lexicon.yaml")),
            units=list(units.get("units") or []),
            bureau_leaders=list(units.get("bureau_leaders") or []),
            leader_titles=[
                str(t)
                for t in (routing.get("conflict_of_interest") or {}).get("leader_titles") or []
            ],
        )

    def custom_words(self) -> set[str]:
        words = set(self.gazetteer.names()) | self.lexicon.words()
        for entry in self.checklist.entries.values():
            words.update(entry.keywords)
        return words

    def featurizer(self) -> Featurizer:
        return Featurizer(Tokenizer(self.custom_words()))


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, x))))


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max()
    e = np.exp(z)
    return e / e.sum()


class Classifier:
    """Load once per process with :meth:`load`, then call :meth:`classify` per report."""

    def __init__(
        self,
        campaign: CampaignData,
        model: TrainedModel | None = None,
        params: Params | None = None,
        featurizer: Featurizer | None = None,
    ) -> None:
        self.campaign = campaign
        self.model = model
        self.params = params or Params()
        self.featurizer = featurizer or campaign.featurizer()
        self.index = ChecklistIndex(campaign.checklist, self.featurizer, campaign.lexicon.items)
        self.numbers = campaign.checklist.numbers
        self.leadership = LeadershipDetector(
            campaign.lexicon, campaign.units, campaign.bureau_leaders, campaign.leader_titles
        )
        self._item_cols: np.ndarray | None = None
        self._no_item_col: int | None = None
        if model and "items" in model.heads:
            classes = model.heads["items"].classes
            col = {int(c): i for i, c in enumerate(classes)}
            self._item_cols = np.array([col.get(n, -1) for n in self.numbers])
            self._no_item_col = col.get(NO_ITEM)
        cal = (model.meta.get("calibration") if model else None) or {}
        self._cal = (float(cal.get("a", 1.0)), float(cal.get("b", 0.0))) if cal else None

    @classmethod
    def load(cls, campaign_dir: Path, model_path: Path | None = None,
             checklist: dict[str, Any] | None = None) -> Classifier:
        """Campaign data plus the trained model if ``model_path`` exists (else baseline)."""
        campaign = CampaignData.load(Path(campaign_dir), checklist)
        model = None
        if model_path is not None and Path(model_path).exists():
            model = TrainedModel.load(Path(model_path))
        return cls(campaign, model)

    # -- facets -------------------------------------------------------------

    def _items(self, text: str, counts, vec) -> tuple[np.ndarray, float]:
        p = self.params
        z = p.w_sim * self.index.similarity(counts) + p.w_cue * self.index.cue_scores(text)
        p_none = 0.0
        if self.model is not None and self._item_cols is not None and vec is not None:
            proba = self.model.heads["items"].proba(*vec)
            item_p = np.where(self._item_cols >= 0, proba[np.maximum(self._item_cols, 0)], 1e-6)
            z = z + p.w_model * np.log(item_p + 1e-6)
            if self._no_item_col is not None:
                p_none = float(proba[self._no_item_col])
        return _softmax(z / p.temperature), p_none

    def _kind(self, text: str, vec) -> tuple[str, float, dict[str, float]]:
        lex = self.campaign.lexicon.kind
        cues = {k: cue_score(text, lex.get(k, {}))[0] for k in KINDS}
        meaningful = _MEANINGFUL_RE.findall(text)
        cjk = _CJK_RE.findall(text)
        topic = sum(1 for w in self.campaign.lexicon.topic_words if w in text)
        topic += int(self.index.cue_scores(text).sum() > 0)
        talks = max(cues["praise"], cues["inquiry"], cues["spam"]) >= 2
        if len(meaningful) < 4 or (len(text) < 25 and topic == 0 and not talks):
            return "invalid", 0.9, cues
        if len(cjk) < 0.2 * len(meaningful) and cues["spam"] >= 1.5:
            return "spam", 0.9, cues
        if len(cjk) < 0.2 * len(meaningful) and topic == 0:
            return "invalid", 0.7, cues
        personal = min(6.0, _pattern_score(text, _PERSONAL_RES))
        third = min(6.0, _pattern_score(text, _THIRD_RES) + 0.5 * cues["tip"])
        cues["personal"] = personal
        cues["third"] = third
        lp = dict.fromkeys(KINDS, 0.0)
        w = 0.0
        if self.model is not None and vec is not None and "kind" in self.model.heads:
            head = self.model.heads["kind"]
            proba = dict(zip(head.classes, head.proba(*vec), strict=True))
            lp = {k: math.log(float(proba.get(k, 0.0)) + 1e-4) for k in KINDS}
            lp["actionable"] = math.log(
                float(proba.get("complaint", 0) + proba.get("tip", 0)) + 1e-4
            )
            w = self.params.w_kind_model
        grievance = personal + cues["complaint"]
        # Actionable (complaint or tip) against the kinds that go nowhere; the model
        # has seen few of those, so the cues lead there.
        wo = self.params.w_kind_other if w else 0.0
        z = np.array(
            [
                1.5 + wo * lp.get("actionable", 0.0),
                -1.5 + cues["inquiry"] + wo * lp["inquiry"],
                -2.0 + cues["praise"] + wo * lp["praise"],
                -2.5
                + cues["spam"]
                + wo * lp["spam"]
                + (3.0 if cues["spam"] >= 3 and topic <= 2 else 0.0),
                -3.0 + 0.5 * cues["invalid"] + wo * lp["invalid"],
            ]
        )
        if grievance >= 2:
            z[1] -= 0.5 * grievance
            z[2] -= 0.5 * grievance
        elif grievance + third < 1 and max(cues["inquiry"], cues["praise"]) > 0:
            # A question or thanks and nothing saying anyone was wronged: the prior for
            # complaint/tip weakens, so an enforcement word alone does not make it one.
            z[0] -= 1.0
        probs = _softmax(z)
        i = int(probs.argmax())
        if i > 0:
            return ("inquiry", "praise", "spam", "invalid")[i - 1], float(probs[i]), cues
        # Complaint (the writer or family was harmed) or tip (others' wrongdoing).
        p = self.params
        d = p.w_personal * personal - p.w_third * third + p.kind_bias
        d += w * (lp["complaint"] - lp["tip"])
        kind = "complaint" if d > 0 else "tip"
        return kind, float(probs[0]) * _sigmoid(abs(d) + 1.0), cues

    def _agency(self, text: str, kind: str, vec) -> tuple[str, float, dict[str, Any]]:
        lex = self.campaign.lexicon.agency
        police, p_hits = cue_score(text, lex.get("police", {}))
        transport, t_hits = cue_score(text, lex.get("transport", {}))
        info: dict[str, Any] = {"police": round(police, 2), "transport": round(transport, 2)}
        if kind in ("spam", "invalid", "inquiry"):
            return "none", 0.9, info
        if kind == "praise" and police == 0 and transport == 0:
            return "none", 0.7, info
        d = police - transport
        if self.model is not None and vec is not None and "agency" in self.model.heads:
            head = self.model.heads["agency"]
            proba = head.proba(*vec)
            pr = dict(zip(head.classes, proba, strict=True))
            d += self.params.w_agency_model * (
                math.log(pr.get("police", 1e-4) + 1e-4) - math.log(pr.get("transport", 1e-4) + 1e-4)
            )
        info["margin"] = round(d, 3)
        agency = "police" if d > 0 else "transport"
        return agency, _sigmoid(self.params.agency_scale * abs(d) + 0.5), info

    # -- the whole --------------------------------------------------------------

    def classify(self, text: str, channel: str | None = None) -> Classification:
        """Classify one report. ``channel`` is accepted for future use (sms texts are terse)."""
        raw = text or ""
        norm = normalize(raw)
        plates = extract_plates(norm)
        phones = extract_phones(norm)
        times = extract_times(norm)
        counts = self.featurizer.counts(norm)
        vec = self.model.vector(counts) if self.model is not None else None
        kind, kind_conf, _ = self._kind(norm, vec)
        if kind in ("spam", "invalid"):
            return Classification(
                items=[],
                scores=[],
                category=None,
                kind=kind,
                agency="none",
                jurisdiction=None,
                plates=plates,
                phones=phones,
                times=times,
                confidence=round(kind_conf, 4),
                details={"kind": round(kind_conf, 3)},
            )
        probs, p_none = self._items(norm, counts, vec)
        order = np.argsort(-probs)
        p = self.params
        ranked = [(self.numbers[i], float(probs[i])) for i in order[: p.max_items]]
        ranked = [r for k, r in enumerate(ranked) if k == 0 or r[1] >= p.min_item_score]
        no_item = kind not in ACTIONABLE or p_none >= p.no_item_threshold
        items = [] if no_item else [n for n, _ in ranked]
        scores = [] if no_item else [round(s, 4) for _, s in ranked]
        agency, agency_conf, agency_info = self._agency(norm, kind, vec)
        place = self.campaign.gazetteer.locate(norm)
        accused = self.leadership.detect(norm, place.jurisdiction)
        # Routing confidence: every facet the routing rules read must be right.
        special = float(
            sum(probs[self.numbers.index(n)] for n in SPECIAL_ITEMS if n in self.numbers)
        )
        top_special = bool(items) and items[0] in SPECIAL_ITEMS
        item_conf = special if top_special else 1.0 - special
        if no_item:
            item_conf = max(item_conf, 1.0 - p_none) if kind in ACTIONABLE else 1.0
        jur_conf = place.confidence if place.jurisdiction else 1.0
        if agency == "police" or top_special:
            jur_conf = 1.0
        raw_conf = kind_conf * agency_conf * jur_conf * item_conf
        confidence = raw_conf
        if self._cal is not None:
            a, b = self._cal
            lo = math.log(max(raw_conf, 1e-4) / max(1e-4, 1 - raw_conf))
            confidence = _sigmoid(a * lo + b)
        return Classification(
            items=items,
            scores=scores,
            category=self.campaign.checklist.category_of(items[0]) if items else None,
            kind=kind,
            agency=agency,
            jurisdiction=place.jurisdiction,
            plates=plates,
            phones=phones,
            times=times,
            confidence=round(confidence, 4),
            accused_leadership=accused,
            accused_units=[self.leadership.codes.get(name, name) for name in accused],
            details={
                "raw_confidence": round(raw_conf, 4),
                "kind": round(kind_conf, 3),
                "agency": round(agency_conf, 3),
                "agency_cues": agency_info,
                "jurisdiction": round(place.confidence, 3),
                "places": [m.surface for m in place.mentions],
                "ambiguous_places": place.ambiguous,
                "special_item": round(item_conf, 3),
                "no_item": round(p_none, 3),
                "best_items": [[n, round(s, 4)] for n, s in ranked],
            },
        )
