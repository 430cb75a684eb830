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
  generator's structured columns instead (an upper reference: perfect extraction). Besides the plain
  matches it weighs a shared entry method by its rarity in the frame (`entry_info`), lets flats and
  rented rooms count as one kind of premises (`premises_group_match`) and puts distance relative to the
  local density of cases (`closer_share_*`).
* Pairs are sampled as in the literature (`sample_pairs`): all linked pairs, and `ratio` (default 10)
  unlinked pairs per linked one drawn uniformly from pairs of cases of different offenders. Train and
  test are split by offender (`split_by_offender`), so no offender's habits are seen in both.
* `SeriesLinker` scores in two stages: the pair alone, then the pair in its neighbourhood (do both cases
  look like the same other cases? — how a long series is chained through the cases between its ends).
  The model kind (boosting, spline logistic or their blend) is chosen *by offender inside the training
  data* (never on the test pairs).

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
    "CHAIN_FEATURES",
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
    "dist_m",
    "gap_days",
    "tod_diff_h",
    "dow_match",
    "weekend_match",
    "cat_match",
    "cat_group_match",
    "premises_match",
    "premises_group_match",
    "entry_jaccard",
    "target_jaccard",
    "tool_jaccard",
    "entry_info",
    "text_cos",
    "closer_share_min",
    "closer_share_max",
)
_CONTINUOUS = (
    "dist_m",
    "gap_days",
    "tod_diff_h",
    "text_cos",
    "entry_info",
    "closer_share_min",
    "closer_share_max",
    "nb_cos",
)

# MO lexicon ----------------------------------------------------------------------------------------------

_ROBBERY = re.compile(r"抢劫|抢走|抢夺|夺走|飞车|持刀|拿刀|持械|拦路")
_CAR = re.compile(r"小汽车|轿车|私家车|小车|汽车|越野车|面包车|车窗|车门|后备箱|副驾|驾驶室|车内")
_EBIKE = re.compile(r"电动车|电瓶车|电单车|电摩|电动自行车")
_PREMISES_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("写字楼", re.compile(r"写字楼|办公室|办公楼|公司|大厦.{0,6}[楼层座]")),
    ("商铺", re.compile(r"店铺|商铺|店内|门店|超市|便利店|档口|商店|士多|铺面|收银|卷闸门|烟酒店|(?<![酒饭])店(?!主)")),
    ("出租屋", re.compile(r"出租屋|出租房|城中村|农民房|握手楼|村\d+巷|宿舍")),
    (
        "住宅",
        re.compile(
            r"家中|家里|住宅|住处|住所|屋内|室内|房间|民宅|\d+室|\d+房|单元|家门|入户|入室|卧室|客厅"
            r"|阳台"
        ),
    ),
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
    (
        "攀爬阳台",
        re.compile(
            r"(攀爬|攀|爬|翻越|翻).{0,6}(阳台|水管|管道|外墙)"
            r"|(阳台|水管|管道|外墙).{0,6}(攀|爬|进入|入室)"
        ),
    ),
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
_TRADE = re.compile(
    r"(手机|烟酒|名烟名酒|首饰|黄金|珠宝|电脑|数码|电动车|电瓶车|钟表|手表|箱包)"
    r"(店|行|铺|专卖|维修|城)"
)
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
    {"包", "背包", "手提包", "挎包", "皮包", "钱包", "公文包", "书包", "包包", "双肩包", "单肩包", "女包"}
)
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
    "凌晨": "凌晨",
    "半夜": "凌晨",
    "深夜": "凌晨",
    "夜里": "凌晨",
    "早上": "早上",
    "清晨": "早上",
    "早晨": "早上",
    "上午": "上午",
    "中午": "中午",
    "下午": "下午",
    "傍晚": "傍晚",
    "晚上": "晚上",
    "夜间": "晚上",
    "当晚": "晚上",
    "晚间": "晚上",
    "今晚": "晚上",
    "昨晚": "晚上",
    "昨夜": "晚上",
    "白天": "白天",
    "今早": "早上",
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
        before, after = text[max(0, m.start() - 3) : m.start()], text[m.end() : m.end() + 3]
        if "骑" in before or re.match(r"上|的电瓶|电瓶|电池|的电池", after):
            continue
        return True
    return False


@functools.lru_cache(maxsize=100_000)
def _tags(text: str) -> tuple[str, frozenset[str], frozenset[str], frozenset[str], str, str]:
    t = normalise(text or "").text.lower()
    robbery = bool(_ROBBERY.search(t))
    car = not robbery and bool(_CAR.search(t))
    ebike_theft = (
        not robbery
        and not car
        and bool(_EBIKE.search(t))
        and (_stolen_ebike(t) or bool(re.search(r"电瓶(?!车)|电池", t)))
    )
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
    return {
        "premises": premises,
        "entry": set(entry),
        "targets": set(targets),
        "tools": set(tools),
        "time_hint": time_hint,
        "category": category,
    }


# Pair features ---------------------------------------------------------------------------------------------

# Premises an offender moves between: a flat burglar also does rented rooms, a bike thief any parking spot.
_PREMISES_GROUP = {
    "住宅": "居所",
    "出租屋": "居所",
    "商铺": "经营场所",
    "写字楼": "经营场所",
    "车棚": "停车处",
    "楼道": "停车处",
    "车库": "停车处",
    "路边": "街面",
    "巷道": "街面",
    "车辆": "车辆",
}


def _bits(sets: Sequence[frozenset[str] | set[str]]) -> tuple[np.ndarray, np.ndarray]:
    """Each set as a bit mask, and how many sets hold each bit."""
    vocab: dict[str, int] = {}
    out = np.zeros(len(sets), dtype=np.uint64)
    for i, s in enumerate(sets):
        v = 0
        for item in s:
            v |= 1 << vocab.setdefault(item, len(vocab))
        out[i] = v
    if len(vocab) > 64:
        raise ValueError("more than 64 distinct MO values in one attribute")
    counts = np.array([np.count_nonzero((out >> np.uint64(b)) & np.uint64(1)) for b in range(len(vocab))])
    return out, counts


def _jaccard(bits: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    a, b = bits[i], bits[j]
    union = np.bitwise_count(a | b).astype(float)
    inter = np.bitwise_count(a & b).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = inter / union
    out[(a == 0) | (b == 0)] = np.nan  # unknown on either side: no evidence either way
    return out


def _shared_info(bits: np.ndarray, counts: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Σ −log(share of the frame's cases with it) over the values both cases have: 攀爬阳台 in common says more
    than 撬锁 in common. NaN if either side is unknown."""
    a, b = bits[i], bits[j]
    inter = a & b
    out = np.zeros(len(i))
    n = max(1, len(bits))
    for k, c in enumerate(counts.tolist()):
        out += ((inter >> np.uint64(k)) & np.uint64(1)).astype(float) * -math.log(c / n)
    out[(a == 0) | (b == 0)] = np.nan
    return out


def _split(v: Any) -> frozenset[str]:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return frozenset()
    if isinstance(v, set | frozenset | list | tuple):
        return frozenset(str(x) for x in v if x)
    return frozenset(x for x in re.split(r"[、,;|]", str(v)) if x)


def _mo_columns(
    cases: pd.DataFrame, mo: str
) -> tuple[np.ndarray, list[frozenset[str]], list[frozenset[str]], list[frozenset[str]]]:
    if mo == "fields":
        premises = cases["premises"].fillna("").astype(str).to_numpy()
        return (
            premises,
            [_split(v) for v in cases["entry"]],
            [_split(v) for v in cases["targets"]],
            [_split(v) for v in cases["tool"]],
        )
    if mo != "text":
        raise ValueError("mo must be 'text' or 'fields'")
    tags = [_tags(str(t)) for t in cases["text"].fillna("")]
    return (
        np.array([t[0] for t in tags], dtype=object),
        [t[1] for t in tags],
        [t[2] for t in tags],
        [t[3] for t in tags],
    )


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


def _closer_share(lat: np.ndarray, lon: np.ndarray, src: np.ndarray, d: np.ndarray) -> np.ndarray:
    """For each query (case src[q], distance d[q]): the share of the frame's other cases strictly closer to
    that case than d — distance relative to local density (300 m is near in a quiet block, not in a busy
    urban village) and independent of how many cases the frame holds."""
    n = len(lat)
    out = np.zeros(len(src))
    if n < 3 or not len(src):
        return out
    rows, inv = np.unique(src, return_inverse=True)
    order = np.argsort(inv, kind="stable")
    bounds = np.searchsorted(inv[order], np.arange(0, len(rows) + 256, 256))
    for c, lo in enumerate(range(0, len(rows), 256)):
        r = rows[lo : lo + 256]
        dist = np.sort(_haversine_m(lat[r, None], lon[r, None], lat[None, :], lon[None, :]), axis=1)
        q = order[bounds[c] : bounds[c + 1]]
        k = inv[q] - lo
        # One sorted array for all rows of the chunk: row k's distances offset by k × (more than any distance).
        big = float(dist[:, -1].max()) + 1.0
        flat = (dist + (np.arange(len(r)) * big)[:, None]).ravel()
        closer = np.searchsorted(flat, k * big + d[q], side="left") - k * n
        out[q] = closer - (d[q] > 0)  # the case itself sits at 0
    return np.clip(out, 0, None) / (n - 2)


class _Frame:
    """Per-case columns of a frame of cases, computed once for any number of pairs (IDF, MO shares and local
    density all come from the frame)."""

    def __init__(self, cases: pd.DataFrame, mo: str) -> None:
        at = pd.to_datetime(cases["at"], utc=True)
        self.n = len(cases)
        self.secs = (at - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds().to_numpy()
        local = at.dt.tz_convert(LOCAL_TZ)
        self.hour = (local.dt.hour + local.dt.minute / 60.0 + local.dt.second / 3600.0).to_numpy()
        self.dow = local.dt.dayofweek.to_numpy()
        self.lat, self.lon = cases["lat"].to_numpy(float), cases["lon"].to_numpy(float)
        self.cat = cases["category"].fillna("").astype(str).to_numpy()
        self.cat4 = np.array([c[:4] for c in self.cat], dtype=object)
        premises, entry, targets, tools = _mo_columns(cases, mo)
        self.premises = premises
        self.pgroup = np.array([_PREMISES_GROUP.get(p, p) for p in premises], dtype=object)
        self.entry, self.entry_counts = _bits(entry)
        self.targets = _bits(targets)[0]
        self.tools = _bits(tools)[0]
        self.text = _text_matrix(cases["text"]) if "text" in cases and len(cases) else None
        self._gram: np.ndarray | None = None

    def features(self, pairs: np.ndarray) -> pd.DataFrame:
        i, j = pairs[:, 0], pairs[:, 1]
        d = np.abs(self.hour[i] - self.hour[j])
        dist = _haversine_m(self.lat[i], self.lon[i], self.lat[j], self.lon[j])
        out = {
            "dist_m": dist,
            "gap_days": np.abs(self.secs[i] - self.secs[j]) / 86_400.0,
            "tod_diff_h": np.minimum(d, 24.0 - d),
            "dow_match": (self.dow[i] == self.dow[j]).astype(float),
            "weekend_match": ((self.dow[i] >= 5) == (self.dow[j] >= 5)).astype(float),
            "cat_match": (self.cat[i] == self.cat[j]).astype(float),
            "cat_group_match": (self.cat4[i] == self.cat4[j]).astype(float),
        }
        unknown = (self.premises[i] == "") | (self.premises[j] == "")
        for name, v in (("premises_match", self.premises), ("premises_group_match", self.pgroup)):
            m = (v[i] == v[j]).astype(float)
            m[unknown] = np.nan
            out[name] = m
        out["entry_jaccard"] = _jaccard(self.entry, i, j)
        out["target_jaccard"] = _jaccard(self.targets, i, j)
        out["tool_jaccard"] = _jaccard(self.tools, i, j)
        out["entry_info"] = _shared_info(self.entry, self.entry_counts, i, j)
        if self.text is not None and len(i) >= 4 * self.n and self.n <= 2000:
            if self._gram is None:  # scoring a whole frame: one product beats millions of row products
                self._gram = (self.text @ self.text.T).toarray()
            out["text_cos"] = self._gram[i, j]
        elif self.text is not None:
            out["text_cos"] = np.asarray(self.text[i].multiply(self.text[j]).sum(axis=1)).ravel()
        else:
            out["text_cos"] = np.full(len(i), np.nan)
        ci = _closer_share(self.lat, self.lon, i, dist)
        cj = _closer_share(self.lat, self.lon, j, dist)
        out["closer_share_min"], out["closer_share_max"] = np.minimum(ci, cj), np.maximum(ci, cj)
        return pd.DataFrame(out, columns=list(FEATURES))


def pair_features(cases: pd.DataFrame, pairs: np.ndarray, *, mo: str = "text") -> pd.DataFrame:
    """Similarity features of case pairs, one row per pair (columns `FEATURES`).

    cases: category, at (UTC; tz-aware or naive UTC), lat, lon, text (and, for ``mo="fields"``, premises,
    entry, targets, tool). pairs: (n, 2) integer *row positions* into `cases`.
    dist_m (great-circle metres), gap_days (|Δt|), tod_diff_h (circular local time-of-day difference,
    0–12 h), dow_match / weekend_match (same local weekday / both or neither on a weekend), cat_match (same
    code), cat_group_match (same 4-digit 类型), premises_match (1/0), premises_group_match (both 居所 — 住宅
    or 出租屋 —, both 经营场所, …), entry_jaccard, target_jaccard, tool_jaccard (Jaccard of the sets),
    entry_info (Σ −log share of the frame's cases, over the entry methods both share: a rare method in
    common weighs more), text_cos (TF-IDF character 2–3-gram cosine, IDF from `cases`), closer_share_min /
    closer_share_max (share of the frame's other cases closer to one case than the other case is, the
    smaller and larger of the two sides: distance relative to local density).
    MO values unknown on either side give NaN, not 0: absence from a description is not disagreement.
    The frame (`cases`) matters for entry_info, text_cos and closer_share_*: pass the cases being compared.
    """
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    return _Frame(cases, mo).features(pairs)


# Pair sampling ---------------------------------------------------------------------------------------------


def split_by_offender(cases: pd.DataFrame, test_share: float = 0.3, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, test) cases, split by offender: no offender has cases on both sides. Index reset."""
    offenders = np.array(sorted(cases["offender_id"].unique()))
    rng = np.random.default_rng(seed)
    test = set(rng.choice(offenders, size=round(test_share * len(offenders)), replace=False).tolist())
    mask = cases["offender_id"].isin(test).to_numpy()
    return cases[~mask].reset_index(drop=True), cases[mask].reset_index(drop=True)


def sample_pairs(
    cases: pd.DataFrame, *, ratio: float = 10.0, seed: int = 0, max_linked_per_offender: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
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

MODELS = ("gbm", "logistic", "blend")
# The neighbourhood feature the second stage adds (see SeriesLinker).
CHAIN_FEATURES = ("nb_cos",)
_CHAIN_MIN_CASES = 30  # fewer cases: no neighbourhood worth the name, the pairwise score is used
_FRAME_CHUNK = 400_000  # pairs per chunk when scoring a whole frame


def _gbm(random_state: int) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(
        learning_rate=0.05,
        max_iter=300,
        max_leaf_nodes=15,
        min_samples_leaf=40,
        l2_regularization=1.0,
        random_state=random_state,
    )


# Distance, gap and the density shares matter on a log scale (100 m vs 1 km, 1 day vs 10, 1 % vs 10 %).
_LOG_SCALE = {"dist_m": 1.0, "gap_days": 1.0, "closer_share_min": 1e-3, "closer_share_max": 1e-3}


def _log_columns(x: np.ndarray, offsets: tuple[tuple[int, float], ...]) -> np.ndarray:
    x = np.array(x, dtype=float)
    for k, off in offsets:
        x[:, k] = np.log(np.maximum(x[:, k], 0.0) + off)
    return x


def _logistic(features: Sequence[str]) -> Pipeline:
    cont = [f for f in features if f in _CONTINUOUS]
    other = [f for f in features if f not in _CONTINUOUS]
    offsets = tuple((k, _LOG_SCALE[f]) for k, f in enumerate(cont) if f in _LOG_SCALE)
    log_scale = functools.partial(_log_columns, offsets=offsets)  # a partial, not a closure: it pickles
    cont_pipe = make_pipeline(
        SimpleImputer(strategy="median"), FunctionTransformer(log_scale), SplineTransformer(n_knots=6, degree=3)
    )
    other_pipe = SimpleImputer(strategy="constant", fill_value=0.0, add_indicator=True, keep_empty_features=True)
    pre = ColumnTransformer([("cont", cont_pipe, cont), ("other", other_pipe, other)])
    return Pipeline([("pre", pre), ("scale", StandardScaler()), ("lr", LogisticRegression(C=1.0, max_iter=3000))])


class _Blend:
    """The mean of boosting's and the spline logistic's probabilities: they err on different pairs (boosting
    on rare combinations, the logistic extrapolates smoothly to long gaps), so the mean ranks better than
    either on the validation offenders."""

    def __init__(self, features: Sequence[str], random_state: int) -> None:
        self.parts = (_gbm(random_state), _logistic(features))

    def fit(self, x: pd.DataFrame, y: np.ndarray) -> _Blend:
        for p in self.parts:
            p.fit(x, y)
        return self

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        p = np.mean([m.predict_proba(x)[:, 1] for m in self.parts], axis=0)
        return np.stack([1.0 - p, p], axis=1)


def _groups(cases: pd.DataFrame, pairs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Offender of each case: offender_id if given, else the connected components of the linked pairs."""
    if "offender_id" in cases:
        codes = pd.factorize(cases["offender_id"])[0]
        unknown = codes < 0  # no offender recorded: a series of its own
        codes[unknown] = codes.max(initial=-1) + 1 + np.arange(int(unknown.sum()))
        return codes
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    lp = pairs[y == 1]
    g = coo_matrix((np.ones(len(lp)), (lp[:, 0], lp[:, 1])), shape=(len(cases), len(cases)))
    return connected_components(g, directed=False)[1]


def _nb_cos(s: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Cosine between the two cases' rows of squared pair scores, each leaving out the other case: do they
    look like the same *other* cases? A series' members share strong neighbours even when months apart.
    Squaring keeps the strong neighbours and mutes the many weak ones."""
    q = s * s
    np.fill_diagonal(q, 0.0)
    i, j = pairs[:, 0], pairs[:, 1]
    n = len(q)
    norm2 = (q * q).sum(axis=1)
    qij = q[i, j]
    # Σ_k q[i,k] q[j,k]: the zero diagonal already leaves out k = i and k = j.
    if len(i) > 2 * n:
        dot = (q @ q)[i, j]
    else:
        dot = np.empty(len(i))
        step = max(1, 2_000_000 // max(1, n))
        for lo in range(0, len(i), step):
            dot[lo : lo + step] = np.einsum("ij,ij->i", q[i[lo : lo + step]], q[j[lo : lo + step]])
    den = np.sqrt(np.maximum(norm2[i] - qij**2, 0.0) * np.maximum(norm2[j] - qij**2, 0.0))
    return np.where(den > 1e-12, dot / np.maximum(den, 1e-12), 0.0)


class SeriesLinker:
    """Scores case pairs: P(same offender) under the training mix of linked and unlinked pairs.

    Two stages. Stage 1 scores a pair from its own features (`pair_features`). Stage 2 adds the pair's
    neighbourhood within the frame of cases being compared (`CHAIN_FEATURES`: do the two cases score high
    with the same other cases?), so two cases of one series months apart are linked through the cases
    between them — as an analyst chains a series. Stage 2 is trained on stage-1 scores made *out of fold*:
    the training offenders are split into `folds`; each fold's frame is scored by a stage-1 model fitted
    on the other folds' pairs, and stage 2 learns from the pairs inside each fold.
    chain: fit stage 2 (default) or not. It is on by default because it ranked better on every one of 15
    offender splits of cases of other generator seeds (other offenders than any benchmark test split);
    with few training cases (thin folds, small frames) it may not pay. An out-of-fold check of stage 2
    inside fit was tried and dropped: fitted on two thirds of the within-fold pairs it was too pessimistic
    (it dropped stage 2 on 7 of those 15 splits, all of which stage 2 improved).

    model: 'gbm' (histogram gradient boosting; NaN handled natively), 'logistic' (logistic regression on
    cubic B-splines of log distance, log gap, time-of-day difference, text similarity and the log density
    shares, plus the matches with missing indicators), 'blend' (the mean of the two) or 'auto' (whichever
    of the three has the highest stage-1 AUC on a validation split *by offender* of the training cases). The
    chosen kind is used in both stages.
    Offenders come from cases.offender_id or, without it, from the connected components of the linked pairs.
    mo: where the MO comes from, 'text' (`mo_tags`) or 'fields' (see `pair_features`).
    features: a subset of `FEATURES` (e.g. only distance) for baselines.
    threads: OpenMP/BLAS threads while fitting and scoring (default 1: the pair sets are small, and on a
    shared machine OpenMP's spinning threads made boosting ~10× slower, not faster). None = library default.
    After `fit`: `chosen_` (the model used), `validation_auc_` ({model: AUC}, model='auto' only) and
    `uses_chain_`.

    max_frame: stage 2 scores all n(n−1)/2 pairs of the frame (~1.5 s for 500 cases, ~5 s for 1000 on one
    core), so `predict_proba(cases, pairs)` uses both stages when the frame has 30–`max_frame` cases and
    stage 1 alone otherwise (a smaller frame, e.g. a tighter window, brings stage 2 back);
    `predict_proba_features(x)` has no frame, so it is stage 1 alone.
    """

    def __init__(
        self,
        model: str = "auto",
        *,
        mo: str = "text",
        features: Sequence[str] | None = None,
        chain: bool = True,
        folds: int = 3,
        max_frame: int = 1000,
        val_share: float = 0.25,
        random_state: int = 0,
        threads: int | None = 1,
    ) -> None:
        if model not in ("auto", *MODELS):
            raise ValueError("model must be 'auto', 'gbm', 'logistic' or 'blend'")
        self.model = model
        self.mo = mo
        self.features = tuple(features or FEATURES)
        unknown = set(self.features) - set(FEATURES)
        if unknown:
            raise ValueError(f"unknown features {sorted(unknown)}")
        if folds < 2:
            raise ValueError("folds must be at least 2")
        self.chain = chain
        self.folds = folds
        self.max_frame = max_frame
        self.val_share = val_share
        self.random_state = random_state
        self.threads = threads
        self.chosen_: str | None = None
        self.validation_auc_: dict[str, float] = {}
        self._est: Any = None
        self._est2: Any = None

    def _make(self, name: str, features: Sequence[str] | None = None) -> Any:
        feats = tuple(features or self.features)
        if name == "gbm":
            return _gbm(self.random_state)
        if name == "logistic":
            return _logistic(feats)
        return _Blend(feats, self.random_state)

    def features_of(self, cases: pd.DataFrame, pairs: np.ndarray) -> pd.DataFrame:
        return pair_features(cases, pairs, mo=self.mo)[list(self.features)]

    def fit(self, cases: pd.DataFrame, pairs: np.ndarray, y: np.ndarray) -> SeriesLinker:
        """Fit on pairs (row positions into `cases`) of solved cases with labels y (1 = same offender)."""
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        y = np.asarray(y, dtype=int)
        x = self.features_of(cases, pairs)
        with threadpool_limits(limits=self.threads):
            group = _groups(cases, pairs, y)
            self._choose(pairs, x, y, group)
            self._est = self._make(self.chosen_).fit(x, y)
            self._est2 = self._fit_chain(cases, pairs, x, y, group) if self.chain else None
        return self

    def _choose(self, pairs: np.ndarray, x: pd.DataFrame, y: np.ndarray, group: np.ndarray) -> None:
        self.validation_auc_ = {}
        if self.model != "auto":
            self.chosen_ = self.model
            return
        rng = np.random.default_rng(self.random_state)
        ids = np.unique(group)
        val = rng.choice(ids, size=max(1, round(self.val_share * len(ids))), replace=False)
        in_val = np.isin(group, val)
        vi, vj = in_val[pairs[:, 0]], in_val[pairs[:, 1]]
        fit_m, val_m = ~vi & ~vj, vi & vj  # pairs across the split are left out of the choice
        yv = y[val_m]
        scores = {}
        for cand in ("gbm", "logistic"):
            scores[cand] = self._make(cand).fit(x[fit_m], y[fit_m]).predict_proba(x[val_m])[:, 1]
        scores["blend"] = (scores["gbm"] + scores["logistic"]) / 2.0  # the blend is this mean, no refit
        for cand in MODELS:
            self.validation_auc_[cand] = (
                float(roc_auc_score(yv, scores[cand])) if 0 < yv.sum() < len(yv) else float("nan")
            )
        self.chosen_ = max(MODELS, key=lambda c: np.nan_to_num(self.validation_auc_[c], nan=-1.0))

    def _fit_chain(
        self, cases: pd.DataFrame, pairs: np.ndarray, x: pd.DataFrame, y: np.ndarray, group: np.ndarray
    ) -> Any:
        rng = np.random.default_rng(self.random_state + 1)
        ids = rng.permutation(np.unique(group))
        fold_of = np.empty(int(group.max()) + 1 if len(group) else 0, dtype=int)
        fold_of[ids] = np.arange(len(ids)) % self.folds
        fold = fold_of[group]
        fi, fj = fold[pairs[:, 0]], fold[pairs[:, 1]]
        xs, ys = [], []
        for f in range(self.folds):
            rows = np.flatnonzero(fold == f)
            inside = (fi == f) & (fj == f)
            other = (fi != f) & (fj != f)
            if len(rows) < 3 or not inside.any() or len(np.unique(y[other])) < 2:
                continue
            est = self._make(self.chosen_).fit(x[other], y[other])
            sub = cases.iloc[rows].reset_index(drop=True)
            pos = np.full(len(cases), -1, dtype=np.int64)
            pos[rows] = np.arange(len(rows))
            p_sub = pos[pairs[inside]]
            frame = _Frame(sub, self.mo)
            s = self._frame_scores(est, frame, len(sub))
            # The fold's own frame, as at prediction time: IDF, MO shares and density from these cases.
            xf = frame.features(p_sub)[list(self.features)]
            xs.append(xf.assign(nb_cos=_nb_cos(s, p_sub)))
            ys.append(y[inside])
        if not ys or len(np.unique(np.concatenate(ys))) < 2:
            raise ValueError("too few linked pairs inside the offender folds to fit the neighbourhood stage")
        return self._make(self.chosen_, (*self.features, *CHAIN_FEATURES)).fit(
            pd.concat(xs, ignore_index=True), np.concatenate(ys)
        )

    def _frame_scores(self, est: Any, frame: _Frame, n: int) -> np.ndarray:
        """Stage-1 scores of all pairs of the frame, as a symmetric n × n matrix (diagonal 0)."""
        a, b = np.triu_indices(n, k=1)
        s = np.zeros((n, n))
        for lo in range(0, len(a), _FRAME_CHUNK):
            p = np.stack([a[lo : lo + _FRAME_CHUNK], b[lo : lo + _FRAME_CHUNK]], axis=1)
            v = est.predict_proba(frame.features(p)[list(self.features)])[:, 1]
            s[p[:, 0], p[:, 1]] = v
            s[p[:, 1], p[:, 0]] = v
        return s

    @property
    def uses_chain_(self) -> bool:
        """Whether the fitted linker has a neighbourhood stage."""
        return self._est2 is not None

    def _uses_chain(self, n: int) -> bool:
        return self._est2 is not None and _CHAIN_MIN_CASES <= n <= self.max_frame

    def _score(self, cases: pd.DataFrame, pairs: np.ndarray, x: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        """(scores, the frame's stage-1 score matrix or None when stage 2 is not used)."""
        if self._est is None:
            raise RuntimeError("SeriesLinker is not fitted")
        with threadpool_limits(limits=self.threads):
            if not self._uses_chain(len(cases)):
                return self._est.predict_proba(x[list(self.features)])[:, 1], None
            s = self._frame_scores(self._est, _Frame(cases, self.mo), len(cases))
            x2 = x[list(self.features)].reset_index(drop=True).assign(nb_cos=_nb_cos(s, pairs))
            return self._est2.predict_proba(x2)[:, 1], s

    def predict_proba_features(self, x: pd.DataFrame) -> np.ndarray:
        """Stage-1 (pairwise) score of feature rows; without the frame there is no neighbourhood."""
        if self._est is None:
            raise RuntimeError("SeriesLinker is not fitted")
        with threadpool_limits(limits=self.threads):
            return self._est.predict_proba(x[list(self.features)])[:, 1]

    def predict_proba(self, cases: pd.DataFrame, pairs: np.ndarray) -> np.ndarray:
        """Score of each pair (row positions into `cases`): higher = more likely the same offender. `cases` is
        the frame the neighbourhood is read from: pass all the cases being compared."""
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        return self._score(cases, pairs, self.features_of(cases, pairs))[0]


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


def _evidence(
    row: pd.Series,
    a: pd.Series,
    b: pd.Series,
    tags_a: tuple,
    tags_b: tuple,
    hours: tuple[float, float],
    dow: int,
    shared: int = 0,
) -> list[str]:
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
    if shared:
        ev.append(f"另有 {shared} 起案件与两者均高度相似")
    return list(dict.fromkeys(ev))  # 飞车抢夺 is both a category and a method: say it once


def _shared_neighbours(s: np.ndarray | None, a: int, b: int, threshold: float = 0.5) -> int:
    """Other cases that both score ≥ `threshold` with (the chain stage's evidence, in words)."""
    if s is None:
        return 0
    both = (s[a] >= threshold) & (s[b] >= threshold)
    both[[a, b]] = False
    return int(both.sum())


def suggest_series(linker: SeriesLinker, cases: pd.DataFrame, case_id: str, top: int = 10) -> list[dict[str, Any]]:
    """The `top` cases most likely linked to `case_id`, best first, with the evidence in Chinese.

    Each dict: case_id, score, evidence (list of str: "相距 420 米", "间隔 6 天", "作案时段相近 (凌晨2–4点)",
    "同为撬锁入室", "均有手机被盗", "另有 2 起案件与两者均高度相似"…), dist_m, gap_days, category, at (ISO UTC).
    The evidence lists what the pair has in common; it explains the score but is not the model (which also
    weighs what differs). `cases` is the frame: the other cases are the candidates and the neighbourhood.
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
    scores, frame_scores = linker._score(cases, pairs, feats)
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
        out.append(
            {
                "case_id": str(ids[o]),
                "score": round(float(scores[k]), 4),
                "evidence": _evidence(
                    row,
                    qa,
                    cases.iloc[o],
                    tq,
                    tb,
                    (float(hours[q]), float(hours[o])),
                    int(local.iloc[q].dayofweek),
                    _shared_neighbours(frame_scores, q, o),
                ),
                "dist_m": round(float(row["dist_m"]), 1),
                "gap_days": round(float(row["gap_days"]), 2),
                "category": str(cases.iloc[o]["category"]),
                "at": at.iloc[o].isoformat(),
            }
        )
    return out
