"""GENERATED places for the demo city: communities (社区) and POIs (小区, 大厦, 酒店, 学校, 医院, 地铁站…).

**Everything here is invented** (``source='generated'``): plausible Chinese names placed along the REAL
streets of the road graph (inside its actual extent), each with a 门牌 (road + house number) and a few
buildings (栋/座). They give the gazetteer and the simulator something to find while no real 标准地址
table is loaded; a name may coincide with a real place by chance (names are built from nearby street
names, as Shenzhen's often are), but its position and 门牌 are fiction. Deterministic: the same seed and
the same graph give the same list.

House numbers follow the usual Chinese convention: odd on one side of the street, even on the other,
increasing from the street's west end (south end for a north–south street), one pair per
`HOUSE_SPACING_M` metres. `house_number_offset_m` is that rule's inverse, which the gazetteer uses to
estimate a number's position on streets without known 门牌.
"""

from __future__ import annotations

import itertools
import math
import random
import re
from collections.abc import Sequence
from typing import Any

__all__ = ["HOUSE_SPACING_M", "generate_places", "house_number_offset_m", "street_segments", "street_stem"]

HOUSE_SPACING_M = 20.0
"""Metres of frontage per pair of house numbers (one odd, one even)."""

_EARTH_M_PER_DEG = 6371008.8 * math.pi / 180.0
_NOT_FOR_PLACES = re.compile(r"(立交|立交桥|桥|通道|隧道|高速|栈道|步道)$")

# Generic, auspicious name parts (no real developer or company brands).
_WORDS = (
    "锦绣",
    "金海",
    "翠林",
    "碧云",
    "嘉和",
    "福景",
    "康乐",
    "祥和",
    "瑞丰",
    "安居",
    "怡景",
    "丽晶",
    "明珠",
    "东方",
    "海韵",
    "紫荆",
    "荔景",
    "香榭",
    "华庭",
    "雅园",
    "天悦",
    "星海",
    "御景",
    "丰泽",
    "宏发",
    "永安",
    "盛世",
    "泰富",
    "鹏城",
    "南国",
    "新世纪",
    "金桂",
    "银湖",
    "春晖",
    "秋实",
    "松涛",
    "翠湖",
    "碧海",
    "朝阳",
    "阳光",
    "彩虹",
    "蓝天",
    "云顶",
    "丹枫",
    "绿景",
    "富华",
    "鸿运",
    "恒安",
    "百合",
    "玉兰",
    "金城",
    "文华",
)
# (category, kind, suffixes, weight, stem-from-street probability, buildings (min, max) or None)
_CATEGORIES: tuple[tuple[str, str, tuple[str, ...], float, float, tuple[int, int] | None], ...] = (
    ("住宅小区", "residential", ("花园", "小区", "家园", "苑", "公寓", "新村", "华庭", "雅居"), 40, 0.3, (2, 12)),
    ("写字楼", "office", ("大厦", "广场", "商务中心", "大楼"), 16, 0.3, (1, 3)),
    ("酒店", "hotel", ("酒店", "宾馆"), 7, 0.3, (1, 2)),
    ("学校", "school", ("小学", "中学", "幼儿园", "实验学校"), 8, 0.7, (1, 4)),
    ("医疗", "health", ("医院", "社康中心", "诊所"), 5, 0.5, (1, 3)),
    ("商业", "shop", ("商场", "超市", "农贸市场", "购物中心"), 7, 0.4, (1, 2)),
    ("公园", "park", ("公园",), 3, 0.7, None),
    ("公交站", "bus_stop", ("公交站",), 6, 1.0, None),
    ("地铁站", "metro", ("地铁站",), 3, 1.0, None),
    ("加油站", "fuel", ("加油站",), 2, 0.6, None),
)


def street_stem(name: str) -> str:
    """The distinctive part of a street name: 红荔西路 → 红荔, 泰然四路 → 泰然, 景田南七街支路 → 景田."""
    stem = name
    while True:
        prev = stem
        stem = re.sub(r"(辅路|辅道|支路)$", "", stem)
        stem = re.sub(r"(大道|大街|立交桥|立交|路|街|道|巷|坊|桥|支)$", "", stem)
        stem = re.sub(r"[一二三四五六七八九十]+$", "", stem)
        stem = re.sub(r"[东南西北中]$", "", stem) if len(stem) > 2 else stem
        if stem == prev or len(stem) <= 2:
            return stem


def _parse_listish(raw: Any) -> tuple[str, ...]:
    if isinstance(raw, str):
        return (raw,)
    return tuple(str(x) for x in raw or ())


def street_segments(graph: Any) -> list[tuple[int, int, tuple[str, ...], tuple[tuple[float, float], ...]]]:
    """Named road segments (u, v, names, polyline of (lat, lon) from u to v), one per unordered node pair.

    `graph` is a `zhihui.geo.roads.RoadGraph` or an iterable of (u, v, names, points) tuples (what the
    gazetteer reads from the GraphML). Output is sorted and deduplicated, so both give the same list.
    """
    raw: list[tuple[int, int, tuple[str, ...], tuple[tuple[float, float], ...]]] = []
    if hasattr(graph, "edge_names") and hasattr(graph, "geom_ptr"):
        ids = graph.node_ids
        for e, names in enumerate(graph.edge_names):
            if not names:
                continue
            a, b = int(graph.geom_ptr[e]), int(graph.geom_ptr[e + 1])
            pts = tuple(zip(graph.geom_lat[a:b].tolist(), graph.geom_lon[a:b].tolist(), strict=True))
            raw.append((int(ids[graph.edge_src[e]]), int(ids[graph.indices[e]]), tuple(names), pts))
    else:
        for u, v, names, pts in graph:
            if names:
                raw.append((int(u), int(v), _parse_listish(names), tuple((float(a), float(b)) for a, b in pts)))
    best: dict[tuple[int, int], tuple[int, int, tuple[str, ...], tuple[tuple[float, float], ...]]] = {}
    for u, v, names, pts in raw:
        if u > v:
            u, v, pts = v, u, tuple(reversed(pts))
        key = (u, v)
        names = tuple(sorted(names))
        old = best.get(key)
        if old is None or names < old[2]:
            best[key] = (u, v, names, tuple((round(a, 7), round(b, 7)) for a, b in pts))
    return [best[k] for k in sorted(best)]


def house_number_offset_m(number: int) -> float:
    """Metres from the street's numbering origin to house `number` under the generator's rule."""
    return max(0, (int(number) - 1) // 2) * HOUSE_SPACING_M + HOUSE_SPACING_M / 2


class _Street:
    def __init__(self, name: str, polylines: list[tuple[tuple[float, float], ...]], lat0: float) -> None:
        self.name = name
        self.polylines = polylines
        self.kx = _EARTH_M_PER_DEG * math.cos(math.radians(lat0))
        self.ky = _EARTH_M_PER_DEG
        pts = [p for pl in polylines for p in pl]
        xs = [p[1] * self.kx for p in pts]
        ys = [p[0] * self.ky for p in pts]
        dx, dy = max(xs) - min(xs), max(ys) - min(ys)
        # Numbering direction: west→east if the street runs mostly east–west, else south→north.
        self.dir = (1.0, 0.0) if dx >= dy else (0.0, 1.0)
        self.origin = min(x * self.dir[0] + y * self.dir[1] for x, y in zip(xs, ys, strict=True))
        self.seg_lengths = [
            sum(math.hypot((b[1] - a[1]) * self.kx, (b[0] - a[0]) * self.ky) for a, b in itertools.pairwise(pl))
            for pl in polylines
        ]
        self.length = sum(self.seg_lengths)

    def t(self, lat: float, lon: float) -> float:
        return lon * self.kx * self.dir[0] + lat * self.ky * self.dir[1] - self.origin


def _point_along(
    pl: Sequence[tuple[float, float]], f: float, kx: float, ky: float
) -> tuple[float, float, float, float]:
    """Point at fraction f of the polyline's length, with the unit direction (east, north) there."""
    lens = [math.hypot((b[1] - a[1]) * kx, (b[0] - a[0]) * ky) for a, b in itertools.pairwise(pl)]
    target = f * sum(lens)
    k = 0
    while k < len(lens) - 1 and target > lens[k]:
        target -= lens[k]
        k += 1
    a, b, seg = pl[k], pl[k + 1], lens[k]
    if seg <= 0:
        return a[0], a[1], 1.0, 0.0
    r = min(1.0, target / seg)
    return (a[0] + (b[0] - a[0]) * r, a[1] + (b[1] - a[1]) * r, (b[1] - a[1]) * kx / seg, (b[0] - a[0]) * ky / seg)


def _load_default_graph() -> Any:
    from zhihui.geo.roads import load_graphml

    try:
        from zhihui.dispatch.recommend import default_graph_path

        path = default_graph_path()
    except Exception:  # pragma: no cover
        path = None
    if path is None or not path.exists():
        return None
    return load_graphml(path)


def generate_places(seed: int = 1, n: int = 300, graph: Any = None) -> list[dict]:
    """`n` generated places (communities' 社区工作站 included) plus their communities, on real streets.

    graph: a `RoadGraph`, an iterable of (u, v, names, points) segments, or None for the default road
    graph (``ZHIHUI_ROAD_GRAPH`` or ../shared/data). No graph → []. Each dict: id, name, kind ('place'
    or 'community'), category, lat, lon (WGS-84), road, house_number, address, buildings, community,
    aliases, source='generated'.
    """
    if graph is None:
        graph = _load_default_graph()
        if graph is None:
            return []
    segments = street_segments(graph)
    if not segments or n <= 0:
        return []
    lat0 = sum(p[0] for s in segments for p in s[3]) / sum(len(s[3]) for s in segments)
    by_name: dict[str, list[tuple[tuple[float, float], ...]]] = {}
    for _, _, names, pts in segments:
        name = re.sub(r"(辅路|辅道)$", "", names[0])  # a 辅路 address is given on the main road
        if _NOT_FOR_PLACES.search(name) or len(pts) < 2:
            continue
        by_name.setdefault(name, []).append(pts)
    streets = [_Street(name, pls, lat0) for name, pls in sorted(by_name.items())]
    streets = [s for s in streets if s.length >= 60]
    if not streets:
        return []
    rng = random.Random(seed)
    total_len = sum(s.length for s in streets)
    weights = [s.length / total_len for s in streets]
    used_names: set[str] = set()
    used_numbers: set[tuple[str, int]] = set()

    def locate(street: _Street) -> tuple[float, float, int]:
        k = rng.choices(range(len(street.polylines)), weights=street.seg_lengths)[0]
        pl = street.polylines[k]
        lat, lon, ux, uy = _point_along(pl, rng.uniform(0.15, 0.85), street.kx, street.ky)
        side = rng.choice((1, -1))
        d = rng.uniform(25.0, 60.0) * side
        # Normal to the left of the segment direction is (-uy, ux) in (x=east, y=north).
        plon = lon + (-uy * d) / street.kx
        plat = lat + (ux * d) / street.ky
        t = street.t(lat, lon)
        # Odd numbers on the left of the numbering direction, even on the right.
        left = (street.dir[0] * (plat - lat) * street.ky - street.dir[1] * (plon - lon) * street.kx) > 0
        number = 2 * int(max(0.0, t) // HOUSE_SPACING_M) + (1 if left else 2)
        while (street.name, number) in used_numbers:
            number += 2
        used_numbers.add((street.name, number))
        return round(plat, 7), round(plon, 7), number

    def unique(name: str) -> str | None:
        return None if name in used_names else name

    places: list[dict] = []
    # Communities first: each named after a street, with its 社区工作站 on that street.
    n_comm = max(3, min(n // 12, len(streets)))
    stems = sorted({street_stem(s.name) for s in streets if len(street_stem(s.name)) >= 2})
    rng.shuffle(stems)
    communities: list[dict] = []
    for stem in stems[:n_comm]:
        street = max((s for s in streets if street_stem(s.name) == stem), key=lambda s: s.length)
        lat, lon, number = locate(street)
        cname = f"{stem}社区"
        used_names.add(cname)
        communities.append(
            {
                "id": f"gen{seed}-c{len(communities) + 1:03d}",
                "name": cname,
                "kind": "community",
                "category": "社区",
                "lat": lat,
                "lon": lon,
                "road": street.name,
                "house_number": None,
                "address": None,
                "buildings": [],
                "community": cname,
                "aliases": [f"{stem}社区居委会"],
                "source": "generated",
            }
        )
        wname = f"{cname}工作站"
        used_names.add(wname)
        places.append(
            {
                "id": "",
                "name": wname,
                "kind": "place",
                "category": "社区工作站",
                "lat": lat,
                "lon": lon,
                "road": street.name,
                "house_number": number,
                "address": f"{street.name}{number}号",
                "buildings": [],
                "community": cname,
                "aliases": [f"{stem}社区居委会", f"{stem}工作站"],
                "source": "generated",
            }
        )
    # Metro stations at the big interchanges, named after them (车公庙立交 → 车公庙地铁站).
    interchanges: dict[str, list[tuple[float, float]]] = {}
    for _, _, names, pts in segments:
        for name in names:
            if re.search(r"立交桥?$", name):
                interchanges.setdefault(name, []).extend(pts)
    for name, pts in sorted(interchanges.items()):
        stem = re.sub(r"立交桥?$", "", name)
        sname = f"{stem}地铁站"
        if len(stem) < 2 or sname in used_names or len(places) >= n:
            continue
        used_names.add(sname)
        lat = sum(p[0] for p in pts) / len(pts) + rng.uniform(-0.0003, 0.0003)
        lon = sum(p[1] for p in pts) / len(pts) + rng.uniform(-0.0003, 0.0003)
        places.append(
            {
                "id": "",
                "name": sname,
                "kind": "place",
                "category": "地铁站",
                "lat": round(lat, 7),
                "lon": round(lon, 7),
                "road": None,
                "house_number": None,
                "address": None,
                "buildings": [],
                "community": None,
                "aliases": [f"{stem}站"],
                "source": "generated",
            }
        )
    cat_weights = [c[3] for c in _CATEGORIES]
    attempts = 0
    while len(places) < n and attempts < n * 20:
        attempts += 1
        street = rng.choices(streets, weights=weights)[0]
        category, _, suffixes, _, p_stem, bld = rng.choices(_CATEGORIES, weights=cat_weights)[0]
        suffix = rng.choice(suffixes)
        stem = street_stem(street.name)
        if rng.random() < p_stem and len(stem) >= 2:
            base = stem
        else:
            base = rng.choice(_WORDS)
        name = unique(base + suffix)
        if name is None and category == "住宅小区":
            name = unique(base + suffix + rng.choice(("二期", "三期", "四期", "五期")))
        if name is None:
            continue
        used_names.add(name)
        lat, lon, number = locate(street)
        if bld is None:
            buildings: list[str] = []
        elif category == "写字楼":
            buildings = [f"{c}座" for c in "ABCD"[: rng.randint(*bld)]]
        else:
            buildings = [f"{i}栋" for i in range(1, rng.randint(*bld) + 1)]
        places.append(
            {
                "id": "",
                "name": name,
                "kind": "place",
                "category": category,
                "lat": lat,
                "lon": lon,
                "road": street.name,
                "house_number": number,
                "address": f"{street.name}{number}号",
                "buildings": buildings,
                "community": None,
                "aliases": [],
                "source": "generated",
            }
        )
    for i, p in enumerate(places, 1):
        p["id"] = f"gen{seed}-p{i:04d}"
        if p["community"] is None and communities:
            kx = math.cos(math.radians(lat0))
            p["community"] = min(
                communities, key=lambda c: (c["lat"] - p["lat"]) ** 2 + ((c["lon"] - p["lon"]) * kx) ** 2
            )["name"]
    return communities + places
