"""串并案 (zhihui.intel.series): MO extraction, pair features, the linker and its suggestions."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from zhihui.intel.series import (
    CHAIN_FEATURES,
    FEATURES,
    MODELS,
    SeriesLinker,
    _nb_cos,
    _shared_neighbours,
    mo_tags,
    pair_features,
    sample_pairs,
    split_by_offender,
    suggest_series,
)
from zhihui.sim.series import generate_cases

pytestmark = pytest.mark.dbfree

# mo_tags on texts written the way 警情 are written (not the generator's templates) -----------------------

REAL_LOOKING = [
    (
        "报警人称其位于莲花北村5栋的家中被盗，防盗门锁被撬，丢失现金3000元及金项链一条。",
        {"premises": "住宅", "entry": {"撬锁"}, "targets": {"现金", "首饰"}, "category": "010501"},
    ),
    (
        "事主报称昨晚停放在小区车棚的电瓶车被盗，车锁被剪断",
        {"premises": "车棚", "entry": {"剪锁"}, "targets": {"电动车"}, "category": "010504", "time_hint": "晚上"},
    ),
    (
        "车主称停在路边的小车副驾车窗被砸，车内一个黑色双肩包被盗，包内有笔记本电脑",
        {"premises": "车辆", "entry": {"砸车窗"}, "targets": {"包", "电脑"}, "category": "010506"},
    ),
    (
        "凌晨3点左右有人从阳台爬进屋内偷走两部手机",
        {"premises": "住宅", "entry": {"攀爬阳台"}, "targets": {"手机"}, "time_hint": "凌晨"},
    ),
    ("早上开门发现店铺卷闸门被撬开，收银台营业款被盗", {"premises": "商铺", "entry": {"撬锁"}, "targets": {"现金"}}),
    ("家中门锁无明显撬痕，屋内首饰不见了", {"premises": "住宅", "entry": {"技术开锁"}, "targets": {"首饰"}}),
    ("在地铁站口被一名骑摩托车的男子飞车抢走手机", {"entry": {"飞车抢夺"}, "targets": {"手机"}, "category": "010401"}),
    ("被一男子持刀抢走现金500元", {"entry": {"持刀抢劫"}, "tools": {"刀具"}, "category": "010304"}),
    ("该男子表示包括手机在内的物品均已找回", {"targets": {"手机"}}),  # 包括 is no bag, 表示 no watch
    ("報警人稱家中門鎖被撬，丟失現金", {"entry": {"撬锁"}, "targets": {"现金"}}),  # traditional characters
    ("手机店夜间被盗，丢失现金两千元", {"premises": "商铺", "targets": {"现金"}}),  # the trade is not the loss
    ("停放在楼下的电动车电瓶被偷", {"targets": {"电瓶"}, "category": "010504"}),
    (
        "下午回家发现房门虚掩，卧室抽屉里的手表和平板电脑被盗",
        {"premises": "住宅", "entry": {"未锁门"}, "targets": {"手表", "电脑"}, "time_hint": "下午"},
    ),
    (
        "公司办公室夜间被人撬门，丢失笔记本电脑两台，现场遗留一把螺丝刀",
        {"premises": "写字楼", "entry": {"撬锁"}, "targets": {"电脑"}, "tools": {"螺丝刀"}},
    ),
    ("城中村出租屋窗户防盗网被剪，嫌疑人钻窗入室", {"premises": "出租屋", "entry": {"翻窗"}}),
]


@pytest.mark.parametrize(("text", "expected"), REAL_LOOKING)
def test_mo_tags_on_real_looking_text(text: str, expected: dict) -> None:
    got = mo_tags(text)
    for key, want in expected.items():
        assert got[key] == want, (key, got)


def test_mo_tags_no_force_is_not_prying() -> None:
    assert "撬锁" not in mo_tags("门锁完好，未发现撬压痕迹，屋内现金被盗")["entry"]
    assert "撬锁" in mo_tags("门锁被撬坏，屋内现金被盗")["entry"]
    assert mo_tags("今天天气很好")["premises"] == "" and not mo_tags("今天天气很好")["entry"]


# Fixtures -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data() -> dict:
    cases = generate_cases(21, 160)
    train, test = split_by_offender(cases, 0.3, seed=1)
    ptr, ytr = sample_pairs(train, ratio=5, seed=1)
    pte, yte = sample_pairs(test, ratio=5, seed=2)
    return {"cases": cases, "train": train, "test": test, "ptr": ptr, "ytr": ytr, "pte": pte, "yte": yte}


@pytest.fixture(scope="module")
def linker(data: dict) -> SeriesLinker:
    return SeriesLinker("auto").fit(data["train"], data["ptr"], data["ytr"])


def test_mo_tags_read_the_generators_fields_back(data: dict) -> None:
    cases = data["cases"]
    tags = [mo_tags(t) for t in cases["text"]]
    premises = np.mean([t["premises"] == p for t, p in zip(tags, cases["premises"], strict=True)])
    # The generator leaves the entry method out of ~15 % of descriptions (SeriesKnobs.omit_entry_share).
    entry = np.mean([t["entry"] == {e} for t, e in zip(tags, cases["entry"], strict=True)])
    stated = np.mean([t["entry"] <= {e} for t, e in zip(tags, cases["entry"], strict=True)])
    targets = np.mean([t["targets"] == set(v.split("、")) for t, v in zip(tags, cases["targets"], strict=True)])
    assert premises >= 0.95 and targets >= 0.95 and stated >= 0.97
    assert 0.75 <= entry <= 0.95


# pair_features on a hand-made pair ---------------------------------------------------------------------------


def _hand_made() -> pd.DataFrame:
    return pd.DataFrame(
        [
            # Tue 2024-03-05 02:00 and Tue 2024-03-12 03:30 Asia/Shanghai; 0.01° of latitude apart.
            {
                "case_id": "A",
                "category": "010501",
                "at": pd.Timestamp("2024-03-04T18:00:00Z"),
                "lat": 22.530,
                "lon": 114.010,
                "text": "家中门锁被撬，丢失现金和手机",
                "premises": "住宅",
                "entry": "撬锁",
                "targets": "现金、手机",
                "tool": "",
            },
            {
                "case_id": "B",
                "category": "010501",
                "at": pd.Timestamp("2024-03-11T19:30:00Z"),
                "lat": 22.540,
                "lon": 114.010,
                "text": "家中门锁被撬，丢失手机一部，现场遗留螺丝刀",
                "premises": "住宅",
                "entry": "撬锁",
                "targets": "手机",
                "tool": "螺丝刀",
            },
            # Sat 2024-03-16 23:30 local, a car broken into 420 m east of A.
            {
                "case_id": "C",
                "category": "010506",
                "at": pd.Timestamp("2024-03-16T15:30:00Z"),
                "lat": 22.530,
                "lon": 114.010 + 420 / (111_195.0 * math.cos(math.radians(22.53))),
                "text": "停在路边的小车车窗被砸，车内背包被盗",
                "premises": "车辆",
                "entry": "砸车窗",
                "targets": "包",
                "tool": "锤子",
            },
        ]
    )


def test_pair_features_on_a_hand_made_pair() -> None:
    cases = _hand_made()
    f = pair_features(cases, np.array([[0, 1], [0, 2], [1, 2], [0, 0]]))
    assert list(f.columns) == list(FEATURES)
    ab, ac, bc, aa = (f.iloc[k] for k in range(4))
    assert ab["dist_m"] == pytest.approx(1111.95, abs=1.0)
    assert ac["dist_m"] == pytest.approx(420.0, abs=1.0)
    assert ab["gap_days"] == pytest.approx(7 + 1.5 / 24)
    assert ab["tod_diff_h"] == pytest.approx(1.5)
    assert bc["tod_diff_h"] == pytest.approx(4.0)  # 03:30 and 23:30 are four hours apart across midnight
    assert ab["dow_match"] == 1 and ac["dow_match"] == 0 and ab["weekend_match"] == 1 and ac["weekend_match"] == 0
    assert ab["cat_match"] == 1 and ac["cat_match"] == 0 and ac["cat_group_match"] == 1
    assert ab["premises_match"] == 1 and ac["premises_match"] == 0
    assert ab["entry_jaccard"] == 1 and ac["entry_jaccard"] == 0
    assert ab["target_jaccard"] == pytest.approx(0.5)
    assert math.isnan(ab["tool_jaccard"])  # A's text names no tool: unknown, not a mismatch
    assert 0 <= ac["text_cos"] < ab["text_cos"] < 1 and aa["text_cos"] == pytest.approx(1.0)
    assert ab["premises_group_match"] == 1 and ac["premises_group_match"] == 0
    # Both pry the lock, which 2 of the 3 cases do: −log(2/3); A and C share no entry method.
    assert ab["entry_info"] == pytest.approx(-math.log(2 / 3)) and ac["entry_info"] == 0
    # A–B 1.1 km: C is closer to A than that (420 m) but not to B (1.19 km); nothing is closer to A or C than 420 m.
    assert (ab["closer_share_min"], ab["closer_share_max"]) == (0.0, 1.0)
    assert (ac["closer_share_min"], ac["closer_share_max"]) == (0.0, 0.0)
    fields = pair_features(cases, np.array([[0, 1]]), mo="fields").iloc[0]
    assert fields["target_jaccard"] == pytest.approx(0.5) and math.isnan(fields["tool_jaccard"])


def test_pairs_are_sampled_and_split_by_offender(data: dict) -> None:
    train, test, ptr, ytr = data["train"], data["test"], data["ptr"], data["ytr"]
    assert not set(train["offender_id"]) & set(test["offender_id"])
    sizes = train.groupby("offender_id").size()
    assert ytr.sum() == int((sizes * (sizes - 1) // 2).sum())
    assert (ytr == 0).sum() == round(5 * ytr.sum())
    off = train["offender_id"].to_numpy()
    assert ((off[ptr[:, 0]] == off[ptr[:, 1]]) == (ytr == 1)).all()
    assert len({tuple(p) for p in ptr.tolist()}) == len(ptr) and (ptr[:, 0] < ptr[:, 1]).all()


def test_linker_beats_distance_alone(data: dict, linker: SeriesLinker) -> None:
    test, pte, yte = data["test"], data["pte"], data["yte"]
    auc = roc_auc_score(yte, linker.predict_proba(test, pte))
    dist_auc = roc_auc_score(yte, -pair_features(test, pte)["dist_m"])
    assert linker.chosen_ in MODELS and set(linker.validation_auc_) == set(MODELS)
    assert auc >= 0.85
    assert auc >= dist_auc + 0.1


def test_the_neighbourhood_stage_is_used_on_a_frame(data: dict) -> None:
    test, pte, yte = data["test"], data["pte"], data["yte"]
    linker = SeriesLinker("gbm").fit(data["train"], data["ptr"], data["ytr"])
    assert (
        linker.uses_chain_
        and not SeriesLinker("gbm", chain=False).fit(data["train"], data["ptr"], data["ytr"]).uses_chain_
    )
    chained = linker.predict_proba(test, pte)
    pairwise = linker.predict_proba_features(pair_features(test, pte))
    assert not np.allclose(chained, pairwise)  # stage 2 reads the frame …
    assert roc_auc_score(yte, chained) >= roc_auc_score(yte, pairwise) - 0.02  # … and does not lose to stage 1
    small = _hand_made()  # 3 cases: no neighbourhood, the pairwise score
    pairs = np.array([[0, 1], [0, 2]])
    assert np.allclose(linker.predict_proba(small, pairs), linker.predict_proba_features(pair_features(small, pairs)))


def test_offenders_from_linked_pairs_without_offender_id(data: dict) -> None:
    """Without offender_id the folds come from the linked pairs' components: the same folds, the same model."""
    train, ptr, ytr, test, pte = data["train"], data["ptr"], data["ytr"], data["test"], data["pte"]
    with_ids = SeriesLinker("logistic").fit(train, ptr, ytr)
    without = SeriesLinker("logistic").fit(train.drop(columns="offender_id"), ptr, ytr)
    assert without.uses_chain_
    a, b = with_ids.predict_proba(test, pte), without.predict_proba(test, pte)
    assert roc_auc_score(data["yte"], b) == pytest.approx(roc_auc_score(data["yte"], a), abs=0.03)


def test_neighbourhood_cosine_leaves_the_pair_out() -> None:
    rng = np.random.default_rng(0)
    s = rng.random((12, 12))
    s = (s + s.T) / 2
    np.fill_diagonal(s, 0.0)
    pairs = np.array([[0, 1], [2, 7], [5, 11]])
    q = s**2
    want = []
    for i, j in pairs:
        a, b = q[i].copy(), q[j].copy()
        a[j] = b[i] = 0.0
        want.append(a @ b / np.linalg.norm(a) / np.linalg.norm(b))
    assert np.allclose(_nb_cos(s, pairs), want)
    assert np.allclose(
        _nb_cos(s, np.array([[i, j] for i in range(12) for j in range(i + 1, 12)]))[:11],
        _nb_cos(s, np.array([[0, j] for j in range(1, 12)])),
    )  # the matmul and the row paths agree
    assert _shared_neighbours(np.array([[0, 0.9, 0.6], [0.9, 0, 0.7], [0.6, 0.7, 0]]), 0, 1) == 1
    assert _shared_neighbours(None, 0, 1) == 0 and CHAIN_FEATURES == ("nb_cos",)


def test_linker_learns_nothing_from_shuffled_offenders(data: dict) -> None:
    """Negative control: with offender ids shuffled across cases no feature can carry the link."""
    rng = np.random.default_rng(3)
    cases = data["cases"].copy()
    cases["offender_id"] = rng.permutation(cases["offender_id"].to_numpy())
    train, test = split_by_offender(cases, 0.3, seed=1)
    ptr, ytr = sample_pairs(train, ratio=5, seed=1)
    pte, yte = sample_pairs(test, ratio=5, seed=2)
    model = SeriesLinker("logistic").fit(train, ptr, ytr)
    assert abs(roc_auc_score(yte, model.predict_proba(test, pte)) - 0.5) < 0.1


def test_suggest_series_ranks_the_series_with_evidence(data: dict, linker: SeriesLinker) -> None:
    test = data["test"]
    sizes = test.groupby("offender_id").size()
    offender = sizes[sizes >= 4].index[0]
    query = test[test["offender_id"] == offender]["case_id"].iloc[1]
    out = suggest_series(linker, test, query, top=10)
    assert len(out) == 10 and query not in {s["case_id"] for s in out}
    scores = [s["score"] for s in out]
    assert scores == sorted(scores, reverse=True)
    same = set(test[test["offender_id"] == offender]["case_id"])
    assert any(s["case_id"] in same for s in out[:5])
    for s in out:
        assert s["evidence"][0].startswith("相距 ") and s["evidence"][1].startswith("间隔 ")
        assert all(isinstance(e, str) and e for e in s["evidence"])


def test_suggest_series_evidence_wording(linker: SeriesLinker) -> None:
    cases = _hand_made()
    # C as the query's neighbour 420 m away, six days later at a similar hour, same entry method.
    cases.loc[2, ["category", "at", "text"]] = [
        "010501",
        pd.Timestamp("2024-03-10T19:20:00Z"),
        "家中防盗门被撬开，丢失金项链一条",
    ]
    out = {s["case_id"]: s for s in suggest_series(linker, cases, "A", top=5)}
    ev = out["C"]["evidence"]
    assert "相距 420 米" in ev and "间隔 6 天" in ev
    assert "作案时段相近 (凌晨2–4点)" in ev and "同为撬锁入室" in ev and "同为入室盗窃" in ev
    assert out["B"]["evidence"][0] == "相距 1.1 公里" and "均有手机被盗" in out["B"]["evidence"]
    with pytest.raises(KeyError):
        suggest_series(linker, cases, "nope")
