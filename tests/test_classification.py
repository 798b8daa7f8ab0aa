"""Unit tests of the classification engine (no app, no database)."""

from __future__ import annotations

from pathlib import Path

import pytest

from intake.classification import (
    ANY_UNIT,
    Classification,
    Classifier,
    TrainedModel,
    extract_phones,
    extract_plates,
    extract_times,
)
from intake.classification.gazetteer import Gazetteer
from routing.policy import RoutingDecision, resolve_unit
from tests.support import classifiers
from tests.support.classifiers import CAMPAIGN

# Fixtures shared with the other classification tests.
campaign, baseline, trained = classifiers.campaign, classifiers.baseline, classifiers.trained

RULES = [
    {
        "priority": 10,
        "name": "police",
        "when": {"agency": "police"},
        "action": "refer",
        "unit": "市公安局交通警察支队",
    },
    {
        "priority": 20,
        "name": "docs",
        "when": {"first_item": 36},
        "action": "dispatch",
        "unit": "局法规科",
    },
    {
        "priority": 21,
        "name": "permits",
        "when": {"first_item": 33},
        "action": "dispatch",
        "unit": "局运输科",
    },
    {
        "priority": 30,
        "name": "hz",
        "when": {"jurisdiction": "湟中区"},
        "action": "dispatch",
        "unit": "湟中区交通运输局",
    },
    {
        "priority": 31,
        "name": "dt",
        "when": {"jurisdiction": "大通县"},
        "action": "dispatch",
        "unit": "大通县交通运输局",
    },
    {
        "priority": 32,
        "name": "hy",
        "when": {"jurisdiction": "湟源县"},
        "action": "dispatch",
        "unit": "湟源县交通运输局",
    },
    {
        "priority": 33,
        "name": "cd",
        "when": {"jurisdiction": "城东区"},
        "action": "dispatch",
        "unit": "市交通运输综合行政执法监督局",
    },
    {
        "priority": 35,
        "name": "cx",
        "when": {"jurisdiction": "城西区"},
        "action": "dispatch",
        "unit": "市交通运输综合行政执法监督局",
    },
]


# -- extraction -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "plate"),
    [
        ("车牌青A·5X321的出租车", "青A·5X321"),
        ("车牌是青A5X321。", "青A·5X321"),
        ("青A 5X321 拒载", "青A·5X321"),
        ("一辆青A12345的面包车", "青A·12345"),
        ("新能源车青AD12345被拍", "青A·D12345"),
        ("新能源车青AF12345被拍", "青A·F12345"),
        ("青A·D12345", "青A·D12345"),
        ("大型新能源车青A12345D", "青A·12345D"),
        ("外地车甘A·Q3195也在", "甘A·Q3195"),
        ("小写的青a 2m836", "青A·2M836"),
    ],
)
def test_plates(text: str, plate: str) -> None:
    assert extract_plates(text) == [plate]


def test_plates_ignore_non_plates() -> None:
    assert extract_plates("青H开头的半挂") == []
    assert extract_plates("青海湖边") == []
    assert extract_plates("青A123456") == []  # six characters but not a new-energy plate
    assert extract_plates("") == []


def test_phones() -> None:
    text = "联系人 18997133987，座机0971-6145462，或（0971）8123456，尾号139****6672，投诉打12328"
    assert extract_phones(text) == ["18997133987", "0971-6145462", "0971-8123456", "139****6672"]
    assert extract_phones("0971—6145462") == ["0971-6145462"]
    assert extract_phones("罚款1500元，12345热线") == []


def test_times() -> None:
    times = extract_times("6月20号下午四点多，昨晚约10点，2023年4月11日，上周五")
    assert (
        "6月20号" in times
        and "下午四点多" in times
        and "2023年4月11日" in times
        and "上周五" in times
    )


# -- gazetteer --------------------------------------------------------------------


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer.load(CAMPAIGN / "gazetteer.yaml")


@pytest.mark.parametrize(
    ("text", "district"),
    [
        ("在多巴镇被拦下", "湟中区"),
        ("鲁沙尔那边的路口", "湟中区"),
        ("塔尔寺停车场", "湟中区"),
        ("桥头镇客运站门口", "大通县"),
        ("大通县塔尔镇的检测点", "大通县"),
        ("老爷山脚下", "大通县"),
        ("日月山下面", "湟源县"),
        ("丹噶尔古城门口", "湟源县"),
        ("在乐家湾被查", "城东区"),
        ("西宁火车站出站口", "城东区"),
        ("大十字附近", "城中区"),
        ("总寨镇附近", "城中区"),
        ("海湖新区上班", "城西区"),
        ("五四大街上被拦", "城西区"),
        ("柴达木路一药店门口", "城北区"),
        ("二十里铺的停车场", "城北区"),
        ("火车西站旁边", "城北区"),
        ("湟源县城关镇", "湟源县"),
        ("大通县东峡镇往山里的路", "大通县"),
        ("湟中上新庄镇", "湟中区"),
        ("在朝阳那边被运管拦下", "城北区"),
        ("我在朝阳西路等客", "城北区"),
        ("小桥一带的检查点", "城北区"),
        ("我在朝阳被执法人员拦下罚款。", "城北区"),
        ("在小桥被执法人员罚款200元。", "城北区"),
        ("朝阳检查站的执法人员随意罚款", "城北区"),
        ("在大通县城关镇被拦下，我是去湟源的", "大通县"),
    ],
)
def test_gazetteer_places(gazetteer: Gazetteer, text: str, district: str) -> None:
    assert gazetteer.locate(text).jurisdiction == district


@pytest.mark.parametrize(
    "text",
    [
        "在城关镇那个检测站",
        "东峡那边的限高",
        "新庄那边",
        "在西宁被查",
        "京藏高速上",
        "曹家堡机场",
        "城中村里",
        # A shared name is not settled by where the driver was going.
        "城关镇的运管执法人员随意扣车罚款不开票据，我是拉货去大通的。",
        # Everyday words that are also short place names.
        "在村口的小桥边被路政执法人员拦下，随意罚款不开票据，态度恶劣。",
        "今天早上朝阳刚升起，运管执法人员就在路口拦车随意罚款不开票据。",
        "现在朝阳刚升起，运管执法人员就在路口拦车随意罚款不开票据。",
        "货车停在小桥边，执法人员过来就罚款。",
        "我住在湟源县，在城关镇的检查站被执法人员罚款。",
    ],
)
def test_gazetteer_collisions_and_unknown_give_no_district(gazetteer: Gazetteer, text: str) -> None:
    assert gazetteer.locate(text).jurisdiction is None


def test_gazetteer_prefers_scene_over_destination(gazetteer: Gazetteer) -> None:
    assert gazetteer.locate("在小桥那边的路口往大通方向拉客").jurisdiction == "城北区"
    assert gazetteer.locate("湟源县城出口被拦下，我们是去西宁看病").jurisdiction == "湟源县"


# -- agency, kind ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "agency"),
    [
        ("路政人员在国道上拦车检查，态度很差，罚了我五百", "transport"),
        ("交警在路口拦车，不听解释直接罚款记分", "police"),
        ("治超站把我的车扣了三天，超限检测站也不给说法", "transport"),
        ("公安检查站要求所有车进站，交警说不进站就抓拍", "police"),
        ("辅警一个人给我开了违停罚单，没有民警在场", "police"),
        ("运管的人说我没有道路运输证，要扣车", "transport"),
        ("我知道交警不归交通局管，但路政执法人员在检测站打人了，路政的人还扣了车", "transport"),
        ("交通局说这事归交警，可交警大队的民警把我拖出来打了，交警还扣了我的驾驶证", "police"),
    ],
)
def test_agency_lookalikes(
    baseline: Classifier, trained: Classifier, text: str, agency: str
) -> None:
    assert baseline.classify(text).agency == agency
    assert trained.classify(text).agency == agency


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("", "invalid"),
        ("   ", "invalid"),
        ("测试测试123 test", "invalid"),
        ("【恒通贷】无抵押信用贷款当天放款，微信同号，回T退订", "spam"),
        ("代开各类发票，加微信详询，诚信合作", "spam"),
        ("Dear Sir, best price quotation for LED screens, reply for catalog.", "spam"),
        ("请问网约车从业资格证怎么办理，需要哪些材料？", "inquiry"),
        ("表扬湟源县交通执法人员，帮我们推车叫拖车，真心感谢！", "praise"),
        ("我在八一路被运政执法人员辱骂，还说要扣我的车，要求处理", "complaint"),
        ("举报：听说有人每月给检测站交钱，超载车就不查，据我所知长期存在", "tip"),
    ],
)
def test_kind(trained: Classifier, text: str, kind: str) -> None:
    res = trained.classify(text)
    assert res.kind == kind
    if kind in ("spam", "invalid"):
        assert res.items == [] and res.agency == "none"


# -- items ----------------------------------------------------------------------------

PARAPHRASES = [
    ("执法人员冲到快车道中间挥手让大货车停下，后面的车差点追尾，太危险了", 9),
    ("车扣了两个多月既不处罚也不还车，停车场每天还要交停车费", 10),
    ("我和邻居合伙开车上下班分摊油费，被认定成非法营运，罚款扣车", 15),
    ("执法人员二话不说把我从车里拽出来摔在地上，胳膊受伤流血", 28),
    ("检测站的人说给他五百块就不开罚单，我转账后他就让我走了", 31),
    ("货车通行证只能去窗口排队办，跑了好几个部门，门口有黄牛说加钱包办", 33),
    ("县里出了个红头文件要求司机交保证金，这个文件违反上位法，应当废止", 36),
    ("超载的车交了罚款就放走，根本不让卸货，等于花钱买超载", 26),
    ("同一个路口一周内因为同一件事被罚了三次，重复处罚", 19),
    ("乘客装作着急赶车求我拉他，刚收钱执法就来了，明显是设套钓鱼", 20),
    ("升降式限高杆没有任何警示标志，晚上看不见，车顶被刮坏", 14),
    ("第一次轻微违法，按免罚清单可以不罚，可执法人员还是罚了", 4),
    ("单位给每个执法人员下达每月办案数量考核指标，完不成扣绩效", 2),
    ("中介说有内部关系能快速办营运证，收了钱，其实政务服务网上就能免费办", 32),
]


@pytest.mark.parametrize(("text", "item"), PARAPHRASES)
def test_item_ranking_paraphrases(trained: Classifier, text: str, item: int) -> None:
    res = trained.classify(text)
    assert res.items[0] == item, res.details["best_items"]
    assert res.category == trained.campaign.checklist.category_of(item)
    assert 0.0 <= res.scores[0] <= 1.0 and res.scores == sorted(res.scores, reverse=True)


def test_checklist_only_baseline_is_useful(baseline: Classifier) -> None:
    hits = sum(1 for text, item in PARAPHRASES if item in baseline.classify(text).items[:3])
    assert hits >= len(PARAPHRASES) - 2


def test_classification_shape(trained: Classifier) -> None:
    res = trained.classify("6月3日在多巴镇被路政罚款，车牌青A·5X321，电话13912345678")
    assert isinstance(res, Classification)
    d = res.to_dict()
    for key in (
        "items",
        "scores",
        "category",
        "kind",
        "agency",
        "jurisdiction",
        "plates",
        "phones",
        "times",
        "confidence",
        "accused_leadership",
    ):
        assert key in d
    assert (
        res.plates == ["青A·5X321"]
        and res.phones == ["13912345678"]
        and res.jurisdiction == "湟中区"
    )
    assert 0.0 <= res.confidence <= 1.0


# -- model artefact --------------------------------------------------------------------


def test_model_roundtrip(tmp_path: Path, trained: Classifier) -> None:
    assert trained.model is not None
    path = tmp_path / "m.npz"
    trained.model.save(path)
    loaded = TrainedModel.load(path)
    assert loaded.meta["format_version"] == 1 and len(loaded.meta["training_data_sha256"]) == 64
    clf = Classifier.load(CAMPAIGN, path)
    text = "路政执法人员在多巴镇把我从车上拽下来打了"
    assert clf.classify(text).items == trained.classify(text).items


def test_load_without_model_file(tmp_path: Path) -> None:
    clf = Classifier.load(CAMPAIGN, tmp_path / "missing.npz")
    assert clf.model is None
    assert clf.classify("升降限高杆没有警示标志").items[0] == 14


# -- routing policy ---------------------------------------------------------------------


def _res(**kw) -> dict:
    base = {
        "items": [10],
        "kind": "complaint",
        "agency": "transport",
        "jurisdiction": "湟中区",
        "confidence": 0.9,
        "accused_leadership": [],
    }
    base.update(kw)
    return base


def test_policy_rules_in_priority_order() -> None:
    assert resolve_unit(_res(), RULES, min_confidence=0.5) == RoutingDecision(
        "湟中区交通运输局", "dispatch", "hz", "rule hz"
    )
    assert (
        resolve_unit(_res(agency="police", items=[36]), RULES, min_confidence=0.5).unit
        == "市公安局交通警察支队"
    )
    assert resolve_unit(_res(agency="police"), RULES, min_confidence=0.5).action == "refer"
    assert (
        resolve_unit(_res(items=[36, 10], jurisdiction=None), RULES, min_confidence=0.5).unit
        == "局法规科"
    )
    assert resolve_unit(_res(items=[33]), RULES, min_confidence=0.5).unit == "局运输科"
    assert resolve_unit(_res(items=[10, 33]), RULES, min_confidence=0.5).unit == "湟中区交通运输局"


def test_policy_triage_when_no_place_low_confidence_or_not_actionable() -> None:
    assert resolve_unit(_res(jurisdiction=None), RULES, min_confidence=0.5).action == "triage"
    low = resolve_unit(_res(confidence=0.3), RULES, min_confidence=0.5)
    assert low.unit is None and low.action == "triage" and "confidence" in low.reason
    for kind in ("spam", "invalid", "inquiry", "praise"):
        assert resolve_unit(_res(kind=kind), RULES, min_confidence=0.5).unit is None


def test_policy_conflict_of_interest() -> None:
    d = resolve_unit(_res(accused_leadership=["湟中区交通运输局"]), RULES, min_confidence=0.5)
    assert d.unit is None and d.action == "triage" and "conflict of interest" in d.reason
    d = resolve_unit(_res(accused_leadership=[ANY_UNIT]), RULES, min_confidence=0.5)
    assert d.action == "triage"
    # Accusing another unit's leadership does not stop routing to this one.
    d = resolve_unit(_res(accused_leadership=["大通县交通运输局"]), RULES, min_confidence=0.5)
    assert d.unit == "湟中区交通运输局"


@pytest.mark.parametrize(
    ("text", "accused"),
    [
        ("湟中区交通运输局局长的亲戚开黑车，多巴镇的执法人员从来不查", ["湟中区交通运输局"]),
        ("大通县交通局副局长打招呼，桥头镇扣下的超载车当晚就放了", ["大通县交通运输局"]),
        ("听说是莫戩功亲自打的招呼，多巴的检测站才放的车", ["湟中区交通运输局"]),
        ("湟源县城关镇扣车，县交通运输局领导说罚款最低五千是他们定的", ["湟源县交通运输局"]),
        ("湟中区交通运输局主要负责同志打招呼，多巴镇扣下的车当天就放了。", ["湟中区交通运输局"]),
        ("大通县交通运输局党组书记的亲戚开黑车，桥头镇没人查。", ["大通县交通运输局"]),
    ],
)
def test_leadership_accusations(trained: Classifier, text: str, accused: list[str]) -> None:
    res = trained.classify(text)
    assert res.accused_leadership == accused
    decision = resolve_unit(
        res,
        RULES
        + [
            {
                "priority": 32,
                "name": "hy2",
                "when": {"jurisdiction": "湟源县"},
                "action": "dispatch",
                "unit": "湟源县交通运输局",
            }
        ],
        min_confidence=0.0,
    )
    assert decision.action == "triage"


@pytest.mark.parametrize(
    "text",
    [
        "尊敬的领导：我在多巴镇被路政罚款，请局长过问一下",
        "中队领导在会上说罚款不能低于两万，湟中区的执法队都这样",
        "物流公司负责人反映，在多巴镇被路政扣车",
    ],
)
def test_addressing_leaders_is_not_an_accusation(trained: Classifier, text: str) -> None:
    assert trained.classify(text).accused_leadership == []


def test_triage_threshold_sends_unsure_reports_to_triage(trained: Classifier) -> None:
    # A place that is only a destination, a vague text: low confidence.
    sure = trained.classify("在多巴镇路政执法人员把我从车上拽下来打了，要求严肃处理")
    assert sure.confidence >= 0.6
    assert resolve_unit(sure, RULES, min_confidence=0.6).unit == "湟中区交通运输局"
    unsure = trained.classify("执法的人不讲道理，往湟源去，城东的也一样")
    assert unsure.confidence < sure.confidence
    assert (
        resolve_unit(unsure, RULES, min_confidence=max(unsure.confidence + 0.01, 0.6)).action
        == "triage"
    )
    nowhere = trained.classify("执法人员在路上拦车罚款，罚完就走，也不说为什么")
    assert nowhere.jurisdiction is None
    assert resolve_unit(nowhere, RULES, min_confidence=0.0).action == "triage"


def test_load_is_fast(tmp_path: Path, trained: Classifier) -> None:
    import time

    assert trained.model is not None
    path = tmp_path / "m.npz"
    trained.model.save(path)
    t0 = time.perf_counter()
    Classifier.load(CAMPAIGN, path)
    assert time.perf_counter() - t0 < 2.0


def test_the_city_bureaus_leadership_heads_the_enforcement_supervision_bureau_too(
        trained: Classifier) -> None:
    """市交通运输局 runs the city's enforcement supervision bureau: a report accusing the
    bureau's leadership is not sent to the body that answers to them."""
    res = trained.classify("市交通运输局领导干预执法，城西区海湖新区扣下的车一个电话就放了。")
    assert "市交通运输综合行政执法监督局" in res.accused_leadership
    assert "湟中区交通运输局" not in res.accused_leadership
    decision = resolve_unit(res, RULES, min_confidence=0.5)
    assert decision.unit is None and "conflict of interest" in decision.reason


def test_the_head_of_a_team_is_not_the_units_leadership(trained: Classifier) -> None:
    """执法大队负责同志 is the squad's head: the bureau may still handle the report."""
    res = trained.classify("湟源县交通运输局执法大队负责同志在日月山检查站乱罚款。")
    assert res.accused_leadership == []


@pytest.mark.parametrize(("text", "unit"), [
    ("市交通执法支队领导打招呼，城西区海湖新区扣下的车一个电话就放了。", "市交通运输综合行政执法监督局"),
    ("局运输科负责人打招呼，城西区海湖新区扣下的车一个电话就放了。", "局运输科"),
])
def test_a_unit_whose_name_ends_like_a_team_is_still_that_unit(trained: Classifier, text: str,
                                                                unit: str) -> None:
    assert unit in trained.classify(text).accused_leadership
