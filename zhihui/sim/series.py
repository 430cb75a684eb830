"""GENERATED solved property-crime cases in series (串并案), for training and testing case linkage.

**Everything here is invented**: offenders, their homes, habits and crimes, every case, time, point,
address and word of description. Nothing is drawn from real case files. Same seed and arguments → the
same frame, in any process (numpy generators seeded from the integer seed; no set or hash order is
drawn from).

The model (Porter 2016 and the journey-to-crime literature; each part kept simple and stated):

* Offenders — a share (`one_off_share`) commit exactly one case (one-off offenders only ever give
  unlinked pairs); the rest commit 2 + a geometric number of cases (mean `mean_series_len`, capped at
  `max_series_len`), so a few prolific offenders commit many.
* Specialism — each offender has a crime group (入室盗窃 / 盗窃电动车 / 盗窃车内财物 / 两抢, population
  weights `GROUP_WEIGHTS`) and, per case, switches to another group with probability `versatility`.
* MO — per offender a habitual premises type, entry method (作案手段 for 两抢), target set, tool and
  hour of day, drawn from Zipf-like population weights so that popular MOs (撬锁 into a 住宅, 剪锁 on an
  电动车) are shared by many offenders. Each offender has a deviation probability drawn uniformly from
  `deviation_range` (20–40 %): on each case each attribute independently departs from the habit with
  that probability (and a departure is always to a *different* value), so habits are consistent but
  noisy. For the target set a case departs when it lacks a habitual item (a case that keeps them may
  add one opportunistic item). A departure of premises prefers premises the habitual entry method fits;
  an attribute still forced to change by another changes too, as do all attributes of a case outside
  the specialism, so realised shares sit a little above the offender's probability (pooled 0.25–0.40
  on premises, entry and targets for the default knobs; the generator's tests check 0.20–0.40).
* Where — a spatial anchor per offender (home or hangout): with probability `shared_area_share`
  near one of `n_areas` popular areas (urban villages; Zipf popularity, Gaussian `area_sigma_m`),
  otherwise uniform in the box; a second anchor with probability `second_anchor_share`. Journey to
  crime is Gamma(shape 2) with mean = the offender's range (log-normal, median `range_median_m`):
  distance decay with few crimes on the doorstep. With `places`, a point snaps to one of the 3
  nearest generated places of a fitting category (住宅小区 for a 住宅, 写字楼 for an office…), jittered
  by a few tens of metres, so different offenders hit the same compounds as they do in a real city.
* When — in bursts: consecutive cases `burst_gap_days` apart on average (exponential), with
  probability `lull_prob` a lull of mean `lull_days` (an arrest, a move, a job) instead. Hour of day =
  the habit ± N(0, σ) (σ per offender in `hour_sigma_range`); daytime house burglars mostly avoid
  weekends (residents are home). A share (`time_noise_share`) of recorded times are off by up to
  ±`time_noise_h` hours (discovered later; the reported time is a guess).
* Words — a short Chinese description assembled from those fields with varied phrasing: each field
  has several wordings, the entry method is sometimes not stated (`omit_entry_share`) and the tool
  only sometimes mentioned, so MO extraction from text is exercised and imperfect.

`generate_offenders` gives the ground truth (habits, anchors, deviation probabilities) that
`generate_cases` draws from with the same seed; tests use it to check the stated bands.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

__all__ = [
    "DEFAULT_BBOX",
    "GROUP_CODES",
    "GROUP_WEIGHTS",
    "SeriesKnobs",
    "generate_cases",
    "generate_offenders",
    "period_of_hour",
]

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
# The demo city's extent (zhihui.sim.demo LAT_RANGE / LON_RANGE): western central Futian.
DEFAULT_BBOX = (22.517, 113.997, 22.551, 114.040)  # (lat_min, lon_min, lat_max, lon_max)
_M_PER_DEG = 6371008.8 * math.pi / 180.0


@dataclass(frozen=True)
class SeriesKnobs:
    """The generator's difficulty knobs (defaults are the benchmark's; see the module docstring).

    Why these values: the brief's band for MO noise (20–40 % of an offender's cases off-habit per
    attribute); most offenders in a solved-case file have one or a few cases and a few have dozens; the
    demo city is a 4 × 4 km box, so a ~1 km journey-to-crime range with six shared hot areas keeps
    space informative but far from decisive; the temporal knobs put the time-gap-only AUC around
    0.8–0.87, inside what real burglary data give for temporal proximity, rather than above it.
    """

    one_off_share: float = 0.4  # offenders with a single solved case: unlinked pairs only
    mean_series_len: float = 5.0  # mean cases of a repeat offender (2 + geometric), heavy tail
    max_series_len: int = 40
    deviation_range: tuple[float, float] = (0.2, 0.4)  # per-offender chance a case leaves each habit
    versatility: float = 0.08  # chance a case is outside the offender's crime group
    shared_area_share: float = 0.6  # offenders anchored near one of the popular areas
    n_areas: int = 6
    area_sigma_m: float = 400.0
    range_median_m: float = 900.0  # journey-to-crime mean distance, per offender (log-normal)
    range_log_sigma: float = 0.6
    second_anchor_share: float = 0.25  # offenders with a second base (work, a partner's flat)
    second_anchor_use: float = 0.3  # share of their cases from it
    burst_gap_days: float = 7.0  # mean gap between cases inside a spree
    lull_prob: float = 0.25  # chance the next case follows a lull instead
    lull_days: float = 60.0  # mean lull (custody, a move, a job)
    hour_sigma_range: tuple[float, float] = (0.75, 2.0)  # spread around the habitual hour, per offender
    weekday_only_share: float = 0.7  # daytime house burglars who avoid weekends
    time_noise_share: float = 0.3  # recorded times that are a guess (discovered later)
    time_noise_h: float = 3.0
    omit_entry_share: float = 0.15  # descriptions that do not say how the offender got in
    tool_mention_share: float = 0.45  # descriptions that name the tool, when there was one


# Crime groups ------------------------------------------------------------------------------------------
# Category codes from zhihui/incidents/categories.yaml: 010501 入室盗窃, 010504 盗窃电动车, 010506 盗窃车内财物,
# 010304 拦路抢劫, 010401 飞车抢夺, 010402 徒步抢夺.
GROUP_WEIGHTS = {"burglary": 0.50, "ebike": 0.22, "vehicle": 0.16, "street": 0.12}
GROUP_CODES = {"burglary": "010501", "ebike": "010504", "vehicle": "010506"}
_STREET_CODES = {"持刀抢劫": "010304", "飞车抢夺": "010401", "徒步抢夺": "010402"}

_PREMISES = {
    "burglary": {"住宅": 0.55, "出租屋": 0.2, "商铺": 0.15, "写字楼": 0.10},
    "ebike": {"车棚": 0.5, "路边": 0.3, "楼道": 0.2},
    "vehicle": {"车辆": 1.0},
    "street": {"路边": 0.6, "巷道": 0.4},
}
# Entry method (作案手段 for 两抢) weights given the premises: only methods that fit it.
_ENTRY = {
    "住宅": {"撬锁": 0.28, "技术开锁": 0.22, "攀爬阳台": 0.14, "翻窗": 0.12, "未锁门": 0.10, "尾随入室": 0.08,
             "破窗": 0.06},
    "出租屋": {"撬锁": 0.30, "翻窗": 0.20, "未锁门": 0.15, "技术开锁": 0.10, "攀爬阳台": 0.10, "破窗": 0.10,
               "尾随入室": 0.05},
    "商铺": {"撬锁": 0.45, "破窗": 0.25, "技术开锁": 0.10, "未锁门": 0.10, "翻窗": 0.10},
    "写字楼": {"尾随入室": 0.30, "撬锁": 0.30, "技术开锁": 0.20, "未锁门": 0.20},
    "车棚": {"剪锁": 0.45, "短接": 0.30, "解码": 0.10, "未上锁": 0.15},
    "路边": {"剪锁": 0.45, "短接": 0.30, "解码": 0.10, "未上锁": 0.15},
    "楼道": {"剪锁": 0.45, "短接": 0.30, "解码": 0.10, "未上锁": 0.15},
    "车辆": {"砸车窗": 0.50, "车门未锁": 0.25, "干扰遥控": 0.15, "撬车门": 0.10},
    "巷道": {"徒步抢夺": 0.45, "持刀抢劫": 0.35, "飞车抢夺": 0.20},
}
_STREET_ENTRY_ON_ROAD = {"飞车抢夺": 0.45, "徒步抢夺": 0.35, "持刀抢劫": 0.20}
_TARGETS = {
    "burglary": {"现金": 0.30, "手机": 0.18, "首饰": 0.14, "电脑": 0.10, "名烟名酒": 0.10, "手表": 0.09, "包": 0.09},
    "ebike": {"电动车": 0.75, "电瓶": 0.25},
    "vehicle": {"现金": 0.25, "包": 0.25, "手机": 0.15, "电脑": 0.20, "名烟名酒": 0.15},
    "street": {"手机": 0.40, "包": 0.25, "首饰": 0.20, "现金": 0.15},
}
_TOOLS = {
    "撬锁": ("螺丝刀", "撬棍"), "技术开锁": ("锡纸", "万能钥匙"), "破窗": ("锤子",), "翻窗": ("液压钳",),
    "剪锁": ("液压钳",), "解码": ("解码器",), "砸车窗": ("锤子",), "干扰遥控": ("解码器",),
    "撬车门": ("螺丝刀", "撬棍"), "持刀抢劫": ("刀具",),
}
# Habit hour mixtures by premises: (weight, mean local hour, sd).
_HOURS = {
    "住宅": ((0.40, 11.0, 2.0), (0.45, 3.0, 1.5), (0.15, 20.0, 1.5)),
    "出租屋": ((0.50, 11.0, 2.5), (0.40, 3.0, 1.5), (0.10, 20.0, 1.5)),
    "商铺": ((0.80, 3.0, 1.5), (0.20, 13.0, 2.0)),
    "写字楼": ((0.50, 2.0, 2.0), (0.30, 13.0, 2.0), (0.20, 21.0, 1.5)),
    "车棚": ((0.60, 2.0, 2.0), (0.25, 21.0, 2.0), (0.15, 14.0, 3.0)),
    "路边": ((0.60, 2.0, 2.0), (0.25, 21.0, 2.0), (0.15, 14.0, 3.0)),
    "楼道": ((0.60, 2.0, 2.0), (0.25, 21.0, 2.0), (0.15, 14.0, 3.0)),
    "车辆": ((0.60, 1.0, 2.5), (0.40, 21.0, 2.0)),
    "巷道": ((0.50, 21.5, 2.0), (0.30, 1.0, 1.5), (0.20, 16.0, 2.5)),
}
_PLACE_CATEGORIES = {"住宅": ("住宅小区",), "车棚": ("住宅小区",), "楼道": ("住宅小区",), "写字楼": ("写字楼",),
                     "商铺": ("商业", "写字楼", "酒店", "住宅小区"), "车辆": ("住宅小区", "商业", "写字楼", "酒店")}


def period_of_hour(hour: float) -> str:
    """Chinese name of the part of the day a local hour falls in (凌晨 0–5, 早上 6–8, 上午 9–11, 中午 12–13,
    下午 14–17, 傍晚 18–19, 晚上 20–23)."""
    h = int(hour) % 24
    if h < 6:
        return "凌晨"
    if h < 9:
        return "早上"
    if h < 12:
        return "上午"
    if h < 14:
        return "中午"
    if h < 18:
        return "下午"
    if h < 20:
        return "傍晚"
    return "晚上"


def _entry_weights(group: str, premises: str) -> dict[str, float]:
    if group == "street":
        return _STREET_ENTRY_ON_ROAD if premises == "路边" else _ENTRY["巷道"]
    return _ENTRY[premises]


class _Geo:
    """Local equirectangular metres about the box centre, and the places to snap to."""

    def __init__(self, bbox: Sequence[float], places: Sequence[dict] | None) -> None:
        self.lat_min, self.lon_min, self.lat_max, self.lon_max = (float(v) for v in bbox)
        self.lat0 = (self.lat_min + self.lat_max) / 2
        self.lon0 = (self.lon_min + self.lon_max) / 2
        self.kx = _M_PER_DEG * math.cos(math.radians(self.lat0))
        self.w = (self.lon_max - self.lon_min) * self.kx
        self.h = (self.lat_max - self.lat_min) * _M_PER_DEG
        self.places = [p for p in places or () if p.get("kind", "place") == "place"]
        self.by_cat: dict[str, tuple[np.ndarray, list[dict]]] = {}
        for p in self.places:
            self.by_cat.setdefault(p.get("category", ""), (np.empty((0, 2)), []))[1].append(p)
        for cat, (_, ps) in list(self.by_cat.items()):
            self.by_cat[cat] = (np.array([self.xy(p["lat"], p["lon"]) for p in ps]), ps)

    def xy(self, lat: float, lon: float) -> tuple[float, float]:
        return (lon - self.lon0) * self.kx, (lat - self.lat0) * _M_PER_DEG

    def latlon(self, x: float, y: float) -> tuple[float, float]:
        return self.lat0 + y / _M_PER_DEG, self.lon0 + x / self.kx

    def inside(self, x: float, y: float) -> bool:
        return abs(x) <= self.w / 2 and abs(y) <= self.h / 2

    def uniform(self, rng: np.random.Generator, margin: float = 0.0) -> tuple[float, float]:
        return (float(rng.uniform(-0.5 + margin, 0.5 - margin) * self.w),
                float(rng.uniform(-0.5 + margin, 0.5 - margin) * self.h))

    def clip(self, x: float, y: float) -> tuple[float, float]:
        return min(max(x, -self.w / 2), self.w / 2), min(max(y, -self.h / 2), self.h / 2)

    def snap(self, rng: np.random.Generator, x: float, y: float, premises: str) -> tuple[float, float, dict | None]:
        cats = _PLACE_CATEGORIES.get(premises)
        if not cats or not self.places:
            return x, y, None
        cands: list[tuple[float, dict]] = []
        for cat in cats:
            arr, ps = self.by_cat.get(cat, (np.empty((0, 2)), []))
            if len(ps):
                d = np.hypot(arr[:, 0] - x, arr[:, 1] - y)
                cands += [(float(d[k]), ps[k]) for k in np.argsort(d)[:3]]
        cands = sorted((c for c in cands if c[0] <= 400.0), key=lambda c: c[0])[:3]
        if not cands:
            return x, y, None
        place = cands[int(rng.integers(len(cands)))][1]
        px, py = self.xy(place["lat"], place["lon"])
        ang, r = rng.uniform(0, 2 * math.pi), rng.uniform(10.0, 50.0)  # another building of the compound
        return px + r * math.cos(ang), py + r * math.sin(ang), place


def _pick(rng: np.random.Generator, weights: dict[str, float], exclude: str | None = None) -> str:
    keys = [k for k in weights if k != exclude] or list(weights)
    w = np.array([weights[k] for k in keys], dtype=float)
    return keys[int(rng.choice(len(keys), p=w / w.sum()))]


def _pick_set(rng: np.random.Generator, weights: dict[str, float], exclude: frozenset[str] | None = None) -> str:
    """1–2 items by weight, as a sorted '、'-joined string; never holding all of `exclude` when avoidable
    (a departure from a habitual set must not be that set plus an extra item)."""
    keys = list(weights)
    w = np.array([weights[k] for k in keys], dtype=float)
    for _ in range(50):
        k = 1 if len(keys) == 1 or rng.random() < 0.6 else 2
        got = frozenset(keys[i] for i in rng.choice(len(keys), size=k, replace=False, p=w / w.sum()))
        if not exclude or not exclude <= got:
            break
    return "、".join(sorted(got))


def _hour(rng: np.random.Generator, premises: str) -> float:
    mix = _HOURS[premises]
    w = np.array([m[0] for m in mix])
    _, mu, sd = mix[int(rng.choice(len(mix), p=w / w.sum()))]
    return float((mu + rng.normal(0.0, sd)) % 24.0)


def _zipf(n: int) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1)
    return w / w.sum()


def _geo(bbox: Sequence[float] | None, places: Sequence[dict] | None) -> _Geo:
    if bbox is None and places:
        lats = [p["lat"] for p in places]
        lons = [p["lon"] for p in places]
        bbox = (min(lats), min(lons), max(lats), max(lons))
    return _Geo(bbox or DEFAULT_BBOX, places)


def generate_offenders(
    seed: int = 1,
    n_offenders: int = 200,
    *,
    bbox: Sequence[float] | None = None,
    places: Sequence[dict] | None = None,
    knobs: SeriesKnobs | None = None,
) -> pd.DataFrame:
    """The invented offenders behind `generate_cases` (same arguments → the same offenders).

    One row per offender: offender_id, n_cases, group, premises, entry, targets ('、'-joined), tool,
    hour (habit local hour), hour_sd, weekday_only, p_deviate, anchor_lat/lon, anchor2_lat/lon (NaN if
    none), range_m, area (index of the popular area the anchor is near, -1 if none).
    """
    k = knobs or SeriesKnobs()
    geo = _geo(bbox, places)
    rng = np.random.default_rng([seed, 1])
    # Popular areas: residential compounds if there are places (urban villages sit among them).
    res = geo.by_cat.get("住宅小区", (np.empty((0, 2)), []))[0]
    areas = [tuple(res[int(i)]) for i in rng.choice(len(res), size=min(k.n_areas, len(res)), replace=False)] \
        if len(res) >= k.n_areas else [geo.uniform(rng, 0.1) for _ in range(k.n_areas)]
    area_p = _zipf(len(areas))
    groups = list(GROUP_WEIGHTS)
    gw = np.array([GROUP_WEIGHTS[g] for g in groups])
    rows = []
    for i in range(n_offenders):
        if rng.random() < k.one_off_share:
            n = 1
        else:
            n = min(k.max_series_len, 1 + int(rng.geometric(1.0 / max(1.0, k.mean_series_len - 1.0))))
        group = groups[int(rng.choice(len(groups), p=gw / gw.sum()))]
        premises = _pick(rng, _PREMISES[group])
        entry = _pick(rng, _entry_weights(group, premises))
        tools = _TOOLS.get(entry, ())
        hour = _hour(rng, premises)
        area = -1
        if rng.random() < k.shared_area_share:
            area = int(rng.choice(len(areas), p=area_p))
            cx, cy = areas[area]
            ax, ay = geo.clip(cx + rng.normal(0, k.area_sigma_m), cy + rng.normal(0, k.area_sigma_m))
        else:
            ax, ay = geo.uniform(rng)
        a2 = (math.nan, math.nan)
        if rng.random() < k.second_anchor_share:
            ang, r = rng.uniform(0, 2 * math.pi), rng.uniform(1000.0, 3000.0)
            a2 = geo.latlon(*geo.clip(ax + r * math.cos(ang), ay + r * math.sin(ang)))
        alat, alon = geo.latlon(ax, ay)
        # Daytime house burglars come when residents are at work.
        weekday_only = premises in ("住宅", "出租屋") and 8 <= hour <= 17 and rng.random() < k.weekday_only_share
        rows.append({
            "offender_id": f"O{seed}-{i + 1:04d}",
            "n_cases": n,
            "group": group,
            "premises": premises,
            "entry": entry,
            "targets": _pick_set(rng, _TARGETS[group]),
            "tool": tools[int(rng.integers(len(tools)))] if tools else "",
            "hour": round(hour, 3),
            "hour_sd": float(rng.uniform(*k.hour_sigma_range)),
            "weekday_only": bool(weekday_only),
            "p_deviate": float(rng.uniform(*k.deviation_range)),
            "anchor_lat": alat,
            "anchor_lon": alon,
            "anchor2_lat": a2[0],
            "anchor2_lon": a2[1],
            "range_m": float(k.range_median_m * math.exp(rng.normal(0.0, k.range_log_sigma))),
            "area": area,
        })
    return pd.DataFrame(rows)


def _times(rng: np.random.Generator, n: int, days: float, k: SeriesKnobs) -> np.ndarray:
    """Day offsets of an offender's n cases in [0, days): bursts separated by lulls."""
    gaps = np.where(rng.random(n - 1) < k.lull_prob, rng.exponential(k.lull_days, n - 1),
                    rng.exponential(k.burst_gap_days, n - 1)) if n > 1 else np.zeros(0)
    rel = np.concatenate([[0.0], np.cumsum(gaps)])
    span = rel[-1]
    if span > days * 0.95:  # a career longer than the window is compressed into it
        rel *= days * 0.95 / span
        span = rel[-1]
    return rel + rng.uniform(0.0, days - span)


def generate_cases(
    seed: int = 1,
    n_offenders: int = 200,
    *,
    start: str | datetime = "2023-01-01",
    days: float = 730.0,
    bbox: Sequence[float] | None = None,
    places: Sequence[dict] | None = None,
    knobs: SeriesKnobs | None = None,
) -> pd.DataFrame:
    """GENERATED solved cases of `n_offenders` invented offenders (see the module docstring).

    bbox: (lat_min, lon_min, lat_max, lon_max); default the demo city (central Futian) or, with
    `places` (`zhihui.sim.places.generate_places`), their extent. start: local (Asia/Shanghai) date
    the window opens; days: its length.

    Columns: case_id, offender_id (ground truth), category (code), at (UTC, tz-aware), lat, lon
    (WGS-84), premises, entry, targets ('、'-joined), tool ('' if none), local_hour, time_of_day
    (凌晨/上午…), place (name of the generated place snapped to, '' if none), text (Chinese description).
    Rows are in time order and case_id follows that order, so the id says nothing about the offender.
    """
    k = knobs or SeriesKnobs()
    geo = _geo(bbox, places)
    offenders = generate_offenders(seed, n_offenders, bbox=bbox, places=places, knobs=k)
    t0 = pd.Timestamp(start)
    t0 = (t0.tz_localize(LOCAL_TZ) if t0.tzinfo is None else t0).tz_convert(UTC).to_pydatetime()
    rng = np.random.default_rng([seed, 2])
    text_rng = np.random.default_rng([seed, 3])
    rows: list[dict[str, Any]] = []
    for off in offenders.itertuples(index=False):
        o = off._asdict()
        p = o["p_deviate"]
        for day in _times(rng, o["n_cases"], days, k):
            rows.append(_case(rng, text_rng, geo, o, p, float(day), t0, k))
    df = pd.DataFrame(rows).sort_values(["at", "offender_id"], kind="stable").reset_index(drop=True)
    df.insert(0, "case_id", [f"C{seed}-{i + 1:05d}" for i in range(len(df))])
    df.attrs["knobs"] = asdict(k)
    return df


def _case(rng: np.random.Generator, trng: np.random.Generator, geo: _Geo, o: dict, p: float, day: float,
          t0: datetime, k: SeriesKnobs) -> dict[str, Any]:
    group = o["group"]
    if rng.random() < k.versatility:  # a case outside the specialism: no habit applies there
        group = _pick(rng, GROUP_WEIGHTS, exclude=group)
    same = group == o["group"]
    if same and rng.random() >= p:
        premises = o["premises"]
    else:
        # A departure keeps the habitual entry method workable where it can (a balcony climber tries
        # another kind of flat, not an office), so one attribute's departure rarely forces another's.
        pw = _PREMISES[group]
        fits = {q: w for q, w in pw.items() if q != o["premises"] and o["entry"] in _entry_weights(group, q)}
        premises = _pick(rng, fits if same and fits else pw, o["premises"])
    ew = _entry_weights(group, premises)
    if o["entry"] in ew and rng.random() >= p:
        entry = o["entry"]
    else:
        entry = _pick(rng, ew, o["entry"])
    if same and rng.random() >= p:
        targets = o["targets"]
        extra = _pick(rng, _TARGETS[group])
        if rng.random() < 0.25 and extra not in targets.split("、"):  # an opportunistic extra item
            targets = "、".join(sorted([*targets.split("、"), extra]))
    else:
        targets = _pick_set(rng, _TARGETS[group], frozenset(o["targets"].split("、")) if same else None)
    tools = _TOOLS.get(entry, ())
    if not tools:
        tool = ""
    elif o["tool"] in tools and rng.random() >= p:
        tool = o["tool"]
    else:
        tool = tools[int(rng.integers(len(tools)))]
    # Hour of day: the habit with the offender's own spread, or (a departure) the population's.
    if same and premises == o["premises"] and rng.random() >= p:
        hour = (o["hour"] + rng.normal(0.0, o["hour_sd"])) % 24.0
    else:
        hour = _hour(rng, premises)
    date = (t0 + timedelta(days=math.floor(day))).astimezone(LOCAL_TZ).date()
    if o["weekday_only"] and date.weekday() >= 5 and rng.random() < 0.85:
        date += timedelta(days=7 - date.weekday())  # to the Monday after
    local = datetime(date.year, date.month, date.day, tzinfo=LOCAL_TZ) + timedelta(hours=hour)
    true_at = local.astimezone(UTC)
    at = true_at
    if rng.random() < k.time_noise_share:
        at = true_at + timedelta(hours=float(rng.uniform(-k.time_noise_h, k.time_noise_h)))
    # Where: journey to crime from an anchor.
    use2 = not math.isnan(o["anchor2_lat"]) and rng.random() < k.second_anchor_use
    ax, ay = geo.xy(o["anchor2_lat"], o["anchor2_lon"]) if use2 else geo.xy(o["anchor_lat"], o["anchor_lon"])
    for _ in range(30):
        r = rng.gamma(2.0, o["range_m"] / 2.0)
        ang = rng.uniform(0, 2 * math.pi)
        x, y = ax + r * math.cos(ang), ay + r * math.sin(ang)
        if geo.inside(x, y):
            break
    x, y = geo.clip(x, y)
    x, y, place = geo.snap(rng, x, y, premises)
    x, y = geo.clip(x, y)
    lat, lon = geo.latlon(x, y)
    code = _STREET_CODES[entry] if group == "street" else GROUP_CODES[group]
    local_rec = at.astimezone(LOCAL_TZ)
    lh = local_rec.hour + local_rec.minute / 60.0
    text = _describe(trng, group, premises, entry, targets, tool, local_rec, place, k,
                     window=at != true_at and premises in ("住宅", "出租屋", "写字楼", "商铺"))
    return {
        "offender_id": o["offender_id"],
        "category": code,
        "at": pd.Timestamp(at),
        "lat": round(lat, 7),
        "lon": round(lon, 7),
        "premises": premises,
        "entry": entry,
        "targets": targets,
        "tool": tool,
        "local_hour": round(lh, 3),
        "time_of_day": period_of_hour(lh),
        "place": place["name"] if place else "",
        "text": text,
    }


# Words -------------------------------------------------------------------------------------------------

_WHO = ("报警人称", "事主报称", "群众报警称", "受害人反映", "接报：", "报警人{s}先生称", "报警人{s}女士称", "")
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗梁"
_ENTRY_WORDS = {
    "撬锁": ("房门锁被撬", "门锁被撬坏", "被人撬门入室", "防盗门被撬开", "门锁有明显撬压痕迹"),
    "技术开锁": ("门锁无明显撬痕，疑似技术开锁", "锁芯被破坏", "嫌疑人技术开锁入室", "门锁完好，疑被人用工具开锁"),
    "攀爬阳台": ("嫌疑人从阳台攀爬入室", "有人顺着水管爬上阳台进入", "嫌疑人翻越阳台进入室内"),
    "翻窗": ("嫌疑人从窗户翻入", "窗户防盗网被剪开，嫌疑人钻窗入室", "嫌疑人推开窗户翻窗进入"),
    "破窗": ("窗户玻璃被打碎", "嫌疑人砸破玻璃进入", "玻璃门被砸碎"),
    "尾随入室": ("嫌疑人尾随住户进入", "有人尾随他人进门", "嫌疑人趁开门时尾随进入"),
    "未锁门": ("当时房门未锁", "因忘记锁门", "大门虚掩未锁"),
    "剪锁": ("车锁被剪断", "车锁被人剪了", "U型锁被剪开"),
    "短接": ("电门锁被破坏后被短接电线骑走", "嫌疑人剪断电源线短接启动", "被人拔线打火开走"),
    "解码": ("智能锁被解码后骑走", "嫌疑人用工具解码开锁"),
    "未上锁": ("车辆未上锁", "钥匙忘在车上未拔", "当时忘记锁车"),
    "砸车窗": ("车窗玻璃被砸", "副驾驶车窗被砸碎", "车窗被人砸破"),
    "车门未锁": ("车门未锁", "下车时忘记锁车门"),
    "干扰遥控": ("锁车信号疑被干扰，车门未能锁上", "遥控锁车时被干扰"),
    "撬车门": ("车门锁被撬", "驾驶室车门被撬开"),
    "持刀抢劫": ("持刀威胁抢走", "拿刀逼其交出"),
    "飞车抢夺": ("骑摩托车飞车抢走", "骑电动车从身旁经过时抢走"),
    "徒步抢夺": ("从身后一把抢走", "趁其不备抢走"),
}
_TOOL_WORDS = {
    "螺丝刀": ("现场遗留螺丝刀一把", "疑使用螺丝刀作案"), "撬棍": ("现场发现撬棍", "疑使用撬棍撬开"),
    "锡纸": ("锁孔内发现锡纸残留", "疑用锡纸开锁"), "万能钥匙": ("疑使用万能钥匙",),
    "锤子": ("现场遗留铁锤一把", "疑用锤子砸开"), "液压钳": ("疑用液压钳剪断", "附近发现液压钳"),
    "解码器": ("疑使用解码器",), "刀具": ("嫌疑人手持匕首", "嫌疑人持水果刀"),
}
_ITEM_WORDS = {
    "现金": ("现金约{m}元", "人民币{m}元", "现金{m}余元"),
    "手机": ("手机一部", "一部苹果手机", "华为手机一台"),
    "首饰": ("金项链一条", "金手镯一只", "黄金首饰若干", "戒指两枚"),
    "电脑": ("笔记本电脑一台", "平板电脑一台", "一台笔记本"),
    "名烟名酒": ("香烟十余条", "茅台酒两瓶", "名烟名酒一批"),
    "手表": ("手表一块", "名表一块"),
    "包": ("背包一个", "一个手提包", "挎包一个"),
    "电动车": ("{c}电动车一辆", "一辆{c}电瓶车"),
    "电瓶": ("电瓶", "两块电池", "电瓶一块"),
}
_COLOURS = ("黑色", "白色", "红色", "蓝色", "灰色", "银色")


def _ch(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _time_words(rng: np.random.Generator, local: datetime, window: bool) -> str:
    h = local.hour
    if window:  # discovered later: the report gives the window it happened in
        a, b = max(0, h - int(rng.integers(2, 6))), min(23, h + int(rng.integers(2, 6)))
        return f"{local.month}月{local.day}日{a}时至{b}时之间"
    h12 = h - 12 if h > 12 else h
    per = period_of_hour(h)
    return _ch(rng, (f"{local.month}月{local.day}日{per}{h12}时许", f"{local.month}月{local.day}日{h}点左右",
                     f"{per}{h12}点多", f"{local.day}日{h:02d}时{local.minute:02d}分许"))


def _address(rng: np.random.Generator, premises: str, place: dict | None) -> str:
    name = place["name"] if place else _ch(rng, ("辖区某小区", "附近一小区", "某花园小区"))
    road = (place or {}).get("road") or _ch(rng, ("福华路", "深南大道", "红荔路", "益田路", "彩田路"))
    num = (place or {}).get("house_number") or int(rng.integers(1, 300))
    bld = f"{int(rng.integers(1, 12))}栋"
    if premises == "住宅":
        return f"{name}{bld}{int(rng.integers(2, 33))}{int(rng.integers(1, 9)):02d}室"
    if premises == "出租屋":
        comm = ((place or {}).get("community") or "某社区").removesuffix("社区")
        return f"{comm}村{int(rng.integers(1, 30))}巷{int(rng.integers(1, 40))}号出租屋"
    if premises == "商铺":
        return f"{road}{num}号{_ch(rng, ('便利店', '奶茶店', '服装店', '五金店', '烟酒店', '手机店'))}"
    if premises == "写字楼":
        nm = name if place and place.get("category") == "写字楼" else f"{road}某大厦"
        return f"{nm}{_ch(rng, 'ABC')}座{int(rng.integers(3, 30))}楼一公司办公室"
    if premises == "车棚":
        return f"{name}{bld}楼下车棚"
    if premises == "楼道":
        return f"{name}{bld}楼道内"
    if premises == "车辆":
        return _ch(rng, (f"{name}地下车库", f"{road}路边停车位", f"{name}门口停车场"))
    if premises == "巷道":
        comm = (place or {}).get("community")
        return f"{comm.removesuffix('社区')}村一条巷子里" if comm else "某城中村一条巷子里"
    return f"{road}{num}号附近路边"


def _items(rng: np.random.Generator, targets: str) -> str:
    words = []
    for t in targets.split("、"):
        w = _ch(rng, _ITEM_WORDS[t])
        words.append(w.format(m=int(rng.integers(2, 60)) * 100, c=_ch(rng, _COLOURS)))
    return _ch(rng, ("、", "及", "和")).join(words) if len(words) == 2 else "、".join(words)


def _describe(rng: np.random.Generator, group: str, premises: str, entry: str, targets: str, tool: str,
              local: datetime, place: dict | None, k: SeriesKnobs, *, window: bool) -> str:
    who = _ch(rng, _WHO).format(s=_ch(rng, _SURNAMES))
    when = _time_words(rng, local, window)
    where = _address(rng, premises, place)
    items = _items(rng, targets)
    how = "" if rng.random() < k.omit_entry_share else _ch(rng, _ENTRY_WORDS[entry])
    tool_w = _ch(rng, _TOOL_WORDS[tool]) if tool and rng.random() < k.tool_mention_share else ""
    if group == "burglary":
        scene = _ch(rng, (f"其位于{where}的{'店铺' if premises == '商铺' else '住处'}被盗", f"{where}被人入室盗窃",
                          f"回到{where}后发现被盗"))
        loss = _ch(rng, (f"丢失{items}", f"被盗走{items}", f"{items}被盗"))
        parts = [f"{who}{when}，{scene}", how, loss, tool_w, "屋内被翻乱" if rng.random() < 0.3 else ""]
    elif group == "ebike":
        thing = items if "电动车" in targets else f"电动车上的{items}"
        parts = [f"{who}{when}，其停放在{where}的{thing}被盗", how, tool_w]
    elif group == "vehicle":
        car = _ch(rng, ("小汽车", "轿车", "私家车", "白色小车"))
        parts = [f"{who}{when}，其停放在{where}的{car}被人盗窃车内财物", how, f"丢失{items}", tool_w]
    else:
        offender = _ch(rng, ("一名男子", "两名男子", "一名陌生男子", "一名戴头盔的男子"))
        act = how or "抢走"
        parts = [f"{who}{when}在{where}被{offender}{act}{items}", tool_w, "嫌疑人往大路方向逃离"]
    return "，".join(s for s in parts if s) + "。"
