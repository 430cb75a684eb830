"""A seeded 110 call stream for a city, in simulated time (GENERATED data: every call, caller,
phone number, name, address, point and word here is invented).

`generate_calls` returns the calls of `hours` from `start`, time-ordered, without ever sleeping, for
the discrete-event simulator and the live demo. Same arguments (and road graph) → the same list, in
any process (the random generators are seeded from strings, which Python hashes with SHA-512, not
the per-process salted `hash()`; no set or dict order is ever drawn from).

The model, each part kept simple on purpose:

* When — an inhomogeneous Poisson process of events: `calls_per_day` (≈500 for a county-sized bureau
  of ~1,200 officers and ~180k calls a year) × an hour-of-day weight × a day-of-week weight, both
  applied in Asia/Shanghai local time and each of mean 1, so a whole week averages `calls_per_day`.
* What — `DemoCity.pick_category()` (TOP_WEIGHTS, ~15% non-police 12345 matters), with theft and fraud
  weighted up inside 刑事 (see `THEFT_WEIGHT`), because a real 110 line hears far more thefts than
  kidnappings; the 类别 shares themselves are untouched.
* Where — a mixture: most events at `DemoCity.location()` (a house number on a real street of the
  Futian road graph), some around a few seeded hotspots (nightlife street, metro hub, urban
  village…) with a Gaussian spread of 150–300 m, the share depending on the category (fights,
  disputes and thefts concentrate; traffic and fire much less). A hotspot point is named by the
  nearest house number of the same streets (the gazetteer's own interpolation).
* Near repeats — burglary-like thefts (`NEAR_REPEAT_CODES`) form a Hawkes/ETAS branching process:
  background events of those categories are the immigrants, each event has Poisson(`branching`)
  children of the same category, an exponential time lag (mean `NEAR_REPEAT_MEAN_DAYS`) later and a
  Gaussian `NEAR_REPEAT_SIGMA_M` away (cluster representation, generation by generation). Immigrants
  are thinned by (1 − branching), so the expected number of those calls is what `pick_category` alone
  gives. The process starts a burn-in (20 days at branching 0.4) before `start` so that the stream
  is stationary from its first hour; a child of an event from that burn-in has a negative
  `parent_event` (that event is not in the list).
* Callers — a visible event (fire, crash, fight, accident) may be reported by more callers a few
  minutes after the first (DemoCity.repeat_of semantics: own phone, name and words, handset a few
  tens of metres off, same address); every call carries the `event_id` of what it reports.
* Words — `DemoCity.description()`, plus two local styles: colloquial speech and terse 12110 text
  messages (used whenever the channel is 12110-SMS).

Known simplifications: offspring times follow the exponential kernel only (no time-of-day shape);
hotspots have no time profile of their own; a 12345 matter is never reported twice.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from scipy.spatial import cKDTree

from zhihui.geo.gazetteer import Gazetteer
from zhihui.incidents.categories import Category, CategoryTree, categories
from zhihui.sim.demo import LAT_RANGE, LON_RANGE, PLACES, REPEAT_CALLER, STREETS, DemoCity
from zhihui.sim.multicall import poisson
from zhihui.sim.places import HOUSE_SPACING_M

__all__ = [
    "NEAR_REPEAT_CODES",
    "Hotspot",
    "SimCall",
    "daily_profile",
    "generate_calls",
    "hotspot_sites",
    "hourly_profile",
]

LOCAL_TZ = ZoneInfo("Asia/Shanghai")

# Relative call volume by local hour (0 = 00:00–00:59). Shape of published city 110 statistics: a
# trough 03–06 when the city sleeps, a climb with the morning commute, a daytime plateau, and the
# peak in the evening (18–23: drinking, disputes at home, fights at night markets) tailing off after
# midnight. Normalised to mean 1 by `hourly_profile()`.
_HOURLY_RAW = (
    1.05, 0.85, 0.65, 0.45, 0.38, 0.38,  # 00–05
    0.50, 0.72, 0.92, 1.00, 1.05, 1.05,  # 06–11
    1.00, 0.95, 1.00, 1.05, 1.10, 1.20,  # 12–17
    1.32, 1.42, 1.48, 1.48, 1.40, 1.25,  # 18–23
)
# Relative volume by local weekday (Monday first): Friday and Saturday nights out raise both.
_DAILY_RAW = (0.94, 0.93, 0.94, 0.97, 1.09, 1.12, 1.01)

# Burglary-like thefts that cluster as near repeats (same offender or same weak targets): 入室盗窃,
# 盗窃机动车, 盗窃电动车, 盗窃车内财物. Not 扒窃 (hotspot crime, no space-time contagion) nor 现行盗窃.
NEAR_REPEAT_CODES = ("010501", "010503", "010504", "010506")
NEAR_REPEAT_MEAN_DAYS = 3.0  # mean of the exponential time kernel
NEAR_REPEAT_SIGMA_M = 150.0  # per-axis sigma of the Gaussian space kernel: mean offset ≈ 190 m
# The branching process relaxes to its stationary rate as exp(-(1 - branching) t / mean): four such
# times of burn-in leave under 2% of the rate missing at `start` (20 days at 0.4), capped for n → 1.
NEAR_REPEAT_RELAXATIONS = 4.0
NEAR_REPEAT_MAX_BURN_IN_DAYS = 120.0
MAX_GENERATIONS = 60  # safety net only: with branching < 1 clusters die out long before

# Inside 刑事 (01), how much more often than an average sub-type a type's sub-types are called in:
# thefts and frauds are the bulk of criminal calls. Renormalised, so 刑事 keeps its TOP_WEIGHTS share.
THEFT_WEIGHT = {"0105": 4.0, "0106": 3.0}

# Repeat callers (DemoCity.repeat_of semantics): each further caller comes with REPEAT_CALLER[top].
MAX_EXTRA_CALLERS = 4
REPEAT_DELAY_S = (20.0, 120.0, 590.0)  # minimum, mean of the exponential part, cap (stays < 10 min)
REPEAT_JITTER_DEG = 0.0004  # handset positioning error of the later callers (~40 m), as repeat_of

MAX_OFF_STREET_M = 120.0  # a hotspot / near-repeat point farther from any address is redrawn (lake, park)
HOTSPOT_MARGIN_M = 500.0  # hotspot centres keep this far inside the box, so their spread stays in it
HOTSPOT_MIN_SEPARATION_M = 800.0
HOTSPOT_BASE_SHARE = 0.05  # P(event at hotspot j | category) = this × affinity of j for the category
HOTSPOT_MAX_SHARE = 0.8


@dataclass(frozen=True)
class HotspotKind:
    kind: str
    name: str
    sigma_m: float
    places: tuple[str, ...]
    # Affinity by category-code prefix (longest prefix wins); DEFAULT_AFFINITY otherwise.
    affinity: dict[str, float] = field(default_factory=dict)
    streets: tuple[str, ...] = ()  # street-name fragments the centre is put on when the city has them


DEFAULT_AFFINITY = 0.2
# Hotspots lean to 治安 (02) and 纠纷 (08), and to the thefts each kind of place attracts.
HOTSPOT_KINDS = (
    HotspotKind("nightlife", "夜宵酒吧街", 200.0, ("酒吧门口", "烧烤摊旁", "KTV门口", "夜宵店里"),
                {"02": 3.0, "08": 2.0, "010506": 2.0, "010501": 0.3, "01": 0.8, "04": 1.0, "06": 0.6}),
    HotspotKind("metro", "地铁换乘站", 150.0, ("地铁站出口", "地铁站台", "公交站旁", "换乘通道"),
                {"010505": 8.0, "0105": 0.3, "01": 1.0, "06": 2.5, "02": 1.0, "08": 1.0}),
    HotspotKind("village", "城中村", 250.0, ("城中村巷子里", "出租屋楼下", "握手楼之间", "村口牌坊"),
                {"010501": 2.5, "010504": 3.0, "08": 3.0, "02": 2.0, "05": 2.0, "01": 1.5, "07": 1.0},
                ("下沙", "上沙", "沙尾")),
    HotspotKind("mall", "商圈", 250.0, ("商场一楼", "地下停车场", "步行街", "奶茶店门口"),
                {"010505": 3.0, "0106": 2.0, "010501": 0.3, "01": 1.5, "08": 2.0, "06": 1.0, "02": 1.0}),
    HotspotKind("market", "农贸市场", 200.0, ("菜市场里", "市场门口", "水果摊旁"),
                {"08": 3.0, "07": 1.5, "010505": 2.0, "02": 1.0}),
    HotspotKind("school", "学校周边", 300.0, ("校门口", "学校附近", "培训机构楼下"),
                {"06": 2.0, "04": 1.5, "02": 1.0}),
)

# Extra ways callers put it (DemoCity.description covers the call-taker's 报警人称… summaries).
COLLOQUIAL = (
    "喂，是110吗？我在{place}这边，{name}，你们快派人过来！",
    "你好，我要报警，{place}这里{name}，麻烦快点来。",
    "我跟你说啊，就在{place}，刚刚{name}，人还在那儿。",
)
COLLOQUIAL_NON_POLICE = (
    "我想反映个事，{place}{name}的问题一直没人管。",
    "你好，问一下，{place}{name}这种情况找哪个部门？",
)
SMS = (
    "12110短信：{place}，{name}，请速派警。",
    "12110短信：本人在{place}，遇到{name}，不方便通话。",
    "12110短信：{address}{name}，速来。",
)
SMS_NON_POLICE = ("12110短信：{place}{name}，请有关部门处理。",)
COLLOQUIAL_SHARE = 0.25
NEAR_REPEAT_REMARK = "（报警人称附近前几天也发生过类似情况）"
NEAR_REPEAT_REMARK_SHARE = 0.3

_M_PER_DEG = 111_320.0
_LAT0 = (LAT_RANGE[0] + LAT_RANGE[1]) / 2
_LON0 = (LON_RANGE[0] + LON_RANGE[1]) / 2
_KX = _M_PER_DEG * math.cos(math.radians(_LAT0))


@dataclass(frozen=True)
class SimCall:
    """One call of the stream. `body` is exactly what POST /api/v1/incidents takes (no received_at:
    the consumer stamps `at`, or lets the server stamp its own clock)."""

    at: datetime  # tz-aware UTC
    event_id: int  # calls of one event share it; ids count from 1 in order of the first call
    caller_index: int  # 0 = the first caller of the event
    parent_event: int | None  # the near-repeat event that triggered this one (< 0: before `start`)
    hotspot: int | None  # index into hotspot_sites() when the event was drawn at a hotspot
    category_code: str
    police: bool
    body: dict[str, Any]


@dataclass(frozen=True)
class Hotspot:
    index: int
    kind: str
    label: str
    lat: float
    lon: float
    sigma_m: float
    places: tuple[str, ...]
    affinity: dict[str, float]


def hourly_profile() -> tuple[float, ...]:
    """24 weights by local hour (Asia/Shanghai), mean 1."""
    mean = sum(_HOURLY_RAW) / len(_HOURLY_RAW)
    return tuple(w / mean for w in _HOURLY_RAW)


def daily_profile() -> tuple[float, ...]:
    """7 weights by local weekday (Monday first), mean 1."""
    mean = sum(_DAILY_RAW) / len(_DAILY_RAW)
    return tuple(w / mean for w in _DAILY_RAW)


# Addresses -------------------------------------------------------------------------------------------


def _xy(lat: Any, lon: Any) -> tuple[Any, Any]:
    return (np.asarray(lon) - _LON0) * _KX, (np.asarray(lat) - _LAT0) * _M_PER_DEG


def _in_box(lat: float, lon: float) -> bool:
    return LAT_RANGE[0] <= lat <= LAT_RANGE[1] and LON_RANGE[0] <= lon <= LON_RANGE[1]


class _Addresses:
    """Every house number callers may name (the numbers DemoCity.location() draws), at the point the
    gazetteer interpolates for it, in one KD-tree: nearest address of any point in one query."""

    def __init__(self, city: DemoCity) -> None:
        self.streets: list[str] = []
        road_of: list[int] = []
        numbers: list[int] = []
        pts: list[tuple[float, float]] = []
        streets = city.streets()
        gaz = city._gazetteer
        if streets and gaz is not None:
            for road, length in streets:
                self.streets.append(road.name)
                for n in range(1, max(1, int(length // HOUSE_SPACING_M) * 2) + 1):
                    lat, lon, _, _ = gaz.interpolate(road, n)
                    road_of.append(len(self.streets) - 1)
                    numbers.append(n)
                    pts.append((lat, lon))
        else:  # no road graph: the straight fallback streets DemoCity uses then
            for s in STREETS:
                self.streets.append(s.name)
                for n in range(1, s.max_number + 1):
                    f = (n - 1) / max(1, s.max_number - 1)
                    road_of.append(len(self.streets) - 1)
                    numbers.append(n)
                    pts.append((s.start[0] + f * (s.end[0] - s.start[0]), s.start[1] + f * (s.end[1] - s.start[1])))
        self.road_of = road_of
        self.numbers = numbers
        self.points = np.array(pts, dtype=float)
        x, y = _xy(self.points[:, 0], self.points[:, 1])
        self.tree = cKDTree(np.column_stack((x, y)))

    def nearest(self, lat: float, lon: float) -> tuple[int, float]:
        """(index of the nearest house number, its distance in metres)."""
        x, y = _xy(lat, lon)
        d, j = self.tree.query((float(x), float(y)))
        return int(j), float(d)

    def address(self, j: int) -> str:
        return f"深圳市福田区{self.streets[self.road_of[j]]}{self.numbers[j]}号"


# The index depends only on the gazetteer (process-wide), so build it once; holding the gazetteer in
# the cache keeps its id from being reused by another object.
_ADDRESS_CACHE: dict[int, tuple[Gazetteer | None, _Addresses]] = {}


def _addresses(city: DemoCity) -> _Addresses:
    city.streets()
    gaz = city._gazetteer
    key = id(gaz)
    hit = _ADDRESS_CACHE.get(key)
    if hit is None or hit[0] is not gaz:
        hit = (gaz, _Addresses(city))
        _ADDRESS_CACHE[key] = hit
    return hit[1]


def _scatter(rng: random.Random, addrs: _Addresses, lat: float, lon: float,
             sigma_m: float) -> tuple[float, float, str]:
    """A point ~N(centre, sigma) inside the box and near some address (redrawn otherwise: nobody
    calls from the middle of a lake), with the nearest house number as its address."""
    best: tuple[float, float, int, float] | None = None
    for _ in range(40):
        plat = lat + rng.gauss(0.0, sigma_m) / _M_PER_DEG
        plon = lon + rng.gauss(0.0, sigma_m) / _KX
        if not _in_box(plat, plon):
            continue
        j, d = addrs.nearest(plat, plon)
        if d <= MAX_OFF_STREET_M:
            return round(plat, 6), round(plon, 6), addrs.address(j)
        if best is None or d < best[3]:
            best = (plat, plon, j, d)
    if best is None:  # centre at the very edge of the box: stay at the centre, clamped
        plat = min(max(lat, LAT_RANGE[0]), LAT_RANGE[1])
        plon = min(max(lon, LON_RANGE[0]), LON_RANGE[1])
        j, _ = addrs.nearest(plat, plon)
        return round(plat, 6), round(plon, 6), addrs.address(j)
    return round(best[0], 6), round(best[1], 6), addrs.address(best[2])


# Hotspots --------------------------------------------------------------------------------------------


def _hotspots(addrs: _Addresses, seed: int, n: int) -> list[Hotspot]:
    rng = random.Random(f"{seed}:hotspots")
    pts = addrs.points
    x, y = _xy(pts[:, 0], pts[:, 1])
    x0, y0 = _xy(LAT_RANGE[0], LON_RANGE[0])
    x1, y1 = _xy(LAT_RANGE[1], LON_RANGE[1])
    m = HOTSPOT_MARGIN_M
    inner = np.flatnonzero((x >= x0 + m) & (x <= x1 - m) & (y >= y0 + m) & (y <= y1 - m))
    if len(inner) == 0:
        inner = np.arange(len(pts))
    chosen: list[int] = []
    out: list[Hotspot] = []
    for i in range(n):
        kind = HOTSPOT_KINDS[i % len(HOTSPOT_KINDS)]
        pool = [int(j) for j in inner if any(s in addrs.streets[addrs.road_of[j]] for s in kind.streets)]
        j = -1
        for attempt in range(400):
            # Half the attempts on the kind's own streets (the real urban villages), then anywhere.
            src = pool if pool and attempt < 200 else inner
            cand = int(src[rng.randrange(len(src))])
            if all(math.hypot(x[cand] - x[k], y[cand] - y[k]) >= HOTSPOT_MIN_SEPARATION_M for k in chosen):
                j = cand
                break
        if j < 0:  # the box is full: accept an overlap rather than fewer hotspots
            j = int(inner[rng.randrange(len(inner))])
        chosen.append(j)
        street = addrs.streets[addrs.road_of[j]]
        out.append(Hotspot(index=i, kind=kind.kind, label=f"{kind.name}（{street}一带）",
                           lat=round(float(pts[j, 0]), 6), lon=round(float(pts[j, 1]), 6),
                           sigma_m=kind.sigma_m, places=kind.places, affinity=dict(kind.affinity)))
    return out


def hotspot_sites(*, seed: int, hotspots: int = 4, tree: CategoryTree | None = None) -> list[Hotspot]:
    """The hotspots `generate_calls` uses for this seed (their index is SimCall.hotspot)."""
    city = DemoCity(tree or categories(), random.Random(f"{seed}:city"))
    return _hotspots(_addresses(city), seed, hotspots)


def _affinity(h: Hotspot, code: str) -> float:
    for n in range(len(code), 0, -2):
        if code[:n] in h.affinity:
            return h.affinity[code[:n]]
    return DEFAULT_AFFINITY


# Time ------------------------------------------------------------------------------------------------


def _arrivals(rng: random.Random, start: datetime, t0: float, t1: float, per_day: float) -> list[float]:
    """Event times (seconds from `start`) in [t0, t1): Poisson, rate constant within each local hour
    (exponential gaps restarted at each hour boundary, exact by memorylessness)."""
    hourly, daily = hourly_profile(), daily_profile()
    out: list[float] = []
    t = t0
    while t < t1:
        local = (start + timedelta(seconds=t)).astimezone(LOCAL_TZ)
        boundary = local.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        t_next = min(t1, (boundary - start).total_seconds())
        rate = per_day / 86_400.0 * hourly[local.hour] * daily[local.weekday()]
        if rate > 0:
            s = t + rng.expovariate(rate)
            while s < t_next:
                out.append(s)
                s += rng.expovariate(rate)
        t = max(t_next, t + 1e-6)
    return out


# Generation ------------------------------------------------------------------------------------------


@dataclass
class _Event:
    t: float  # seconds from start
    key: int  # creation order: tie-break, so the order never depends on anything but the draws
    category: Category
    lat: float
    lon: float
    address: str
    hotspot: int | None = None
    parent: _Event | None = None
    event_id: int = 0


def _weight_thefts(city: DemoCity) -> None:
    """Scale DemoCity's leaf weights inside 刑事 (THEFT_WEIGHT), keeping 刑事's total weight."""
    weights = city.police_weights
    idx = [i for i, c in enumerate(city.police) if c.top == "01"]
    before = sum(weights[i] for i in idx)
    for i in idx:
        code = city.police[i].code
        weights[i] *= next((w for p, w in THEFT_WEIGHT.items() if code.startswith(p)), 1.0)
    after = sum(weights[i] for i in idx)
    if after > 0:
        for i in idx:
            weights[i] *= before / after


def _describe(city: DemoCity, rng: random.Random, event: _Event, channel: str,
              places: Sequence[str]) -> str:
    cat = event.category
    place = rng.choice(places)
    if channel == "12110-SMS":
        text = rng.choice(SMS if cat.police else SMS_NON_POLICE)
    elif rng.random() < COLLOQUIAL_SHARE:
        text = rng.choice(COLLOQUIAL if cat.police else COLLOQUIAL_NON_POLICE)
    else:
        text = city.description(cat)
    text = text.format(place=place, name=cat.name, address=event.address.removeprefix("深圳市福田区"))
    if event.parent is not None and rng.random() < NEAR_REPEAT_REMARK_SHARE:
        text += NEAR_REPEAT_REMARK
    return text


def generate_calls(*, seed: int, start: datetime, hours: float, calls_per_day: float = 500.0,
                   tree: CategoryTree | None = None, hotspots: int = 4, branching: float = 0.4) -> list[SimCall]:
    """The calls of [start, start + hours), sorted by `at` (then event, then caller).

    `calls_per_day` is the mean number of *events* (first calls) per day over a week, near-repeat
    offspring included; repeat callers of an event come on top (~5% more calls).
    """
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("start must be timezone-aware")
    if hours < 0 or calls_per_day < 0 or hotspots < 0:
        raise ValueError("hours, calls_per_day and hotspots must not be negative")
    if not 0.0 <= branching < 1.0:
        raise ValueError("branching must be in [0, 1): a ratio of 1 or more never dies out")
    start = start.astimezone(UTC)
    end = hours * 3600.0
    tree = tree or categories()
    city = DemoCity(tree, random.Random(f"{seed}:city"))
    _weight_thefts(city)
    addrs = _addresses(city)
    sites = _hotspots(addrs, seed, hotspots)
    near_repeat = frozenset(c for c in NEAR_REPEAT_CODES if c in tree)
    rng_space = random.Random(f"{seed}:space")
    rng_branch = random.Random(f"{seed}:branching")
    rng_talk = random.Random(f"{seed}:callers")

    burn = 0.0
    if near_repeat and branching > 0:
        burn = 86_400.0 * min(NEAR_REPEAT_MAX_BURN_IN_DAYS,
                              NEAR_REPEAT_RELAXATIONS * NEAR_REPEAT_MEAN_DAYS / (1.0 - branching))
    events: list[_Event] = []
    immigrants: list[_Event] = []
    for t in _arrivals(random.Random(f"{seed}:times"), start, -burn, end, calls_per_day):
        cat = city.pick_category()
        nr = cat.code in near_repeat
        if t < 0 and not nr:
            continue  # the burn-in only seeds the branching process
        if nr and rng_space.random() < branching:
            continue  # thinned: offspring make up the difference on average
        ev = _place(city, addrs, sites, rng_space, t, len(events), cat)
        events.append(ev)
        if nr:
            immigrants.append(ev)

    # Offspring, generation by generation (FIFO): each event's children, then theirs.
    queue = deque((ev, 0) for ev in immigrants)
    while queue:
        parent, gen = queue.popleft()
        if gen >= MAX_GENERATIONS:
            continue
        for _ in range(poisson(branching, rng_branch)):
            t = parent.t + rng_branch.expovariate(1.0 / (NEAR_REPEAT_MEAN_DAYS * 86_400.0))
            if t >= end:
                continue
            lat, lon, address = _scatter(rng_branch, addrs, parent.lat, parent.lon, NEAR_REPEAT_SIGMA_M)
            child = _Event(t, len(events), parent.category, lat, lon, address, parent=parent)
            events.append(child)
            queue.append((child, gen + 1))

    events.sort(key=lambda e: (e.t, e.key))
    before = [e for e in events if e.t < 0]
    inside = [e for e in events if e.t >= 0]
    for i, e in enumerate(reversed(before), 1):
        e.event_id = -i
    for i, e in enumerate(inside, 1):
        e.event_id = i

    calls: list[SimCall] = []
    for e in inside:
        calls.extend(_callers(city, rng_talk, e, sites, start, end))
    calls.sort(key=lambda c: (c.at, c.event_id, c.caller_index))
    return calls


def _place(city: DemoCity, addrs: _Addresses, sites: Sequence[Hotspot], rng: random.Random, t: float,
           key: int, cat: Category) -> _Event:
    """Hotspot j with P = base × affinity(j, category) (capped in total), else the diffuse city."""
    shares = [HOTSPOT_BASE_SHARE * _affinity(h, cat.code) for h in sites]
    total = sum(shares)
    scale = HOTSPOT_MAX_SHARE / total if total > HOTSPOT_MAX_SHARE else 1.0
    u = rng.random()
    acc = 0.0
    for h, share in zip(sites, shares, strict=True):
        acc += share * scale
        if u < acc:
            lat, lon, address = _scatter(rng, addrs, h.lat, h.lon, h.sigma_m)
            return _Event(t, key, cat, lat, lon, address, hotspot=h.index)
    address, lat, lon = city.location()
    return _Event(t, key, cat, lat, lon, address)


def _callers(city: DemoCity, rng: random.Random, e: _Event, sites: Sequence[Hotspot], start: datetime,
             end: float) -> list[SimCall]:
    cat = e.category
    places = sites[e.hotspot].places if e.hotspot is not None else PLACES
    offsets = [0.0]
    p = REPEAT_CALLER.get(cat.top, 0.0) if cat.police else 0.0
    while len(offsets) <= MAX_EXTRA_CALLERS and rng.random() < p:
        lo, mean, cap = REPEAT_DELAY_S
        while (gap := lo + rng.expovariate(1.0 / mean)) >= cap:
            pass
        offsets.append(gap)
    offsets.sort()
    out = []
    for k, off in enumerate(offsets):
        if e.t + off >= end:
            break  # a later caller after the end of the stream belongs to the next one
        lat, lon = e.lat, e.lon
        if k:
            lat = min(max(lat + rng.uniform(-REPEAT_JITTER_DEG, REPEAT_JITTER_DEG), LAT_RANGE[0]), LAT_RANGE[1])
            lon = min(max(lon + rng.uniform(-REPEAT_JITTER_DEG, REPEAT_JITTER_DEG), LON_RANGE[0]), LON_RANGE[1])
        channel = city.channel(cat)
        body: dict[str, Any] = {
            "channel": channel,
            "caller_phone": city.phone(),
            "caller_name": city.caller_name(),
            "address": e.address,
            "lat": round(lat, 6),
            "lon": round(lon, 6),
            "category_code": cat.code,
            "description": _describe(city, rng, e, channel, places),
        }
        out.append(SimCall(at=start + timedelta(seconds=e.t + off), event_id=e.event_id, caller_index=k,
                           parent_event=e.parent.event_id if e.parent is not None else None,
                           hotspot=e.hotspot, category_code=cat.code, police=cat.police, body=body))
    return out
