"""地名地址库 (gazetteer): every name a caller may say, with where it is, for offline geocoding.

Entries (`GazetteerEntry`): id, name, kind, aliases, a WGS-84 point, road geometry, source.

* kind "road" — every named street of the road GraphML (footways and service roads too: callers name
  them), its edges merged by name. The point is the middle of the street's *axis* (the longest chain
  through its edges, numbered from the west end, or the south end for a north–south street); the axis is
  what house numbers are interpolated along. Source "osm".
* kind "intersection" — nodes shared by two differently named streets ("X辅路" counts as X), clustered
  (a dual-carriageway junction has several shared nodes) and named "A与B交叉口", both orders as aliases.
  The point is the cluster's centroid. Source "osm".
* kind "place", "community", "house_number" — from `zhihui.sim.places` (source "generated", invented
  names on real streets) until a real 标准地址 table is loaded with `add_entries` (source "imported").
* kind "district" — the home city's districts and the city itself, from cpca's GB/T 2260 table.

Coordinates: the GraphML is WGS-84 (OSM). cpca's `adcodes.csv` coordinates are AMap district centres,
i.e. GCJ-02 (inferred: the values match AMap's published centres, e.g. 北京市 116.407394, 39.904211;
cpca does not document it). GCJ-02 sits ~600 m from WGS-84 in Shenzhen, so they are converted with
`zhihui.geo.coords.gcj02_to_wgs84`. Districts missing from cpca's 2020 snapshot (龙华区, 坪山区, 光明区)
take the centroid of ../shared/data/shenzhen_districts.geojson when that file exists (its coordinates
are taken as WGS-84; not verified).

Matching (`search`): exact name/alias → homophone key (pypinyin, with the usual southern mergers
l/n, zh/z, ch/c, sh/s, -ng/-n: 深兰大道 = 深南大道) → fuzzy (rapidfuzz ratio on characters and on the
homophone keys) → a known name at the end of a noisy one ("报警深南大道"). Keys are built once.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import math
import re
import threading
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
from pypinyin import Style, lazy_pinyin
from rapidfuzz import fuzz, process
from scipy.spatial import cKDTree

from zhihui.core.config import shared_data
from zhihui.geo.coords import EARTH_RADIUS_M, gcj02_to_wgs84
from zhihui.geo.roads import _parse_linestring, _parse_listish
from zhihui.intake.address import HOME_ADCODE, _admin, _opencc, admin_division
from zhihui.sim.places import generate_places, house_number_offset_m

__all__ = [
    "KINDS",
    "Gazetteer",
    "GazetteerEntry",
    "Match",
    "load_default",
    "norm_name",
    "road_base",
    "sound_key",
]

log = logging.getLogger(__name__)

KINDS = ("road", "intersection", "place", "community", "district", "house_number")
SOURCES = ("osm", "generated", "imported")
# Classes that are not streets for intersection purposes (a footpath crossing is not a 路口).
_NOT_STREET = frozenset(
    {"footway", "path", "steps", "cycleway", "corridor", "bridleway", "track", "construction", "proposed", "elevator"}
)
_JUNCTION_CLUSTER_M = 120.0  # shared nodes closer than this belong to one junction
_DENSIFY_M = 15.0
_M_PER_DEG = EARTH_RADIUS_M * math.pi / 180.0
_PUNCT_RE = re.compile(r"[\s\W_]+", re.UNICODE)
_FU_RE = re.compile(r"(辅路|辅道)$")


# --------------------------------------------------------------------------------------------------
# Name keys


def norm_name(s: str) -> str:
    """Comparable form of a name: NFKC, simplified characters, no whitespace/punctuation, lower case."""
    if not isinstance(s, str) or not s:
        return ""
    s = unicodedata.normalize("NFKC", s)
    cc = _opencc()
    if cc is not None and any(ord(c) > 0x2E7F for c in s):
        s = cc.convert(s)
    return _PUNCT_RE.sub("", s).lower()


def road_base(name: str) -> str:
    """A 辅路 (side road) belongs to its main road for intersections: 深南大道辅路 → 深南大道."""
    return _FU_RE.sub("", name)


def _fold_syllable(p: str) -> str:
    for a, b in (("zh", "z"), ("ch", "c"), ("sh", "s")):
        if p.startswith(a):
            p = b + p[2:]
            break
    if p.startswith("l"):
        p = "n" + p[1:]
    if p.endswith("ng") and len(p) > 2 and p[-3] in "aei":  # ang→an, eng→en, ing→in
        p = p[:-1]
    return p


@lru_cache(maxsize=8192)
def sound_key(s: str) -> str:
    """Homophone key: pinyin without tones, with l/n, zh/z, ch/c, sh/s and -ng/-n merged."""
    if not s:
        return ""
    return "".join(_fold_syllable(p) for p in lazy_pinyin(s, style=Style.NORMAL, errors="default"))


# --------------------------------------------------------------------------------------------------
# Entries


@dataclass(slots=True)
class GazetteerEntry:
    id: str
    name: str
    kind: str
    lat: float
    lon: float
    aliases: tuple[str, ...] = ()
    source: str = "imported"
    geometry: tuple[tuple[tuple[float, float], ...], ...] | None = None
    """Roads: the street's polylines, (lat, lon) points. None for points."""
    adcode: str | None = None
    props: dict[str, Any] = field(default_factory=dict)

    def as_dict(self, *, geometry: bool = False) -> dict[str, Any]:
        d = {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "lat": self.lat,
            "lon": self.lon,
            "aliases": list(self.aliases),
            "source": self.source,
            "adcode": self.adcode,
            "props": {k: v for k, v in self.props.items() if not k.startswith("_")},
        }
        if geometry:
            d["geometry"] = [list(map(list, pl)) for pl in self.geometry] if self.geometry else None
        return d


@dataclass(frozen=True, slots=True)
class Match:
    entry: GazetteerEntry
    score: float
    """0–1: 1 exact name, 0.97 alias, 0.9 homophone or known name at the end, less for fuzzy."""
    how: str  # exact | alias | pinyin | contained | fuzzy | fuzzy-pinyin
    query: str


def _entry_from_mapping(d: Mapping[str, Any], default_source: str) -> GazetteerEntry:
    known = {"id", "name", "kind", "lat", "lon", "aliases", "source", "geometry", "adcode", "props"}
    props = dict(d.get("props") or {})
    props.update({k: v for k, v in d.items() if k not in known})
    geometry = d.get("geometry")
    return GazetteerEntry(
        id=str(d.get("id") or ""),
        name=str(d["name"]),
        kind=str(d["kind"]),
        lat=float(d["lat"]),
        lon=float(d["lon"]),
        aliases=tuple(str(a) for a in d.get("aliases") or ()),
        source=str(d.get("source") or default_source),
        geometry=tuple(tuple((float(a), float(b)) for a, b in pl) for pl in geometry) if geometry else None,
        adcode=d.get("adcode"),
        props=props,
    )


# --------------------------------------------------------------------------------------------------
# GraphML (standard library, one pass)

_NS = "{http://graphml.graphdrawing.org/xmlns}"

RawEdge = tuple[int, int, tuple[str, ...], tuple[str, ...], tuple[tuple[float, float], ...]]
"""(u, v, names, highway classes, polyline (lat, lon) from u to v)."""


def read_graphml(path: str | PathLike[str]) -> tuple[dict[int, tuple[float, float]], list[RawEdge]]:
    """Every node and edge of an OSMnx GraphML, footways included (the routing loader drops them)."""
    keys: dict[str, str] = {}
    nodes: dict[int, tuple[float, float]] = {}
    raw: list[tuple[int, int, dict[str, str]]] = []
    for _, elem in ET.iterparse(str(path), events=("end",)):
        tag = elem.tag
        if tag == _NS + "key":
            keys[elem.get("id", "")] = elem.get("attr.name", "")
        elif tag == _NS + "node":
            d = {keys.get(x.get("key", ""), ""): x.text or "" for x in elem.iter(_NS + "data")}
            try:
                nodes[int(elem.get("id", ""))] = (float(d["y"]), float(d["x"]))
            except (KeyError, ValueError):
                pass
            elem.clear()
        elif tag == _NS + "edge":
            d = {keys.get(x.get("key", ""), ""): x.text or "" for x in elem.iter(_NS + "data")}
            try:
                raw.append((int(elem.get("source", "")), int(elem.get("target", "")), d))
            except ValueError:
                pass
            elem.clear()
    edges: list[RawEdge] = []
    for u, v, d in raw:
        if u not in nodes or v not in nodes:
            continue
        pts = _parse_linestring(d["geometry"]) if d.get("geometry") else None
        if pts is None:
            pts = [nodes[u], nodes[v]]
        elif _d2(pts[0], nodes[u]) > _d2(pts[-1], nodes[u]):
            pts.reverse()
        edges.append((u, v, tuple(_parse_listish(d.get("name"))), tuple(_parse_listish(d.get("highway"))), tuple(pts)))
    return nodes, edges


def _d2(a: tuple[float, float], b: tuple[float, float]) -> float:
    return (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2


# --------------------------------------------------------------------------------------------------
# The gazetteer


class Gazetteer:
    """Named things with positions, indexed for exact, homophone and fuzzy look-up."""

    def __init__(
        self,
        entries: Iterable[GazetteerEntry | Mapping[str, Any]] = (),
        *,
        home_adcode: str = HOME_ADCODE,
        center: tuple[float, float] | None = None,
    ) -> None:
        self.home_adcode = home_adcode
        self.entries: list[GazetteerEntry] = []
        self.by_id: dict[str, GazetteerEntry] = {}
        self.source_path: str | None = None
        self.bounds: tuple[float, float, float, float] | None = None
        self._lock = threading.RLock()
        self._exact: dict[str, list[tuple[int, bool]]] = {}
        self._sound: dict[str, list[int]] = {}
        self._fuzzy: dict[frozenset[str] | None, tuple[list[str], list[str], list[int]]] = {}
        self._roads: dict[str, GazetteerEntry] = {}
        self._pairs: dict[frozenset[str], list[GazetteerEntry]] = {}
        self._houses: dict[tuple[str, str], GazetteerEntry] = {}
        self._road_xy: dict[str, np.ndarray] = {}
        self._road_tree: dict[str, cKDTree] = {}
        self._anchors: dict[str, list[tuple[int, float]]] = {}
        self._admin_pts: dict[str, tuple[float, float] | None] = {}
        self.lat0, self.lon0 = center if center else (22.54, 114.05)
        self._kx = _M_PER_DEG * math.cos(math.radians(self.lat0))
        self._ky = _M_PER_DEG
        self.add_entries(entries)

    # ---- construction -----------------------------------------------------------------------------

    @classmethod
    def from_graphml(
        cls,
        path: str | PathLike[str],
        *,
        places: bool = True,
        seed: int = 1,
        n_places: int = 300,
        adcode: str | None = "440304",
        home_adcode: str = HOME_ADCODE,
    ) -> Gazetteer:
        """Roads and intersections from the GraphML (one pass), generated places, home districts.

        adcode: the district the graph lies in (the shared extract is central 福田区, 440304).
        """
        nodes, edges = read_graphml(path)
        lats = [p[0] for p in nodes.values()]
        lons = [p[1] for p in nodes.values()]
        center = ((min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2) if nodes else None
        gaz = cls(home_adcode=home_adcode, center=center)
        gaz.source_path = str(path)
        gaz.bounds = (min(lats), min(lons), max(lats), max(lons)) if nodes else None
        gaz.add_entries(gaz._roads_from_edges(nodes, edges, adcode))
        gaz.add_entries(gaz._intersections_from_edges(nodes, edges, adcode))
        if places:
            gaz.add_entries(places_to_entries(_places_on(edges, seed, n_places), adcode))
        gaz.add_entries(admin_entries(home_adcode))
        gaz.warm()
        return gaz

    def warm(self) -> None:
        """Build the fuzzy-match tables the geocoder uses (otherwise built on first use)."""
        for kinds in (None, ("road",), ("place", "community"), ("community",), ("road", "place", "community")):
            self._fuzzy_index(frozenset(kinds) if kinds else None)

    def _xy(self, lat: Any, lon: Any) -> tuple[Any, Any]:
        return (np.asarray(lon) - self.lon0) * self._kx, (np.asarray(lat) - self.lat0) * self._ky

    def _latlon(self, x: float, y: float) -> tuple[float, float]:
        return self.lat0 + y / self._ky, self.lon0 + x / self._kx

    def _seg_len(self, pts: tuple[tuple[float, float], ...]) -> float:
        return sum(math.hypot((b[1] - a[1]) * self._kx, (b[0] - a[0]) * self._ky) for a, b in itertools.pairwise(pts))

    def _roads_from_edges(
        self, nodes: dict[int, tuple[float, float]], edges: list[RawEdge], adcode: str | None
    ) -> list[GazetteerEntry]:
        segs: dict[str, dict[tuple[int, int], tuple[tuple[float, float], ...]]] = {}
        classes: dict[str, set[str]] = {}
        for u, v, names, hw, pts in edges:
            a, b, p = (u, v, pts) if u <= v else (v, u, tuple(reversed(pts)))
            for name in names:
                segs.setdefault(name, {}).setdefault((a, b), p)
                classes.setdefault(name, set()).update(hw)
        out = []
        for i, name in enumerate(sorted(segs)):
            by_pair = segs[name]
            axis = self._axis(by_pair)
            cum = [0.0]
            for a, b in itertools.pairwise(axis):
                cum.append(cum[-1] + math.hypot((b[1] - a[1]) * self._kx, (b[0] - a[0]) * self._ky))
            length = cum[-1]
            mid = _at(axis, cum, length / 2)
            hw = sorted(classes[name])
            out.append(
                GazetteerEntry(
                    id=f"osm-road-{i:04d}",
                    name=name,
                    kind="road",
                    lat=round(mid[0], 7),
                    lon=round(mid[1], 7),
                    aliases=(),
                    source="osm",
                    geometry=tuple(by_pair[k] for k in sorted(by_pair)),
                    adcode=adcode,
                    props={
                        "length_m": round(length, 1),
                        "highway": hw,
                        "drivable": any(_is_drivable((c,)) for c in hw),
                        "total_length_m": round(sum(self._seg_len(p) for p in by_pair.values()), 1),
                        "_axis": axis,
                        "_axis_t": cum,
                    },
                )
            )
        return out

    def _axis(self, by_pair: dict[tuple[int, int], tuple[tuple[float, float], ...]]) -> list[tuple[float, float]]:
        """The longest chain through a street's edges (double-sweep Dijkstra on its largest component),
        oriented from its west end (south end if it runs north–south)."""
        adj: dict[int, list[tuple[int, float, tuple[int, int]]]] = {}
        for (a, b), pts in by_pair.items():
            w = self._seg_len(pts)
            adj.setdefault(a, []).append((b, w, (a, b)))
            adj.setdefault(b, []).append((a, w, (a, b)))

        def sweep(src: int) -> tuple[dict[int, float], dict[int, tuple[int, tuple[int, int]]]]:
            dist = {src: 0.0}
            prev: dict[int, tuple[int, tuple[int, int]]] = {}
            heap = [(0.0, src)]
            while heap:
                d, x = heapq.heappop(heap)
                if d > dist[x]:
                    continue
                for y, w, key in adj[x]:
                    nd = d + w
                    if nd < dist.get(y, math.inf):
                        dist[y] = nd
                        prev[y] = (x, key)
                        heapq.heappush(heap, (nd, y))
            return dist, prev

        # Node positions (metres) from the segment end points.
        pos: dict[int, tuple[float, float]] = {}
        for (a, b), pts in by_pair.items():
            pos.setdefault(a, (pts[0][1] * self._kx, pts[0][0] * self._ky))
            pos.setdefault(b, (pts[-1][1] * self._kx, pts[-1][0] * self._ky))
        best: tuple[float, list[tuple[float, float]]] = (-1.0, [])
        seen: set[int] = set()
        for start in sorted(adj):
            if start in seen:
                continue
            dist, _ = sweep(start)
            seen.update(dist)
            comp = sorted(dist)
            xy = np.array([pos[c] for c in comp])
            # The two nodes farthest apart in a straight line (not along the road: a dual carriageway
            # joined at one end would otherwise give a U-shaped "axis").
            d2 = ((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2)
            i, j = np.unravel_index(int(np.argmax(d2)), d2.shape)
            span = float(math.sqrt(d2[i, j]))
            if span <= best[0]:
                continue
            a, b = comp[int(i)], comp[int(j)]
            _, prev = sweep(a)
            chain: list[tuple[float, float]] = []
            x = b
            while x != a:
                px, key = prev[x]
                pts = by_pair[key]
                pts = pts if key[0] == px else tuple(reversed(pts))
                chain = list(pts) + chain[1:] if chain else list(pts)
                x = px
            best = (span, chain)
        axis = best[1] or list(next(iter(by_pair.values())))
        (la, lo), (lb, lob) = axis[0], axis[-1]
        dx, dy = (lob - lo) * self._kx, (lb - la) * self._ky
        if (abs(dx) >= abs(dy) and dx < 0) or (abs(dx) < abs(dy) and dy < 0):
            axis.reverse()
        return axis

    def _intersections_from_edges(
        self, nodes: dict[int, tuple[float, float]], edges: list[RawEdge], adcode: str | None
    ) -> list[GazetteerEntry]:
        at_node: dict[int, set[str]] = {}
        for u, v, names, hw, _ in edges:
            if not names or any(c in _NOT_STREET for c in hw):
                continue
            for name in names:
                base = road_base(name)
                at_node.setdefault(u, set()).add(base)
                at_node.setdefault(v, set()).add(base)
        pairs: dict[tuple[str, str], list[int]] = {}
        for node, names in at_node.items():
            for a, b in itertools.combinations(sorted(names), 2):
                pairs.setdefault((a, b), []).append(node)
        out = []
        for (a, b), ids in sorted(pairs.items()):
            pts = np.array([self._xy(*nodes[i]) for i in sorted(ids)], dtype=float)
            for k, cluster in enumerate(_clusters(pts, _JUNCTION_CLUSTER_M)):
                c = pts[cluster].mean(axis=0)
                lat, lon = self._latlon(float(c[0]), float(c[1]))
                radius = float(np.max(np.hypot(*(pts[cluster] - c).T))) if len(cluster) > 1 else 0.0
                names = (f"{a}与{b}交叉口", f"{b}与{a}交叉口")
                out.append(
                    GazetteerEntry(
                        id=f"osm-x-{len(out):04d}",
                        name=names[0],
                        kind="intersection",
                        lat=round(lat, 7),
                        lon=round(lon, 7),
                        aliases=names[1:],
                        source="osm",
                        adcode=adcode,
                        props={
                            "roads": [a, b],
                            "nodes": [sorted(ids)[j] for j in cluster],
                            "radius_m": round(radius, 1),
                            "part": k,
                        },
                    )
                )
        return out

    def add_entries(self, entries: Iterable[GazetteerEntry | Mapping[str, Any]], *, source: str = "imported") -> int:
        """Add entries (objects or dicts with name, kind, lat, lon[, aliases, geometry, adcode, ...]).

        A house_number dict needs "road" and "house_number" (in props or top level). Returns how many
        were added; invalid ones are skipped with a log warning. Indexes are updated in place.
        """
        added = 0
        with self._lock:
            for raw in entries:
                try:
                    e = raw if isinstance(raw, GazetteerEntry) else _entry_from_mapping(raw, source)
                    if e.kind not in KINDS or not e.name or not (math.isfinite(e.lat) and math.isfinite(e.lon)):
                        raise ValueError(f"bad kind/name/position: {e.kind!r} {e.name!r}")
                except (KeyError, TypeError, ValueError) as exc:
                    log.warning("gazetteer: skipped entry %r: %s", raw if isinstance(raw, Mapping) else "", exc)
                    continue
                if not e.id or e.id in self.by_id:
                    e.id = f"{e.source}-{e.kind}-{len(self.entries)}"
                idx = len(self.entries)
                self.entries.append(e)
                self.by_id[e.id] = e
                for j, key in enumerate((e.name, *e.aliases)):
                    nk = norm_name(key)
                    if not nk:
                        continue
                    self._exact.setdefault(nk, []).append((idx, j > 0))
                    self._sound.setdefault(sound_key(nk), []).append(idx)
                if e.kind == "road":
                    if e.name not in self._roads or e.source != "osm":
                        self._roads[e.name] = e
                    self._index_road(e)
                elif e.kind == "intersection":
                    roads = e.props.get("roads") or []
                    if len(roads) == 2:
                        self._pairs.setdefault(frozenset(road_base(r) for r in roads), []).append(e)
                elif e.kind == "house_number":
                    road, number = e.props.get("road"), e.props.get("house_number")
                    if road and number is not None:
                        self._houses[(road_base(str(road)), str(number))] = e
                        self._anchors.pop(road_base(str(road)), None)
                added += 1
            if added:
                self._fuzzy.clear()
        return added

    def _index_road(self, e: GazetteerEntry) -> None:
        pls = e.geometry or (((e.lat, e.lon),),)
        xs: list[np.ndarray] = []
        for pl in pls:
            arr = np.array(pl, dtype=float)
            x, y = self._xy(arr[:, 0], arr[:, 1])
            xs.append(_densify(np.column_stack((x, y)), _DENSIFY_M))
        self._road_xy[e.name] = np.vstack(xs)
        self._road_tree.pop(e.name, None)
        if "_axis" not in e.props:
            axis = list(max(pls, key=len))
            cum = [0.0]
            for a, b in itertools.pairwise(axis):
                cum.append(cum[-1] + math.hypot((b[1] - a[1]) * self._kx, (b[0] - a[0]) * self._ky))
            e.props["_axis"], e.props["_axis_t"] = axis, cum
            e.props.setdefault("length_m", round(cum[-1], 1))

    # ---- look-ups ---------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.entries)

    def counts(self) -> dict[str, dict[str, int]]:
        """{kind: {source: count}}."""
        out: dict[str, dict[str, int]] = {}
        for e in self.entries:
            out.setdefault(e.kind, {}).setdefault(e.source, 0)
            out[e.kind][e.source] += 1
        return out

    def road(self, name: str) -> GazetteerEntry | None:
        return self._roads.get(name)

    @property
    def road_names(self) -> list[str]:
        return sorted(self._roads)

    def intersections(self, a: str, b: str) -> list[GazetteerEntry]:
        """Junction entries of two streets (either may be given as its 辅路)."""
        return list(self._pairs.get(frozenset((road_base(a), road_base(b))), ()))

    def house(self, road: str, number: str | int) -> GazetteerEntry | None:
        return self._houses.get((road_base(road), str(number)))

    def _fuzzy_index(self, kinds: frozenset[str] | None) -> tuple[list[str], list[str], list[int]]:
        idx = self._fuzzy.get(kinds)
        if idx is None:
            names, sounds, ids = [], [], []
            for i, e in enumerate(self.entries):
                if kinds is not None and e.kind not in kinds:
                    continue
                for key in (e.name, *e.aliases):
                    nk = norm_name(key)
                    names.append(nk)
                    sounds.append(sound_key(nk))
                    ids.append(i)
            idx = (names, sounds, ids)
            self._fuzzy[kinds] = idx
        return idx

    def search(
        self, query: str, kinds: Iterable[str] | None = None, *, limit: int = 5, min_score: float = 0.55
    ) -> list[Match]:
        """Best matches for a name, best first (exact, alias, homophone, known name at the end, fuzzy)."""
        q = norm_name(query)
        if not q:
            return []
        kset = frozenset(kinds) if kinds is not None else None
        best: dict[int, tuple[float, str]] = {}

        side_road_ok = "辅" in q

        def offer(i: int, score: float, how: str) -> None:
            e = self.entries[i]
            if kset is not None and e.kind not in kset:
                return
            if how.startswith("fuzzy") and not side_road_ok and e.name.endswith(("辅路", "辅道")):
                score *= 0.95  # "深南大路" means 深南大道 rather than 深南大道辅路
            if score > best.get(i, (0.0, ""))[0]:
                best[i] = (score, how)

        for i, is_alias in self._exact.get(q, ()):
            offer(i, 0.97 if is_alias else 1.0, "alias" if is_alias else "exact")
        sk = sound_key(q)
        for i in self._sound.get(sk, ()):
            offer(i, 0.9, "pinyin")
        # A known name at the end of a longer one ("报警深南大道", "我说的是红荔路").
        for k in range(1, min(len(q) - 1, 12)):
            for i, _ in self._exact.get(q[k:], ()):
                offer(i, 0.9 - 0.01 * k, "contained")
        if not best or max(s for s, _ in best.values()) < 0.9:
            names, sounds, ids = self._fuzzy_index(kset)
            if names:
                for _, score, j in process.extract(q, names, scorer=fuzz.ratio, limit=limit * 2, score_cutoff=60):
                    offer(ids[j], 0.9 * score / 100.0, "fuzzy")
                if sk:
                    for _, score, j in process.extract(sk, sounds, scorer=fuzz.ratio, limit=limit * 2, score_cutoff=80):
                        offer(ids[j], 0.85 * score / 100.0, "fuzzy-pinyin")
        ranked = sorted(best.items(), key=lambda kv: (-kv[1][0], self.entries[kv[0]].name))
        return [Match(self.entries[i], s, how, query) for i, (s, how) in ranked if s >= min_score][:limit]

    def names_in(self, text: str, kinds: Iterable[str] | None = None, *, min_len: int = 2) -> list[Match]:
        """Known names (and their distinctive stems, e.g. 车公庙 for 车公庙地铁站) occurring in `text`."""
        t = norm_name(text)
        if not t:
            return []
        kset = frozenset(kinds) if kinds is not None else None
        found: dict[int, Match] = {}
        names, _, ids = self._fuzzy_index(kset)
        for nk, i in zip(names, ids, strict=True):
            if len(nk) >= min_len and nk in t:
                score = 0.85
            else:
                stem = _STEM_RE.sub("", nk)
                if len(stem) < 2 or stem not in t or stem == nk:
                    continue
                score = 0.6 + 0.05 * min(len(stem), 4)
            if score > (found[i].score if i in found else 0):
                found[i] = Match(self.entries[i], score, "contained", text)
        return sorted(found.values(), key=lambda m: (-m.score, -len(m.entry.name), m.entry.name))

    # ---- geometry helpers -------------------------------------------------------------------------

    def closest_approach(self, a: str, b: str) -> tuple[float, float, float] | None:
        """(lat, lon, gap_m): the midpoint of where streets a and b come closest, and how far apart."""
        xa, xb = self._road_xy.get(a), self._road_xy.get(b)
        if xa is None or xb is None:
            return None
        tree = self._road_tree.get(a)
        if tree is None:
            tree = self._road_tree[a] = cKDTree(xa)
        d, j = tree.query(xb)
        k = int(np.argmin(d))
        mid = (xa[int(j[k])] + xb[k]) / 2
        lat, lon = self._latlon(float(mid[0]), float(mid[1]))
        return lat, lon, float(d[k])

    def nearest_on_road(self, name: str, lat: float, lon: float) -> tuple[float, float, float] | None:
        """(lat, lon, distance_m) of the street's point nearest to (lat, lon)."""
        xy = self._road_xy.get(name)
        if xy is None:
            return None
        tree = self._road_tree.get(name)
        if tree is None:
            tree = self._road_tree[name] = cKDTree(xy)
        px, py = self._xy(lat, lon)
        d, j = tree.query((float(px), float(py)))
        if not math.isfinite(d) or j >= len(xy):  # no neighbour (non-finite query point)
            return None
        plat, plon = self._latlon(float(xy[j][0]), float(xy[j][1]))
        return plat, plon, float(d)

    def _project_t(self, road: GazetteerEntry, lat: float, lon: float) -> tuple[float, float]:
        """(t along the axis in metres, distance to the axis in metres)."""
        axis, cum = road.props["_axis"], road.props["_axis_t"]
        arr = np.array(axis, dtype=float)
        x, y = self._xy(arr[:, 0], arr[:, 1])
        px, py = self._xy(lat, lon)
        if len(arr) == 1:
            return 0.0, float(math.hypot(px - x[0], py - y[0]))
        ax, ay, dx, dy = x[:-1], y[:-1], np.diff(x), np.diff(y)
        l2 = np.maximum(dx * dx + dy * dy, 1e-9)
        r = np.clip(((px - ax) * dx + (py - ay) * dy) / l2, 0.0, 1.0)
        d = np.hypot(ax + r * dx - px, ay + r * dy - py)
        k = int(np.argmin(d))
        return float(cum[k] + r[k] * (cum[k + 1] - cum[k])), float(d[k])

    def road_length(self, road: GazetteerEntry) -> float:
        """Metres along the street's axis (the line house numbers are counted on)."""
        return float(road.props["_axis_t"][-1])

    def point_along(self, road: GazetteerEntry, metres: float) -> tuple[float, float]:
        """(lat, lon) `metres` along the street's axis from its numbering origin."""
        cum = road.props["_axis_t"]
        return _at(road.props["_axis"], cum, min(max(metres, 0.0), cum[-1]))

    def interpolate(self, road: GazetteerEntry, number: int) -> tuple[float, float, float, str]:
        """Estimated (lat, lon, precision_m, method) of house `number` on `road`.

        method "anchors": between known 门牌 of the same street (same parity preferred), linear;
        "anchor": one known 门牌 plus the spacing rule; "rule": no known 门牌, the generator's rule
        (`zhihui.sim.places.house_number_offset_m`) from the street's numbering origin — a guess.
        """
        base = road_base(road.name)
        anchors = self._anchors.get(base)
        if anchors is None:
            anchors = []
            for (r, num), e in self._houses.items():
                if r == base and str(num).isdigit():
                    t, off = self._project_t(road, e.lat, e.lon)
                    if off < 150:
                        anchors.append((int(num), t))
            anchors.sort()
            self._anchors[base] = anchors
        axis, cum = road.props["_axis"], road.props["_axis_t"]
        length = cum[-1]
        same = [a for a in anchors if a[0] % 2 == number % 2] or anchors
        if len(same) >= 2:
            below = [a for a in same if a[0] <= number]
            above = [a for a in same if a[0] >= number]
            if below and above:
                (n1, t1), (n2, t2) = below[-1], above[0]
                t = t1 if n2 == n1 else t1 + (t2 - t1) * (number - n1) / (n2 - n1)
                precision = 30.0 + 0.25 * min(abs(t - t1), abs(t2 - t))
            else:
                (n1, t1), (n2, t2) = (same[0], same[1]) if not below else (same[-2], same[-1])
                slope = (t2 - t1) / (n2 - n1) if n2 != n1 else HOUSE_SPACING_PER_NUMBER
                t = t1 + slope * (number - n1)
                precision = 50.0 + 0.5 * abs(t - (t1 if not below else t2))
            method = "anchors"
        elif len(same) == 1:
            n1, t1 = same[0]
            t = t1 + (number - n1) * HOUSE_SPACING_PER_NUMBER
            precision = 50.0 + 0.5 * abs(t - t1)
            method = "anchor"
        else:
            t = house_number_offset_m(number)
            precision = max(150.0, length / 3)
            method = "rule"
        t = min(max(t, 0.0), length)
        lat, lon = _at(axis, cum, t)
        return lat, lon, min(precision, max(length / 2, 30.0)), method

    def admin_point(self, adcode: str) -> tuple[float, float] | None:
        """WGS-84 point of a GB/T 2260 division (cpca's GCJ-02 centre converted), or None."""
        code = str(adcode)[:6]
        if code in self._admin_pts:
            return self._admin_pts[code]
        for e in self.entries:
            if e.kind == "district" and e.adcode == code:
                self._admin_pts[code] = (e.lat, e.lon)
                return self._admin_pts[code]
        div = admin_division(code)
        pt = gcj02_to_wgs84(div.lat, div.lon) if div and div.lat is not None and div.lon is not None else None
        self._admin_pts[code] = pt
        return pt


HOUSE_SPACING_PER_NUMBER = 10.0  # metres per house number along one side (pairs every 20 m)
_STEM_RE = re.compile(
    r"(社区工作站|社区健康服务中心|工作站|社康中心|地铁站|公交站|实验学校|小学|中学|幼儿园|学校|医院|诊所|"
    r"花园|小区|家园|新村|公寓|华庭|雅居|苑|大厦|广场|商务中心|大楼|中心|酒店|宾馆|商场|超市|农贸市场|购物中心|"
    r"公园|加油站|社区|立交|大道|路|街|巷|交叉口)$"
)


def _is_drivable(classes: Iterable[str]) -> bool:
    from zhihui.geo.roads import DEFAULT_SPEEDS_KMH, NON_DRIVABLE

    cs = list(classes)
    return bool(cs) and all(
        c not in NON_DRIVABLE and (c[:-5] if c.endswith("_link") else c) in DEFAULT_SPEEDS_KMH for c in cs
    )


def _at(axis: list[tuple[float, float]], cum: list[float], t: float) -> tuple[float, float]:
    if len(axis) == 1 or cum[-1] <= 0:
        return axis[0]
    k = min(max(int(np.searchsorted(cum, t, side="right")) - 1, 0), len(axis) - 2)
    seg = cum[k + 1] - cum[k]
    r = 0.0 if seg <= 0 else min(max((t - cum[k]) / seg, 0.0), 1.0)
    (a0, b0), (a1, b1) = axis[k], axis[k + 1]
    return a0 + (a1 - a0) * r, b0 + (b1 - b0) * r


def _densify(xy: np.ndarray, step: float) -> np.ndarray:
    if len(xy) < 2:
        return xy
    out = [xy[:1]]
    for a, b in itertools.pairwise(xy):
        n = max(1, math.ceil(float(np.hypot(*(b - a))) / step))
        f = (np.arange(1, n + 1) / n)[:, None]
        out.append(a + (b - a) * f)
    return np.vstack(out)


def _clusters(pts: np.ndarray, radius: float) -> list[list[int]]:
    """Single-linkage clusters of points closer than `radius` (metres)."""
    n = len(pts)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in itertools.combinations(range(n), 2):
        if float(np.hypot(*(pts[i] - pts[j]))) <= radius:
            parent[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return sorted(groups.values())


def _places_on(edges: Iterable[RawEdge], seed: int, n_places: int) -> list[dict]:
    drivable = [(u, v, names, pts) for u, v, names, hw, pts in edges if names and _is_drivable(hw)]
    return generate_places(seed=seed, n=n_places, graph=drivable)


def generated_places(path: str | PathLike[str], *, seed: int = 1, n_places: int = 300) -> list[dict]:
    """The generated places `from_graphml` puts in the gazetteer for this graph (same seed, same
    list), for whoever needs them as records (the simulator's population lives in them)."""
    return _places_on(read_graphml(path)[1], seed, n_places)


def places_to_entries(places: Iterable[Mapping[str, Any]], adcode: str | None = None) -> list[GazetteerEntry]:
    """`zhihui.sim.places.generate_places` dicts → place/community entries plus their 门牌 entries."""
    out: list[GazetteerEntry] = []
    for p in places:
        props = {k: p.get(k) for k in ("category", "road", "house_number", "address", "buildings", "community")}
        out.append(
            GazetteerEntry(
                id=str(p["id"]),
                name=str(p["name"]),
                kind=str(p["kind"]),
                lat=float(p["lat"]),
                lon=float(p["lon"]),
                aliases=tuple(p.get("aliases") or ()),
                source=str(p.get("source") or "generated"),
                adcode=adcode,
                props=props,
            )
        )
        if p.get("road") and p.get("house_number") is not None:
            out.append(
                GazetteerEntry(
                    id=f"{p['id']}-addr",
                    name=f"{p['road']}{p['house_number']}号",
                    kind="house_number",
                    lat=float(p["lat"]),
                    lon=float(p["lon"]),
                    source=str(p.get("source") or "generated"),
                    adcode=adcode,
                    props={"road": p["road"], "house_number": str(p["house_number"]), "place": p["name"]},
                )
            )
    return out


def _districts_geojson() -> Path | None:
    return shared_data("shenzhen_districts.geojson")


def admin_entries(home_adcode: str = HOME_ADCODE) -> list[GazetteerEntry]:
    """District entries for the home city (and the city itself), WGS-84."""
    table = _admin()
    prefix = home_adcode[:4]
    centroids: dict[str, tuple[float, float]] = {}
    path = _districts_geojson()
    if path is not None:
        try:
            for f in json.loads(path.read_text("utf-8")).get("features", []):
                pr = f.get("properties") or {}
                if pr.get("qh") and pr.get("centroid_y") is not None:
                    centroids[str(pr["qh"])] = (float(pr["centroid_y"]), float(pr["centroid_x"]))
        except (OSError, ValueError, TypeError):  # pragma: no cover - optional data
            centroids = {}
    out = []
    for code, div in sorted(table.by_code.items()):
        if not code.startswith(prefix) or div.level == 0:
            continue
        short = re.sub(r"(区|市|县)$", "", div.name)
        if div.lat is not None and div.lon is not None:
            lat, lon = gcj02_to_wgs84(div.lat, div.lon)
            how = "cpca GCJ-02 centre → WGS-84"
        elif short in centroids:
            lat, lon = centroids[short]
            how = "shenzhen_districts.geojson centroid"
        else:
            continue
        aliases = (short,) if div.level == 2 and len(short) >= 2 else ()
        out.append(
            GazetteerEntry(
                id=f"adm-{code}",
                name=div.name,
                kind="district",
                lat=round(lat, 7),
                lon=round(lon, 7),
                aliases=aliases,
                source="imported",
                adcode=code,
                props={"level": "city" if div.level == 1 else "district", "position": how},
            )
        )
    return out


# --------------------------------------------------------------------------------------------------
# Default instance

_default_lock = threading.Lock()
_default: Gazetteer | None = None


def _default_graph_path() -> Path | None:
    try:
        from zhihui.dispatch.recommend import default_graph_path

        return default_graph_path()
    except Exception:  # pragma: no cover - dispatch not importable: same rule, inline
        import os

        env = os.environ.get("ZHIHUI_ROAD_GRAPH")
        return Path(env) if env else None


def load_default() -> Gazetteer:
    """The process-wide gazetteer: road graph as for dispatch (ZHIHUI_ROAD_GRAPH, else ../shared/data),
    generated places, home districts. No graph → districts only (logged)."""
    global _default
    with _default_lock:
        if _default is None:
            path = _default_graph_path()
            if path is None or not Path(path).exists():
                log.warning("gazetteer: no road graph found (set ZHIHUI_ROAD_GRAPH): admin divisions only")
                _default = Gazetteer(admin_entries())
            else:
                _default = Gazetteer.from_graphml(path)
                log.info("gazetteer %s: %s", path, _default.counts())
        return _default
