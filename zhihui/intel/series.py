"""串并案 (case-series linking): which solved or open cases were probably committed by the same offender.

The method is the pairwise one of the crime-linkage literature (Porter 2016, "A statistical approach
to crime linkage"; R package crimelinkage): for a pair of cases compute how alike they are — distance,
time gap, time-of-day and day-of-week similarity, category, MO agreement (premises, entry method,
property taken, tools) and description similarity — and let a classifier trained on pairs of *solved*
cases (linked = same offender, unlinked = different offenders) score new pairs.

* `mo_tags` reads the MO from the Chinese description with a rule lexicon (jieba only for the short
  words that a substring match gets wrong: 包 in 包括, 表 in 表示), so it works on real 警情 text as well
  as on the simulator's; a real incident has no structured MO fields.
* `pair_features` takes the MO from the text by default (``mo="text"``); ``mo="fields"`` uses the
  generator's structured columns instead (an upper reference: perfect extraction).
* Pairs are sampled as in the literature (`sample_pairs`): all linked pairs, and `ratio` (default 10)
  unlinked pairs per linked one drawn uniformly from pairs of cases of different offenders. Train and
  test are split by offender (`split_by_offender`), so no offender's habits are seen in both.
* `SeriesLinker` chooses between gradient boosting and a spline logistic regression on a
  validation split *by offender inside the training data* (never on the test pairs).

A score is a probability under the training pairs' 1 : `ratio` mix, not the real prevalence of links;
use it to rank candidates (`suggest_series`), not as a calibrated chance.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, SplineTransformer, StandardScaler
from threadpoolctl import threadpool_limits

from zhihui.intake.text.normalise import normalise

__all__ = [
    "FEATURES",
    "SeriesLinker",
    "mo_tags",
    "pair_features",
    "sample_pairs",
    "split_by_offender",
    "suggest_series",
]

LOCAL_TZ = "Asia/Shanghai"
FEATURES = (
    "dist_m", "gap_days", "tod_diff_h", "dow_match", "weekend_match", "cat_match", "cat_group_match",
    "premises_match", "entry_jaccard", "target_jaccard", "tool_jaccard", "text_cos",
)
_CONTINUOUS = ("dist_m", "gap_days", "tod_diff_h", "text_cos")

# MO lexicon ----------------------------------------------------------------------------------------------

_ROBBERY = re.compile(r"抢劫|抢走|抢夺|夺走|飞车|持刀|拿刀|持械|拦路")
_CAR = re.compile(r"小汽车|轿车|私家车|小车|汽车|越野车|面包车|车窗|车门|后备箱|副驾|驾驶室|车内")
_EBIKE = re.compile(r"电动车|电瓶车|电单车|电摩|电动自行车")
_PREMISES_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("写字楼", re.compile(r"写字楼|办公室|办公楼|公司|大厦.{0,6}[楼层座]")),
    ("商铺", re.compile(r"店铺|商铺|店内|门店|超市|便利店|档口|商店|士多|铺面|收银|卷闸门|烟酒店|(?<![酒饭])店(?!主)")),
    ("出租屋", re.compile(r"出租屋|出租房|城中村|农民房|握手楼|村\d+巷|宿舍")),
    ("住宅", re.compile(r"家中|家里|住宅|住处|住所|屋内|室内|房间|民宅|\d+室|\d+房|单元|家门|入户|入室|卧室|客厅"
                        r"|阳台")),
)
_EBIKE_PREMISES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("车棚", re.compile(r"车棚|充电棚|充电桩|停车棚")),
    ("楼道", re.compile(r"楼道|楼梯|走廊|过道|电梯")),
    ("车库", re.compile(r"车库|停车场")),
    ("路边", re.compile(r"路边|路旁|街边|门口|路口|人行道|路\d+号")),
)
_NO_FORCE = re.compile(r"(无|没有|未见|未发现|没发现|未有)(明显)?(的)?(撬压?|破坏)(痕迹|痕)|门锁完好|门窗完好|锁具完好")
_ENTRY_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("撬锁", re.compile(r"撬.{0,4}[锁门]|[锁门].{0,4}撬|撬压|撬痕|撬坏")),
    ("技术开锁", re.compile(r"技术开锁|锡纸|万能钥匙|锁芯(?!.{0,3}撬)|插片|用工具开锁|开锁工具|工具开锁|⊘")),
    ("攀爬阳台", re.compile(r"(攀爬|攀|爬|翻越|翻).{0,6}(阳台|水管|管道|外墙)"
                            r"|(阳台|水管|管道|外墙).{0,6}(攀|爬|进入|入室)")),
    ("翻窗", re.compile(r"翻窗|钻窗|爬窗|撬窗|窗户?.{0,6}(翻|爬|钻)[入进]|(翻|爬|钻)[入进]?.{0,2}窗|防盗网|推开窗")),
    ("破窗", re.compile(r"破窗|砸.{0,4}玻璃|玻璃.{0,4}(砸|打碎|打破|碎)|打碎.{0,2}玻璃")),
    ("尾随入室", re.compile(r"尾随|跟随.{0,6}进入|趁.{0,8}开门")),
    ("未锁门", re.compile(r"(未|没|没有|忘记|忘了|忘)(上)?[锁关](?![系注心联])|虚掩")),
)
_EBIKE_ENTRY: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("剪锁", re.compile(r"剪.{0,4}锁|锁.{0,4}剪")),
    ("短接", re.compile(r"短接|搭线|拔线|打火|飞线|电源线|电门锁")),
    ("解码", re.compile(r"解码|智能锁被")),
    ("未上锁", re.compile(r"(未|没|没有|忘记|忘了|忘)(上)?锁|钥匙.{0,6}(未拔|没拔|忘)|忘.{0,2}拔钥匙")),
)
_CAR_ENTRY: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("砸车窗", re.compile(r"(砸|破|打碎).{0,4}(车窗|玻璃)|(车窗|玻璃).{0,6}(砸|碎|破)")),
    ("干扰遥控", re.compile(r"干扰|屏蔽|信号")),
    ("撬车门", re.compile(r"撬")),
    ("车门未锁", re.compile(r"(未|没|没有|忘记|忘了|忘)(上)?锁|车门未关|没关车门")),
)
_ROBBERY_ENTRY: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("持刀抢劫", re.compile(r"持刀|拿刀|匕首|水果刀|刀.{0,4}(威胁|逼)|持械|持.{0,2}[刀棍枪]")),
    ("飞车抢夺", re.compile(r"飞车|骑.{0,8}(摩托|电动车|电瓶车|车).{0,12}(抢|夺)")),
    ("徒步抢夺", re.compile(r"从身后|从背后|趁.{0,4}不备|一把(抢|夺|扯)|抢.{0,6}(就跑|后逃跑)|徒步|扯断")),
)
# "手机店", "烟酒行": a shop's trade is not what was taken from it.
_TRADE = re.compile(r"(手机|烟酒|名烟名酒|首饰|黄金|珠宝|电脑|数码|电动车|电瓶车|钟表|手表|箱包)"
                    r"(店|行|铺|专卖|维修|城)")
_TARGET_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("现金", re.compile(r"现金|现钞|人民币|零钱|纸币|营业款|\d+元现金")),
    ("手机", re.compile(r"手机|iphone|苹果\d")),
    ("首饰", re.compile(r"首饰|项链|手镯|手链|戒指|耳环|黄金|金饰|金器|玉镯|金条|金链")),
    ("电脑", re.compile(r"电脑|笔记本(?!子)|平板|ipad|macbook")),
    ("名烟名酒", re.compile(r"香烟|烟酒|名烟|名酒|茅台|五粮液|洋酒|白酒|中华烟|[\d十几]+余?条烟")),
    ("手表", re.compile(r"手表|名表|腕表|劳力士")),
    ("电瓶", re.compile(r"电瓶(?!车)|电池")),
    ("自行车", re.compile(r"自行车|单车(?<!电单车)")),
)
_BAG_TOKENS = frozenset(
    {"包", "背包", "手提包", "挎包", "皮包", "钱包", "公文包", "书包", "包包", "双肩包", "单肩包", "女包"})
_WATCH_TOKENS = frozenset({"表", "手表", "名表"})
_TOOL_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("螺丝刀", re.compile(r"螺丝刀|起子|改锥")),
    ("撬棍", re.compile(r"撬棍|撬杠|撬棒|铁棍")),
    ("锡纸", re.compile(r"锡纸")),
    ("万能钥匙", re.compile(r"万能钥匙")),
    ("锤子", re.compile(r"锤|破窗器")),
    ("液压钳", re.compile(r"液压钳|断线钳|大力钳|老虎钳|钢筋钳")),
    ("解码器", re.compile(r"解码器|干扰器|屏蔽器")),
    ("刀具", re.compile(r"(?<!螺丝)(?<!剪)刀(?!片)|匕首")),
    ("手套", re.compile(r"手套")),
)
_PERIOD_WORDS = {
    "凌晨": "凌晨", "半夜": "凌晨", "深夜": "凌晨", "夜里": "凌晨", "早上": "早上", "清晨": "早上", "早晨": "早上",
    "上午": "上午", "中午": "中午", "下午": "下午", "傍晚": "傍晚", "晚上": "晚上", "夜间": "晚上", "当晚": "晚上",
    "晚间": "晚上", "今晚": "晚上", "昨晚": "晚上", "昨夜": "晚上", "白天": "白天", "今早": "早上",
}
_PERIOD_RE = re.compile("|".join(_PERIOD_WORDS))
_HOUR_RE = re.compile(r"(\d{1,2})\s*[时点:]")
_BURGLARY_PREMISES = frozenset({"住宅", "出租屋", "商铺", "写字楼"})
_ROBBERY_CODES = {"持刀抢劫": "010304", "飞车抢夺": "010401", "徒步抢夺": "010402"}


def _period(hour: int) -> str:
    for lim, name in ((6, "凌晨"), (9, "早上"), (12, "上午"), (14, "中午"), (18, "下午"), (20, "傍晚"), (24, "晚上")):
        if hour % 24 < lim:
            return name
    return "晚上"


@functools.cache
def _tokenizer() -> Any:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tok = jieba.Tokenizer()  # a private instance: the words added here must not change other modules' cuts
    for w in (*_BAG_TOKENS, *_WATCH_TOKENS, "技术开锁", "万能钥匙", "液压钳", "电瓶车", "电动车", "车棚", "螺丝刀"):
        tok.add_word(w, freq=200_000)
    return tok


def _matches(rules: Sequence[tuple[str, re.Pattern[str]]], text: str) -> set[str]:
    return {name for name, rx in rules if rx.search(text)}


def _stolen_ebike(text: str) -> bool:
    """An 电动车 that was itself taken: not the offender's ride (骑电动车…抢走) nor the bike a battery came off."""
    for m in _EBIKE.finditer(text):
        before, after = text[max(0, m.start() - 3): m.start()], text[m.end(): m.end() + 3]
        if "骑" in before or re.match(r"上|的电瓶|电瓶|电池|的电池", after):
            continue
        return True
    return False


@functools.lru_cache(maxsize=100_000)
def _tags(text: str) -> tuple[str, frozenset[str], frozenset[str], frozenset[str], str, str]:
    t = normalise(text or "").text.lower()
    robbery = bool(_ROBBERY.search(t))
    car = not robbery and bool(_CAR.search(t))
    ebike_theft = not robbery and not car and bool(_EBIKE.search(t)) and (
        _stolen_ebike(t) or bool(re.search(r"电瓶(?!车)|电池", t)))
    if robbery:
        premises = "巷道" if re.search(r"巷", t) else "路边"
        entry = _matches(_ROBBERY_ENTRY, t)
    elif car:
        premises = "车辆"
        entry = _matches(_CAR_ENTRY, t)
    elif ebike_theft:
        premises = next((name for name, rx in _EBIKE_PREMISES if rx.search(t)), "")
        entry = _matches(_EBIKE_ENTRY, t)
    else:
        premises = next((name for name, rx in _PREMISES_RULES if rx.search(t)), "")
        marked = _NO_FORCE.sub("⊘", t)  # "无撬痕" is no 撬锁: it hints 技术开锁 …
        entry = _matches(_ENTRY_RULES, marked)
        if "未锁门" in entry and not _matches(_ENTRY_RULES[1:2], marked.replace("⊘", "")):
            entry.discard("技术开锁")  # … unless the door was simply not locked
    tt = _TRADE.sub("某店", t)
    targets = _matches(_TARGET_RULES, tt)
    if "包" in tt or "表" in tt:  # a substring match would take 包括 for a bag and 表示 for a watch
        tokens = set(_tokenizer().lcut(tt))
        if tokens & _BAG_TOKENS:
            targets.add("包")
        if tokens & _WATCH_TOKENS:
            targets.add("手表")
    if not robbery and not car and _stolen_ebike(tt):
        targets.add("电动车")
    tools = _matches(_TOOL_RULES, t)
    m = _PERIOD_RE.search(t)
    h = _HOUR_RE.search(t)
    if m:
        time_hint = _PERIOD_WORDS[m.group(0)]
    elif h and int(h.group(1)) < 24:
        time_hint = _period(int(h.group(1)))
    else:
        time_hint = ""
    if robbery:
        # No stated method: 抢劫 is a robbery (拦路抢劫 on the street), a bare 抢走 / 抢夺 a snatch.
        method = next((e for e in ("持刀抢劫", "飞车抢夺", "徒步抢夺") if e in entry), "")
        category = _ROBBERY_CODES[method] if method else ("010304" if "抢劫" in t else "010402")
    elif car:
        category = "010506"
    elif ebike_theft:
        category = "010504"
    elif premises in _BURGLARY_PREMISES:
        category = "010501"
    else:
        category = ""
    return premises, frozenset(entry), frozenset(targets), frozenset(tools), time_hint, category


def mo_tags(text: str) -> dict[str, str | set[str]]:
    """MO attributes read from a Chinese incident description by rule (works on real 警情 text).

    Returns premises ('住宅', '出租屋', '商铺', '写字楼', '车辆', '车棚', '楼道', '车库', '路边', '巷道' or ''),
    entry (set: '撬锁', '技术开锁', '攀爬阳台', '翻窗', '破窗', '尾随入室', '未锁门'; for 电动车 '剪锁', '短接', '解码',
    '未上锁'; for cars '砸车窗', '干扰遥控', '撬车门', '车门未锁'; for 两抢 '持刀抢劫', '飞车抢夺', '徒步抢夺'),
    targets (set), tools (set), time_hint (凌晨/早上/上午/中午/下午/傍晚/晚上/白天 or '') and category (the
    code the text suggests — 010501, 010504, 010506, 010304, 010401, 010402 — or '').
    "无明显撬痕" / "门锁完好" count as no forced entry (they suggest 技术开锁), never as 撬锁.
    """
    premises, entry, targets, tools, time_hint, category = _tags(text)
    return {"premises": premises, "entry": set(entry), "targets": set(targets), "tools": set(tools),
            "time_hint": time_hint, "category": category}


# Pair features ---------------------------------------------------------------------------------------------


def _bits(sets: Sequence[frozenset[str] | set[str]]) -> np.ndarray:
    vocab: dict[str, int] = {}
    out = np.zeros(len(sets), dtype=np.uint64)
    for i, s in enumerate(sets):
        v = 0
        for item in s:
            v |= 1 << vocab.setdefault(item, len(vocab))
        out[i] = v
    if len(vocab) > 64:
        raise ValueError("more than 64 distinct MO values in one attribute")
    return out


def _jaccard(bits: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    a, b = bits[i], bits[j]
    union = np.bitwise_count(a | b).astype(float)
    inter = np.bitwise_count(a & b).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = inter / union
    out[(a == 0) | (b == 0)] = np.nan  # unknown on either side: no evidence either way
    return out


def _split(v: Any) -> frozenset[str]:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return frozenset()
    if isinstance(v, set | frozenset | list | tuple):
        return frozenset(str(x) for x in v if x)
    return frozenset(x for x in re.split(r"[、,;|]", str(v)) if x)


def _mo_columns(cases: pd.DataFrame, mo: str) -> tuple[np.ndarray, list[frozenset[str]], list[frozenset[str]],
                                                       list[frozenset[str]]]:
    if mo == "fields":
        premises = cases["premises"].fillna("").astype(str).to_numpy()
        return (premises, [_split(v) for v in cases["entry"]], [_split(v) for v in cases["targets"]],
                [_split(v) for v in cases["tool"]])
    if mo != "text":
        raise ValueError("mo must be 'text' or 'fields'")
    tags = [_tags(str(t)) for t in cases["text"].fillna("")]
    return (np.array([t[0] for t in tags], dtype=object), [t[1] for t in tags], [t[2] for t in tags],
            [t[3] for t in tags])


def _text_matrix(texts: pd.Series) -> Any:
    # Digits (dates, amounts, room numbers) are noise for "how alike is the story": one symbol for all.
    clean = [re.sub(r"\d+", "#", normalise(str(t)).text) for t in texts.fillna("")]
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3), sublinear_tf=True, min_df=1)
    return vec.fit_transform(clean)


def _haversine_m(lat1: np.ndarray, lon1: np.ndarray, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * 6371008.8 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def pair_features(cases: pd.DataFrame, pairs: np.ndarray, *, mo: str = "text") -> pd.DataFrame:
    """Similarity features of case pairs, one row per pair (columns `FEATURES`).

    cases: category, at (UTC; tz-aware or naive UTC), lat, lon, text (and, for ``mo="fields"``, premises,
    entry, targets, tool). pairs: (n, 2) integer *row positions* into `cases`.
    dist_m (great-circle metres), gap_days (|Δt|), tod_diff_h (circular local time-of-day difference,
    0–12 h), dow_match / weekend_match (same local weekday / both or neither on a weekend), cat_match (same
    code), cat_group_match (same 4-digit 类型), premises_match (1/0), entry_jaccard, target_jaccard,
    tool_jaccard (Jaccard of the sets), text_cos (TF-IDF character 2–3-gram cosine, IDF from `cases`).
    MO values unknown on either side give NaN, not 0: absence from a description is not disagreement.
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    i, j = pairs[:, 0], pairs[:, 1]
    at = pd.to_datetime(cases["at"], utc=True)
    secs = (at - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds().to_numpy()
    local = at.dt.tz_convert(LOCAL_TZ)
    hour = (local.dt.hour + local.dt.minute / 60.0 + local.dt.second / 3600.0).to_numpy()
    dow = local.dt.dayofweek.to_numpy()
    lat, lon = cases["lat"].to_numpy(float), cases["lon"].to_numpy(float)
    cat = cases["category"].fillna("").astype(str).to_numpy()
    premises, entry, targets, tools = _mo_columns(cases, mo)
    d = np.abs(hour[i] - hour[j])
    out = {
        "dist_m": _haversine_m(lat[i], lon[i], lat[j], lon[j]),
        "gap_days": np.abs(secs[i] - secs[j]) / 86_400.0,
        "tod_diff_h": np.minimum(d, 24.0 - d),
        "dow_match": (dow[i] == dow[j]).astype(float),
        "weekend_match": ((dow[i] >= 5) == (dow[j] >= 5)).astype(float),
        "cat_match": (cat[i] == cat[j]).astype(float),
        "cat_group_match": (np.array([a[:4] for a in cat[i]]) == np.array([b[:4] for b in cat[j]])).astype(float)
        if len(i) else np.zeros(0),
    }
    pm = (premises[i] == premises[j]).astype(float)
    pm[(premises[i] == "") | (premises[j] == "")] = np.nan
    out["premises_match"] = pm
    out["entry_jaccard"] = _jaccard(_bits(entry), i, j)
    out["target_jaccard"] = _jaccard(_bits(targets), i, j)
    out["tool_jaccard"] = _jaccard(_bits(tools), i, j)
    if "text" in cases and len(cases):
        x = _text_matrix(cases["text"])
        out["text_cos"] = np.asarray(x[i].multiply(x[j]).sum(axis=1)).ravel()
    else:
        out["text_cos"] = np.full(len(i), np.nan)
    return pd.DataFrame(out, columns=list(FEATURES))


# Pair sampling ---------------------------------------------------------------------------------------------


def split_by_offender(cases: pd.DataFrame, test_share: float = 0.3, seed: int = 0) -> tuple[pd.DataFrame,
                                                                                             pd.DataFrame]:
    """(train, test) cases, split by offender: no offender has cases on both sides. Index reset."""
    offenders = np.array(sorted(cases["offender_id"].unique()))
    rng = np.random.default_rng(seed)
    test = set(rng.choice(offenders, size=round(test_share * len(offenders)), replace=False).tolist())
    mask = cases["offender_id"].isin(test).to_numpy()
    return cases[~mask].reset_index(drop=True), cases[mask].reset_index(drop=True)


def sample_pairs(cases: pd.DataFrame, *, ratio: float = 10.0, seed: int = 0,
                 max_linked_per_offender: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(pairs, y) over the row positions of `cases`: every linked pair (same offender_id; optionally at most
    `max_linked_per_offender` of them, sampled), then round(`ratio` × linked) distinct unlinked pairs drawn
    uniformly from pairs of cases of different offenders. Each pair is (i, j) with i < j."""
    rng = np.random.default_rng(seed)
    off = cases["offender_id"].to_numpy()
    linked: list[np.ndarray] = []
    for _, idx in pd.Series(np.arange(len(cases))).groupby(off, sort=True):
        pos = idx.to_numpy()
        if len(pos) < 2:
            continue
        a, b = np.triu_indices(len(pos), k=1)
        p = np.stack([pos[a], pos[b]], axis=1)
        if max_linked_per_offender is not None and len(p) > max_linked_per_offender:
            p = p[rng.choice(len(p), size=max_linked_per_offender, replace=False)]
        linked.append(p)
    lp = np.concatenate(linked) if linked else np.zeros((0, 2), dtype=np.int64)
    n_un = round(ratio * len(lp))
    seen: set[tuple[int, int]] = set()
    n = len(cases)
    max_un = n * (n - 1) // 2 - len(lp)
    n_un = min(n_un, max_un)
    while len(seen) < n_un:
        k = max(64, 2 * (n_un - len(seen)))
        a, b = rng.integers(0, n, size=k), rng.integers(0, n, size=k)
        for x, y in zip(np.minimum(a, b).tolist(), np.maximum(a, b).tolist(), strict=True):
            if x != y and off[x] != off[y] and (x, y) not in seen:
                seen.add((x, y))
                if len(seen) >= n_un:
                    break
    up = np.array(sorted(seen), dtype=np.int64).reshape(-1, 2)
    pairs = np.concatenate([lp.astype(np.int64), up])
    y = np.concatenate([np.ones(len(lp), dtype=int), np.zeros(len(up), dtype=int)])
    return pairs, y


# The linker ------------------------------------------------------------------------------------------------


def _gbm(random_state: int) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(learning_rate=0.05, max_iter=300, max_leaf_nodes=15, min_samples_leaf=40,
                                          l2_regularization=1.0, random_state=random_state)


def _logistic(features: Sequence[str]) -> Pipeline:
    cont = [f for f in features if f in _CONTINUOUS]
    other = [f for f in features if f not in _CONTINUOUS]

    def log_scale(x: np.ndarray) -> np.ndarray:
        # Distance and gap matter on a log scale (100 m vs 1 km, 1 day vs 10); the others are bounded.
        x = np.array(x, dtype=float)
        for k, f in enumerate(cont):
            if f in ("dist_m", "gap_days"):
                x[:, k] = np.log1p(np.maximum(x[:, k], 0.0))
        return x

    cont_pipe = make_pipeline(SimpleImputer(strategy="median"), FunctionTransformer(log_scale),
                              SplineTransformer(n_knots=6, degree=3))
    other_pipe = SimpleImputer(strategy="constant", fill_value=0.0, add_indicator=True, keep_empty_features=True)
    pre = ColumnTransformer([("cont", cont_pipe, cont), ("other", other_pipe, other)])
    return Pipeline([("pre", pre), ("scale", StandardScaler()), ("lr", LogisticRegression(C=1.0, max_iter=3000))])


class SeriesLinker:
    """Scores case pairs: P(same offender) under the training mix of linked and unlinked pairs.

    model: 'gbm' (histogram gradient boosting; NaN handled natively), 'logistic' (logistic regression on
    cubic B-splines of log distance, log gap, time-of-day difference and text similarity, plus the matches
    and Jaccards with missing indicators) or 'auto' (whichever has the higher AUC on a validation split *by
    offender* of the training cases; needs cases.offender_id, else a random split of the pairs).
    mo: where the MO comes from, 'text' (`mo_tags`) or 'fields' (see `pair_features`).
    features: a subset of `FEATURES` (e.g. only distance) for baselines.
    threads: OpenMP/BLAS threads while fitting and scoring (default 1: the pair sets are small, and on a
    shared machine OpenMP's spinning threads made boosting ~10× slower, not faster). None = library default.
    After `fit`: `chosen_` (the model used) and `validation_auc_` ({model: AUC}, 'auto' only).
    """

    def __init__(self, model: str = "auto", *, mo: str = "text", features: Sequence[str] | None = None,
                 val_share: float = 0.25, random_state: int = 0, threads: int | None = 1) -> None:
        if model not in ("auto", "gbm", "logistic"):
            raise ValueError("model must be 'auto', 'gbm' or 'logistic'")
        self.model = model
        self.mo = mo
        self.features = tuple(features or FEATURES)
        unknown = set(self.features) - set(FEATURES)
        if unknown:
            raise ValueError(f"unknown features {sorted(unknown)}")
        self.val_share = val_share
        self.random_state = random_state
        self.threads = threads
        self.chosen_: str | None = None
        self.validation_auc_: dict[str, float] = {}
        self._est: Any = None

    def _make(self, name: str) -> Any:
        return _gbm(self.random_state) if name == "gbm" else _logistic(self.features)

    def features_of(self, cases: pd.DataFrame, pairs: np.ndarray) -> pd.DataFrame:
        return pair_features(cases, pairs, mo=self.mo)[list(self.features)]

    def fit(self, cases: pd.DataFrame, pairs: np.ndarray, y: np.ndarray) -> SeriesLinker:
        """Fit on pairs (row positions into `cases`) of solved cases with labels y (1 = same offender)."""
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        x = self.features_of(cases, pairs)
        with threadpool_limits(limits=self.threads):
            return self._fit(cases, pairs, x, np.asarray(y, dtype=int))

    def _fit(self, cases: pd.DataFrame, pairs: np.ndarray, x: pd.DataFrame, y: np.ndarray) -> SeriesLinker:
        name = self.model
        if name == "auto":
            rng = np.random.default_rng(self.random_state)
            if "offender_id" in cases:
                off = cases["offender_id"].to_numpy()
                ids = np.array(sorted(set(off.tolist())))
                val = set(rng.choice(ids, size=max(1, round(self.val_share * len(ids))), replace=False).tolist())
                in_val = np.array([v in val for v in off])
                vi, vj = in_val[pairs[:, 0]], in_val[pairs[:, 1]]
                fit_m, val_m = ~vi & ~vj, vi & vj  # pairs across the split are left out of the choice
            else:
                val_m = rng.random(len(y)) < self.val_share
                fit_m = ~val_m
            for cand in ("gbm", "logistic"):
                est = self._make(cand).fit(x[fit_m], y[fit_m])
                yv = y[val_m]
                self.validation_auc_[cand] = (float(roc_auc_score(yv, est.predict_proba(x[val_m])[:, 1]))
                                              if 0 < yv.sum() < len(yv) else float("nan"))
            name = max(("gbm", "logistic"), key=lambda c: np.nan_to_num(self.validation_auc_[c], nan=-1.0))
        self.chosen_ = name
        self._est = self._make(name).fit(x, y)
        return self

    def predict_proba_features(self, x: pd.DataFrame) -> np.ndarray:
        if self._est is None:
            raise RuntimeError("SeriesLinker is not fitted")
        with threadpool_limits(limits=self.threads):
            return self._est.predict_proba(x[list(self.features)])[:, 1]

    def predict_proba(self, cases: pd.DataFrame, pairs: np.ndarray) -> np.ndarray:
        """Score of each pair (row positions into `cases`): higher = more likely the same offender."""
        return self.predict_proba_features(self.features_of(cases, pairs))


# Suggestions with evidence ----------------------------------------------------------------------------------

_WEEKDAYS = "一二三四五六日"
_INTRUSION = frozenset({"撬锁", "技术开锁", "攀爬阳台", "翻窗", "破窗", "未锁门"})


def _category_name(code: str) -> str:
    try:
        from zhihui.incidents.categories import categories

        c = categories().get(code)
        return c.name if c else code
    except Exception:  # pragma: no cover - the tree ships with the package
        return code


def _tod_words(h1: float, h2: float) -> str:
    lo, hi = sorted((h1, h2))
    if hi - lo > 12:  # across midnight: 23:10 and 01:20 → 23–2点
        lo, hi = hi, lo + 24
    a, b = int(lo), math.floor(hi) + 1
    return f"{_period(a)}{a % 24}–{b % 24 if b % 24 else 24}点"


def _distance_words(d: float) -> str:
    return f"相距 {round(d, -1):.0f} 米" if d < 1000 else f"相距 {d / 1000:.1f} 公里"


def _gap_words(g: float) -> str:
    return f"间隔 {max(1, round(g * 24))} 小时" if g < 1 else f"间隔 {round(g)} 天"


def _evidence(row: pd.Series, a: pd.Series, b: pd.Series, tags_a: tuple, tags_b: tuple, hours: tuple[float, float],
              dow: int) -> list[str]:
    ev = [_distance_words(float(row["dist_m"])), _gap_words(float(row["gap_days"]))]
    if row["tod_diff_h"] <= 2.0:
        ev.append(f"作案时段相近 ({_tod_words(*hours)})")
    if row["dow_match"] == 1:
        ev.append(f"同为周{_WEEKDAYS[dow]}")
    if row["cat_match"] == 1:
        ev.append(f"同为{_category_name(str(a['category']))}")
    entry = sorted(tags_a[1] & tags_b[1])
    if entry:
        ev.append("同为" + "、".join(f"{e}入室" if e in _INTRUSION else e for e in entry))
    if tags_a[0] and tags_a[0] == tags_b[0]:
        ev.append(f"均发生在{tags_a[0]}")
    targets = sorted(tags_a[2] & tags_b[2])
    if targets:
        verb = "被抢" if str(a["category"]).startswith(("0103", "0104")) else "被盗"
        ev.append(f"均有{'、'.join(targets)}{verb}")
    tools = sorted(tags_a[3] & tags_b[3])
    if tools:
        ev.append(f"均使用{'、'.join(tools)}")
    if row["text_cos"] >= 0.5:
        ev.append(f"描述相似 ({row['text_cos']:.2f})")
    return ev


def suggest_series(linker: SeriesLinker, cases: pd.DataFrame, case_id: str, top: int = 10) -> list[dict[str, Any]]:
    """The `top` cases most likely linked to `case_id`, best first, with the evidence in Chinese.

    Each dict: case_id, score, evidence (list of str: "相距 420 米", "间隔 6 天", "作案时段相近 (凌晨2–4点)",
    "同为撬锁入室", "均有手机被盗"…), dist_m, gap_days, category, at (ISO UTC). The evidence lists what the
    pair has in common; it explains the score but is not the model (which also weighs what differs).
    """
    ids = cases["case_id"].astype(str).to_numpy()
    hit = np.flatnonzero(ids == str(case_id))
    if not len(hit):
        raise KeyError(case_id)
    q = int(hit[0])
    others = np.array([k for k in range(len(cases)) if k != q], dtype=np.int64)
    if not len(others):
        return []
    pairs = np.stack([np.full(len(others), q), others], axis=1)
    feats = pair_features(cases, pairs, mo=linker.mo)
    scores = linker.predict_proba_features(feats)
    order = np.argsort(-scores, kind="stable")[:top]
    at = pd.to_datetime(cases["at"], utc=True)
    local = at.dt.tz_convert(LOCAL_TZ)
    hours = (local.dt.hour + local.dt.minute / 60.0).to_numpy()
    mo_cols = _mo_columns(cases.iloc[[q, *others[order].tolist()]], linker.mo)
    qa = cases.iloc[q]
    tq = (mo_cols[0][0], mo_cols[1][0], mo_cols[2][0], mo_cols[3][0])
    out = []
    for rank, k in enumerate(order, start=1):
        o = int(others[k])
        tb = (mo_cols[0][rank], mo_cols[1][rank], mo_cols[2][rank], mo_cols[3][rank])
        row = feats.iloc[k]
        out.append({
            "case_id": str(ids[o]),
            "score": round(float(scores[k]), 4),
            "evidence": _evidence(row, qa, cases.iloc[o], tq, tb, (float(hours[q]), float(hours[o])),
                                  int(local.iloc[q].dayofweek)),
            "dist_m": round(float(row["dist_m"]), 1),
            "gap_days": round(float(row["gap_days"]), 2),
            "category": str(cases.iloc[o]["category"]),
            "at": at.iloc[o].isoformat(),
        })
    return out
