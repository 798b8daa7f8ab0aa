"""Held-out paraphrases for the item pairs the classifier confuses, and complaint vs tip.

None of these texts (or their phrases) is in the labelled dev file: they are written
in other words, the way other people describe the same checklist problems, so they
check that the ranking generalises rather than that the dev lines were learned.
"""

from __future__ import annotations

import pytest

from intake.classification import Classifier
from tests.support import classifiers

# Fixtures shared with the other classification tests.
campaign, baseline, trained = classifiers.campaign, classifiers.baseline, classifiers.trained

# (text, the right item, the look-alike it must beat)
CONFUSED_PAIRS = [
    # 17 运动式执法 (festivals / big events) vs 10 扣车 and 5 治超年票
    (
        "中秋国庆长假那几天，执法人员在高速出口天天突击查旅游大巴，稍有一点不合规就重罚，"
        "处罚力度比平时大得多；假期一结束路上就再也见不到查车的了。",
        17,
        10,
    ),
    (
        "每逢召开重大活动，市里的货车都查得特别严，超一点就罚，活动期间罚款特别多，"
        "活动一过又恢复老样子，这种执法算不算常管常严？",
        17,
        5,
    ),
    # 16 机械适用法条 vs 15 私家车同乘
    (
        "检查站前的禁令标志被广告牌挡住，外地车根本看不见，结果凡是没进站的车一律按"
        "违反禁令标志抓拍罚款，不管司机是不是故意的，机械套用条款。",
        16,
        15,
    ),
    (
        "周末开自己的私家车带两位同村亲戚去县城看病，亲戚非要给我转五十块油费，"
        "执法人员就把这次同乘认定为非法营运，罚款一万。",
        15,
        16,
    ),
    # 35 辅警与黄牛勾结 vs 34 辅助人员单独执法
    (
        "治超站有个辅警跟拉货的黄牛串通，每天把查车的时间和地点提前发给他们，"
        "交了好处费的车就能绕过去，被拦下了他也挥手放行。",
        35,
        34,
    ),
    (
        "路口只有两个穿协管员马甲的临时工在拦车开罚单，没有一个有执法资格的正式人员在场，"
        "他们也拿不出执法证件。",
        34,
        35,
    ),
    # 21 辱骂恐吓 vs 23 不保障陈述申辩
    (
        "执法人员一上来就骂骂咧咧，满嘴脏话，还恐吓我说再多嘴就把车扣到明年，"
        "一点文明执法的样子都没有。",
        21,
        23,
    ),
    (
        "开处罚决定书之前执法人员没有告知我有陈述和申辩的权利，我想说明情况，"
        "他说不用说了直接签字，签完就走。",
        23,
        21,
    ),
]


@pytest.mark.parametrize(("text", "item", "other"), CONFUSED_PAIRS)
def test_confused_pairs_rank_the_right_item_first(
    trained: Classifier, text: str, item: int, other: int
) -> None:
    res = trained.classify(text)
    assert res.items[0] == item, res.details["best_items"]
    if other in res.items:
        assert res.items.index(item) < res.items.index(other)


@pytest.mark.parametrize(("text", "item", "other"), CONFUSED_PAIRS)
def test_confused_pairs_checklist_only_baseline_top3(
    baseline: Classifier, text: str, item: int, other: int
) -> None:
    # With no examples at all, the checklist wording still puts the item in the top 3.
    assert item in baseline.classify(text).items[:3]


LETTERS = [
    # Long letters that quote the law, mention several agencies and a document number.
    (
        "尊敬的领导：您好！本人是一名货车司机。上月在城关镇附近因车辆篷布一角没有盖好被"
        "交通执法人员拦下，我当场就把篷布重新盖好了。根据《中华人民共和国行政处罚法》第三十三条，"
        "违法行为轻微并及时改正，没有造成危害后果的，不予行政处罚；首违不罚清单里也列了这一项。"
        "可执法人员还是罚了我两百元。交警那边对类似情况都是提醒教育，为什么交通执法就直接罚款？"
        "恳请领导核查，撤销这一处罚。",
        4,
        "complaint",
    ),
    (
        "尊敬的局领导：据我所知，某县超限检测站长期存在索要钱财的问题。站里的人拦下车就暗示"
        "司机给好处，一车转账几百元就不开罚单让走，不给就扣车。我多次亲眼看见这种情况，"
        "身边跑运输的同行也都知道。这种行为严重违反《公路安全保护条例》，希望上级部门核实查处。"
        "本人不便留名。",
        31,
        "tip",
    ),
]


@pytest.mark.parametrize(("text", "item", "kind"), LETTERS)
def test_long_letters(trained: Classifier, text: str, item: int, kind: str) -> None:
    res = trained.classify(text)
    assert item in res.items[:3], res.details["best_items"]
    assert res.kind == kind


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        # Harm to the writer or their family: complaint.
        (
            "上周我开车送孩子上学，在路口被路政拦下说车上东西超宽，罚了我两百，我解释半天也不听",
            "complaint",
        ),
        (
            "我父亲的三轮车被县里执法的扣了，一个多月不处理，停车场每天还要收钱，要求退还停车费",
            "complaint",
        ),
        ("来电人称其驾驶出租车在车站等客时被执法人员处罚，认为处罚过重，要求复核", "complaint"),
        # Someone else's wrongdoing, told by a witness or insider: tip.
        ("我在停车场旁边开小卖部，经常看见晚上有人来把扣下的超载车开走，货都没卸，希望严查", "tip"),
        ("听说有个中介专门帮人办假的从业资格证，好几个司机都在用，请有关部门调查取缔", "tip"),
        ("知情人反映：某执法中队给每个队员定了罚款任务，完不成扣奖金，不愿透露姓名", "tip"),
        # Neither: questions and thanks that mention enforcement words.
        ("请问车被暂扣以后去哪里处理，需要带啥材料？", "inquiry"),
        ("支持你们整治执法乱象，给执法人员点赞", "praise"),
    ],
)
def test_complaint_vs_tip(trained: Classifier, text: str, kind: str) -> None:
    assert trained.classify(text).kind == kind
