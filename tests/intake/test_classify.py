"""Incident-type suggester (zhihui.intake.classify): rules, suggestions, model cache, held-out floor.

The model is trained once for the module, into a temporary ZHIHUI_MODEL_DIR.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from zhihui.core import modelcache
from zhihui.intake import classify
from zhihui.intake.classify import corpus, evaluate, suggest
from zhihui.intake.classify import model as model_mod
from zhihui.intake.classify.rules import apply_rules

# Measured on the hand-written held-out set: top-level macro-F1 0.8925 (see evaluate.py). The floor
# leaves a margin for harmless changes of the phrase banks; falling below it is a real regression.
HELDOUT_MACRO_F1_FLOOR = 0.82
HELDOUT_TYPE_TOP3_FLOOR = 0.90


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, object]]:
    old = os.environ.get("ZHIHUI_MODEL_DIR")
    directory = tmp_path_factory.mktemp("models")
    os.environ["ZHIHUI_MODEL_DIR"] = str(directory)
    model_mod.reset()
    start = time.perf_counter()
    model = classify.warm()
    info: dict[str, object] = {"dir": directory, "model": model, "source": model_mod.last_source,
                               "seconds": time.perf_counter() - start}
    yield info
    model_mod.reset()
    if old is None:
        os.environ.pop("ZHIHUI_MODEL_DIR", None)
    else:
        os.environ["ZHIHUI_MODEL_DIR"] = old


def _top(text: str) -> str | None:
    return suggest(text).top_category


# --------------------------------------------------------------------------- rules
@pytest.mark.parametrize(("text", "rule"), [
    ("楼上有户人家着火了", "fire"),
    ("厨房起火了，到处冒烟", "fire"),
    ("路口两辆车追尾了", "traffic"),
    ("有人持刀砍人", "weapon"),
    ("听到有人开枪", "weapon"),
    ("有人被困在电梯里", "trapped_or_drowning"),
    ("小孩溺水了", "trapped_or_drowning"),
    ("他已经没有呼吸了", "life_danger"),
    ("地上一滩血", "life_danger"),
    ("人昏迷了", "life_danger"),
    ("有人受伤了", "injury"),
])
def test_rules_fire_on_unmistakable_cues(text: str, rule: str) -> None:
    assert rule in apply_rules(classify.normalise(text)).names()


@pytest.mark.parametrize(("text", "rule"), [
    ("追尾了，没有人受伤", "injury"),
    ("暂无人员受伤", "injury"),
    ("不是着火，是邻居在烧烤", "fire"),
    ("没有着火，只是有点焦味", "fire"),
    ("担心楼道里的电动车起火", "fire"),
    ("消防通道被堵了，万一着火怎么办", "fire"),
    ("有人故意放火烧车", "fire"),  # arson is a crime (01), not a 火灾 to force
    ("对方没有持刀", "weapon"),
    ("血压有点高", "life_danger"),
    ("差点追尾", "traffic"),
])
def test_rules_do_not_fire_on_negation_or_hedge(text: str, rule: str) -> None:
    assert rule not in apply_rules(classify.normalise(text)).names()


def test_rules_raise_urgency_and_level(trained: dict[str, object]) -> None:
    s = suggest("他拿着刀在街上砍人，好多血")
    assert s.urgent and s.level == 1
    assert {"weapon", "life_danger"} <= {f.name for f in s.rules_fired}
    assert all(f.why and f.cue for f in s.rules_fired)
    fire = suggest("我家对面那栋楼着火了")
    assert fire.top_category == "05" and fire.urgent
    assert "fire" in [f.name for f in fire.rules_fired]


# --------------------------------------------------------------------------- suggestions
@pytest.mark.parametrize(("text", "top", "type_code"), [
    ("快来，我家厨房着火了，烟很大", "05", "0501"),
    ("十字路口两辆车撞了，有个人躺在地上", "04", "0401"),
    ("我家被人撬了，值钱的东西都没了", "01", "0105"),
    ("我的电动车昨晚被偷了", "01", "0105"),
    ("烧烤摊有一伙人在打架，酒瓶子都砸了", "02", "0201"),
    ("我女儿在商场走丢了，五岁", "06", "0601"),
    ("有人冒充公安打电话让我转账", "01", "0106"),
])
def test_obvious_cases(trained: dict[str, object], text: str, top: str, type_code: str) -> None:
    s = suggest(text)
    assert s.top_category == top
    assert s.candidates[0].code == type_code


def test_shop_noise_is_non_police(trained: dict[str, object]) -> None:
    s = suggest("楼下的服装店天天开着大喇叭放促销广告，吵死了")
    assert s.top_category == "02"
    assert s.candidates[0].code == "0208"
    assert not s.police and s.non_police_probability > 0.5
    assert suggest("有人拿刀抢劫").police


def test_traditional_gives_same_top_category(trained: dict[str, object]) -> None:
    pairs = [
        ("我家楼下有辆车着火了", "我家樓下有輛車著火了"),
        ("有人在网上骗了我三万块钱", "有人在網上騙了我三萬塊錢"),
        ("我儿子走丢了，找不到人", "我兒子走丟了，找不到人"),
        ("邻居家半夜唱歌太吵了", "鄰居家半夜唱歌太吵了"),
    ]
    for simplified, traditional in pairs:
        assert _top(simplified) == _top(traditional)
        assert classify.normalise(traditional) == classify.normalise(simplified)


def test_topk_sorted_and_probabilities_sum_at_most_one(trained: dict[str, object]) -> None:
    for text in ("有人打架", "着火了", "我想问一下怎么办身份证", "停水了", "喂"):
        for k in (1, 3, 5):
            s = suggest(text, k=k)
            probs = [c.probability for c in s.candidates]
            assert len(probs) == k
            assert probs == sorted(probs, reverse=True)
            assert sum(probs) <= 1.0 + 1e-6
            assert all(0.0 <= p <= 1.0 for p in probs)
            assert 0.0 <= s.top_probability <= 1.0
            assert s.candidates[0].label.endswith(s.candidates[0].name)
            assert s.level in (1, 2, 3)


@pytest.mark.parametrize("text", [
    "", "   ", "😀😀😀🔥", "？！。", "中" * 2000, "着火了" * 700, "hello there", "Fire at my home",
    "my car was hit, 车被撞了", "12345", "\x00\x01\u200b", "ｈｅｌｐ　ｍｅ",
])
def test_bad_input_does_not_crash(trained: dict[str, object], text: str) -> None:
    s = suggest(text)
    json.dumps(s.as_dict(), ensure_ascii=False)
    if not classify.normalise(text).strip("？！。 \u200b"):
        assert s.candidates == [] and s.top_category is None and not s.confident


def test_emoji_only_has_no_candidates(trained: dict[str, object]) -> None:
    assert suggest("😀😀😀").candidates == []
    assert suggest("").candidates == []


def test_suggestion_as_dict(trained: dict[str, object]) -> None:
    d = suggest("有人持刀抢劫便利店").as_dict()
    assert set(d) >= {"candidates", "top_category", "top_probability", "level", "urgent", "police",
                      "non_police_probability", "rules_fired", "confident"}
    assert d["candidates"][0]["label"].startswith("刑事/")
    assert d["rules_fired"][0]["name"] == "weapon"


def test_demo_descriptions_are_handled(trained: dict[str, object]) -> None:
    res = evaluate.demo_accuracy(trained["model"], n=150)  # type: ignore[arg-type]
    assert res["category_accuracy"] >= 0.9


# --------------------------------------------------------------------------- corpus
def test_corpus_is_deterministic_and_labelled() -> None:
    a = corpus.generate(seed=5, per_label=6)
    b = corpus.generate(seed=5, per_label=6)
    assert a == b
    assert corpus.generate(seed=6, per_label=6) != a
    from zhihui.incidents.categories import categories

    tree = categories()
    assert all(e.label in tree for e in a)
    types = {c for c in tree.nodes if len(c) == 4}
    assert {e.label[:4] for e in a} == types


# --------------------------------------------------------------------------- cache
def test_cache_written_and_reused(trained: dict[str, object]) -> None:
    directory: Path = trained["dir"]  # type: ignore[assignment]
    assert trained["source"] == "trained"
    path = model_mod.cache_path()
    assert path.parent == directory and path.exists()
    assert not list(directory.glob("*.tmp"))
    model_mod.reset()
    start = time.perf_counter()
    model = classify.warm()
    seconds = time.perf_counter() - start
    assert model_mod.last_source == "cache"
    assert seconds < float(trained["seconds"])  # type: ignore[arg-type]
    assert model.key == model_mod.cache_key()
    classify.warm()
    assert model_mod.last_source == "memory"


def test_mismatched_cache_is_never_unpickled(trained: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> None:
    path = model_mod.cache_path()
    blob = path.read_bytes()

    def refuse(*_: object, **__: object) -> object:
        raise AssertionError("unpickled a file whose key does not match")

    monkeypatch.setattr(modelcache.pickle, "loads", refuse)
    # A file for another key (other phrases / sklearn version) is not trusted.
    assert model_mod._read_cached(path, "0" * 64) is None
    # Same key but a payload that does not match its digest (corruption) is not trusted either.
    lines = blob.split(b"\n", 3)
    tampered = path.with_name("tampered.pkl")
    tampered.write_bytes(b"\n".join(lines[:3]) + b"\n" + lines[3][:-10] + b"0123456789")
    assert model_mod._read_cached(tampered, model_mod.cache_key()) is None
    tampered.write_bytes(b"not a model at all")
    assert model_mod._read_cached(tampered, model_mod.cache_key()) is None


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # the tiny corpus below
def test_corrupted_cache_is_retrained(trained: dict[str, object], monkeypatch: pytest.MonkeyPatch) -> None:
    path = model_mod.cache_path()
    good = path.read_bytes()
    path.write_bytes(good[: len(good) // 2])  # a half-written / damaged file
    stale = path.parent / "classify-00000000000000000000.pkl"  # left by an older version: pruned on write
    stale.write_bytes(b"old")
    real_train = model_mod.train
    small = corpus.generate(per_label=12)  # keep the retraining in this test quick
    monkeypatch.setattr(model_mod, "train", lambda key="", **_: real_train(small, key=key))
    try:
        model_mod.reset()
        classify.warm()
        assert model_mod.last_source == "trained"
        assert model_mod._read_cached(path, model_mod.cache_key()) is not None  # rewritten, valid
        assert not stale.exists()
    finally:
        path.write_bytes(good)
        model_mod.reset()
        classify.warm()
    assert model_mod.last_source == "cache"


# --------------------------------------------------------------------------- quality floor
def test_heldout_quality_floor(trained: dict[str, object]) -> None:
    items = evaluate.load_heldout()
    assert len(items) >= 300
    res = evaluate.score([i["t"] for i in items], [i["c"] for i in items], [i.get("sub", i["c"]) for i in items],
                         classify.warm())
    assert res["macro_f1"] >= HELDOUT_MACRO_F1_FLOOR, res["per_category"]
    assert res["type_top3"] >= HELDOUT_TYPE_TOP3_FLOOR
    assert all(v["support"] >= 15 for v in res["per_category"].values())
    assert res["non_police"]["precision"] >= 0.8 and res["non_police"]["recall"] >= 0.6


