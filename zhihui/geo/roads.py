"""Road-network travel times for 就近派警 (dispatching the unit that arrives first) and 路径推送.

Straight-line distance picks the wrong unit whenever a one-way street, a river or an expressway sits
between a unit and an incident, so units are ranked by driving time over an OpenStreetMap road graph.

* `load_graphml` reads an OSMnx GraphML export with the standard library, keeps drivable roads only
  and turns every directed edge into a travel time (length / speed × urban factor).
* `RoadGraph` holds the graph as compact CSR arrays (forward and reversed) plus the road geometry.
* `RoadGraph.snap` puts a GPS point on the nearest road *edge* (not node): a unit parked mid-block is
  that far along that street, and only in the street's allowed direction(s).
* `RoadGraph.nearest_by_time` ranks units by ETA with ONE Dijkstra on the reversed graph from the
  incident, stopping once the k fastest are certain, so the cost grows with the area searched rather
  than with the number of units.
* `RoadGraph.route` returns the fastest path as points, time, length and street names.

Coordinates are WGS-84 (lat, lon), as in OpenStreetMap; convert GCJ-02/BD-09 with `zhihui.geo.coords`
first. Distances for snapping use an equirectangular projection around the graph's centre: at city
scale (tens of km) its scale error is far below GPS noise, and it is affine, so a projected point maps
back to (lat, lon) exactly.
"""

from __future__ import annotations

import ast
import heapq
import itertools
import math
import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from typing import Literal

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from zhihui.geo.coords import EARTH_RADIUS_M, haversine_m

__all__ = [
    "DEFAULT_SPEEDS_KMH",
    "NON_DRIVABLE",
    "URBAN_FACTOR",
    "EdgeSpec",
    "LoadStats",
    "NearestResults",
    "NoRouteError",
    "Result",
    "RoadGraph",
    "Route",
    "Snap",
    "load_graphml",
    "parse_maxspeed",
]

# Free-flow speed by road class when the edge has no usable maxspeed (km/h). *_link ramps use their
# parent's speed. Service roads (parking aisles, compound driveways) are kept because incidents happen
# there, but slow, so that routes do not cut through them.
DEFAULT_SPEEDS_KMH: dict[str, float] = {
    "motorway": 80.0,
    "trunk": 60.0,
    "primary": 50.0,
    "secondary": 40.0,
    "tertiary": 35.0,
    "unclassified": 25.0,
    "residential": 25.0,
    "living_street": 15.0,
    "service": 15.0,
}

# Classes a car cannot use. An OSMnx edge merged from several ways lists all their classes; if any of
# them is in here (e.g. "['service', 'footway']") part of the edge is not drivable, so it is dropped.
NON_DRIVABLE = frozenset(
    {
        "footway",
        "path",
        "cycleway",
        "steps",
        "pedestrian",
        "track",
        "corridor",
        "bridleway",
        "construction",
        "proposed",
    }
)

# Posted/free-flow speed × this = expected speed: signals, turns and congestion in a dense city centre
# mean a car rarely holds the limit. 0.7 is a common urban planning figure; calibrate it against
# recorded unit trips when they exist. Applies to maxspeed and default speeds alike.
URBAN_FACTOR = 0.7

# Snapping: sample points are laid along every road segment at most this far apart (metres). The
# nearest sample then bounds the nearest segment within half of it, which makes snapping exact.
_SAMPLE_SPACING_M = 20.0

_MPH_TO_KMH = 1.609344
_SPEED_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph)?\s*$", re.IGNORECASE)
_WKT_RE = re.compile(r"^\s*LINESTRING\s*\((.*)\)\s*$", re.IGNORECASE | re.DOTALL)

Piece = tuple[int, float, float]
"""(edge, from_fraction, to_fraction): travel along part of one directed edge."""


class NoRouteError(ValueError):
    """The target cannot be reached from the source by road (one-way dead end, isolated component)."""


# --------------------------------------------------------------------------------------------------
# Parsing helpers


def _parse_listish(raw: str | None) -> list[str]:
    """OSMnx writes merged attributes as Python list literals ("['a', 'b']"); plain values as-is."""
    if raw is None:
        return []
    raw = raw.strip()
    if raw.startswith("[") and raw.endswith("]"):
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = [part.strip().strip("'\"") for part in raw[1:-1].split(",")]
        if isinstance(value, list | tuple):
            return [str(v).strip() for v in value if str(v).strip()]
    return [raw] if raw else []


def parse_maxspeed(raw: str | None) -> float | None:
    """Lowest parseable speed in km/h ("40", "30 mph", "['30', '40']"), or None.

    The minimum of a list is used because a merged edge is only as fast as its slowest part. Symbolic
    values ("CN:urban", "signals", "none") are not parseable and fall back to the class default.
    """
    speeds = []
    for item in _parse_listish(raw):
        m = _SPEED_RE.match(item)
        if m:
            value = float(m.group(1))
            if (m.group(2) or "").lower() == "mph":
                value *= _MPH_TO_KMH
            if value > 0:
                speeds.append(value)
    return min(speeds) if speeds else None


def _base_class(highway: str) -> str:
    return highway[: -len("_link")] if highway.endswith("_link") else highway


def _parse_linestring(wkt: str) -> list[tuple[float, float]] | None:
    """WKT "LINESTRING (lon lat, ...)" -> [(lat, lon), ...]; None if it is not a usable linestring."""
    m = _WKT_RE.match(wkt)
    if not m:
        return None
    points = []
    for pair in m.group(1).split(","):
        parts = pair.split()
        if len(parts) < 2:
            return None
        points.append((float(parts[1]), float(parts[0])))
    return points if len(points) >= 2 else None


# --------------------------------------------------------------------------------------------------
# Public data types


@dataclass(frozen=True, slots=True)
class EdgeSpec:
    """One directed road edge before it is packed into a RoadGraph (nodes by original id)."""

    u: int
    v: int
    length_m: float | None
    """None: computed from the geometry (or the straight line between the end nodes)."""
    travel_time_s: float
    names: tuple[str, ...] = ()
    highway: str = ""
    geometry: tuple[tuple[float, float], ...] | None = None
    """(lat, lon) points from u to v, end nodes included; None means a straight line."""


@dataclass(slots=True)
class LoadStats:
    """What the loader kept and dropped, so data problems are visible instead of silent."""

    nodes_in_file: int = 0
    edges_in_file: int = 0
    dropped_by_class: Counter[str] = field(default_factory=Counter)
    dropped_by_access: int = 0
    parallel_dropped: int = 0
    maxspeed_used: int = 0
    geometry_reversed: int = 0
    snap_excluded_edges: int = 0
    """Edges outside the largest strongly connected component, which points are not snapped onto."""


@dataclass(frozen=True, slots=True)
class Snap:
    """A point placed on a directed road edge.

    `twin` is the opposite-direction edge over the same road (-1 on a one-way street): a unit on a
    two-way street may leave in either direction, and an incident there may be approached from either
    end. Position 0 / 1 is exactly at the edge's start / end node, where every edge of that node can
    be used.
    """

    edge: int
    fraction: float
    lat: float
    lon: float
    distance_m: float
    twin: int = -1

    def positions(self) -> tuple[tuple[int, float], ...]:
        """(edge, fraction) on every directed edge this point lies on."""
        if self.twin < 0:
            return ((self.edge, self.fraction),)
        return ((self.edge, self.fraction), (self.twin, 1.0 - self.fraction))


@dataclass(frozen=True, slots=True)
class Result:
    """ETA of one source (unit) to the target; `pieces` rebuild the route with `RoadGraph.build_route`.

    status: "ok"; "unreachable" (the whole reachable area was searched without meeting it); or
    "beyond_max_time" (not reached within max_time_s; it may or may not be reachable).
    """

    key: Hashable
    status: Literal["ok", "unreachable", "beyond_max_time"]
    eta_s: float
    distance_m: float
    pieces: tuple[Piece, ...] = ()

    @property
    def reachable(self) -> bool:
        return self.status == "ok"


class NearestResults(list[Result]):
    """Results best first (then any unreachable ones), plus how much work the search did."""

    def __init__(self, results: Iterable[Result], settled_nodes: int, stop_reason: str) -> None:
        super().__init__(results)
        self.settled_nodes = settled_nodes
        """Graph nodes settled by the Dijkstra (the measure of early stopping)."""
        self.stop_reason = stop_reason
        """"k_reached", "max_time" or "exhausted" (every node reachable from the target was settled)."""


@dataclass(frozen=True, slots=True)
class Route:
    """A drivable path for 路径推送: points along the road, totals, and the streets in driving order."""

    points: list[tuple[float, float]]
    time_s: float
    length_m: float
    street_names: list[str]
    pieces: tuple[Piece, ...]


# --------------------------------------------------------------------------------------------------
# The graph


class RoadGraph:
    """Directed road graph as CSR arrays, with road geometry and a snapping index.

    Nodes are numbered 0..n-1 in order of their original OSM id (`node_ids`). Edges are numbered in
    forward-CSR order: edge e runs `edge_src[e]` -> `indices[e]`. The reversed CSR lists, per node,
    the edges arriving at it (`rev_indices` = their start nodes, `rev_edge` = their forward number);
    the nearest-unit search runs on it, from the incident outwards.
    """

    def __init__(
        self,
        nodes: Mapping[int, tuple[float, float]],
        edges: Iterable[EdgeSpec],
        *,
        stats: LoadStats | None = None,
        sample_spacing_m: float = _SAMPLE_SPACING_M,
        snap_to_core: bool = False,
    ) -> None:
        """Pack nodes {osm_id: (lat, lon)} and directed edges; of parallel edges the fastest is kept.

        snap_to_core: snap points only onto edges of the largest strongly connected component. A city
        extract cut out of a bigger map has one-way stubs at its edge that lead out of the area (or in
        from nowhere): a unit or an incident snapped onto one could be reached from nowhere, or reach
        nothing, although a street that works lies metres away.
        """
        self.stats = stats if stats is not None else LoadStats()
        best: dict[tuple[int, int], EdgeSpec] = {}
        for spec in edges:
            if spec.u not in nodes or spec.v not in nodes:
                raise ValueError(f"edge {spec.u}->{spec.v} references an unknown node")
            if not spec.travel_time_s > 0:
                raise ValueError(f"edge {spec.u}->{spec.v} has non-positive travel time {spec.travel_time_s}")
            old = best.get((spec.u, spec.v))
            if old is None:
                best[(spec.u, spec.v)] = spec
            else:
                self.stats.parallel_dropped += 1
                if spec.travel_time_s < old.travel_time_s:
                    best[(spec.u, spec.v)] = spec

        # Nodes: only those on a kept edge, ordered by OSM id for determinism.
        used = sorted({u for u, _ in best} | {v for _, v in best})
        self.node_ids = np.array(used, dtype=np.int64)
        self.lat = np.array([nodes[i][0] for i in used], dtype=np.float64)
        self.lon = np.array([nodes[i][1] for i in used], dtype=np.float64)
        index = {osm: i for i, osm in enumerate(used)}
        self._index = index
        n = len(used)

        # Local projection (see module docstring).
        if n:
            self.lat0 = float((self.lat.min() + self.lat.max()) / 2)
            self.lon0 = float((self.lon.min() + self.lon.max()) / 2)
        else:
            self.lat0 = self.lon0 = 0.0
        self._ky = EARTH_RADIUS_M * math.pi / 180.0
        self._kx = self._ky * math.cos(math.radians(self.lat0))

        specs = sorted(best.values(), key=lambda s: (index[s.u], index[s.v]))
        m = len(specs)
        self.edge_src = np.array([index[s.u] for s in specs], dtype=np.int64)
        self.indices = np.array([index[s.v] for s in specs], dtype=np.int64)
        self.indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.edge_src, minlength=n), out=self.indptr[1:])
        self.travel_time_s = np.array([s.travel_time_s for s in specs], dtype=np.float64)
        self.edge_names: list[tuple[str, ...]] = [s.names for s in specs]
        self.edge_highway: list[str] = [s.highway for s in specs]

        # Geometry as flat arrays: edge e's polyline is geom_*[geom_ptr[e]:geom_ptr[e + 1]], from u to v,
        # with geom_frac the share of the edge's length reached at each vertex (0 ... 1).
        lat_parts: list[np.ndarray] = []
        lon_parts: list[np.ndarray] = []
        frac_parts: list[np.ndarray] = []
        lengths = np.empty(m, dtype=np.float64)
        self.geom_ptr = np.zeros(m + 1, dtype=np.int64)
        for e, s in enumerate(specs):
            u, v = self.edge_src[e], self.indices[e]
            pts = list(s.geometry) if s.geometry else []
            # End points are pinned to the nodes so that consecutive route pieces join exactly.
            pts = [(self.lat[u], self.lon[u]), *pts[1:-1], (self.lat[v], self.lon[v])]
            pts = [p for i, p in enumerate(pts) if i == 0 or i == len(pts) - 1 or p != pts[i - 1]]
            plat = np.array([p[0] for p in pts])
            plon = np.array([p[1] for p in pts])
            seg = np.hypot(np.diff(plat) * self._ky, np.diff(plon) * self._kx)
            total = float(seg.sum())
            if total > 0:
                frac = np.concatenate(([0.0], np.cumsum(seg) / total))
                frac[-1] = 1.0
            else:
                frac = np.linspace(0.0, 1.0, len(pts))
            lat_parts.append(plat)
            lon_parts.append(plon)
            frac_parts.append(frac)
            self.geom_ptr[e + 1] = self.geom_ptr[e] + len(pts)
            lengths[e] = s.length_m if s.length_m is not None and s.length_m > 0 else max(total, 0.01)
        self.length_m = lengths
        self.geom_lat = np.concatenate(lat_parts) if m else np.zeros(0)
        self.geom_lon = np.concatenate(lon_parts) if m else np.zeros(0)
        self.geom_frac = np.concatenate(frac_parts) if m else np.zeros(0)

        # Reversed CSR: edges grouped by their end node.
        order = np.argsort(self.indices, kind="stable")
        self.rev_edge = order.astype(np.int64)
        self.rev_indices = self.edge_src[order]
        self.rev_travel_time_s = self.travel_time_s[order]
        self.rev_indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.indices, minlength=n), out=self.rev_indptr[1:])

        # Twin = the reverse edge over the same road (same length, same geometry reversed).
        by_pair = {(int(a), int(b)): e for e, (a, b) in enumerate(zip(self.edge_src, self.indices, strict=True))}
        self.twin = np.full(m, -1, dtype=np.int64)
        for (a, b), e in by_pair.items():
            r = by_pair.get((b, a))
            if r is None or a == b or abs(lengths[e] - lengths[r]) > max(0.5, 0.01 * lengths[e]):
                continue
            ge = slice(self.geom_ptr[e], self.geom_ptr[e + 1])
            gr = slice(self.geom_ptr[r], self.geom_ptr[r + 1])
            if (
                ge.stop - ge.start == gr.stop - gr.start
                and np.allclose(self.geom_lat[ge], self.geom_lat[gr][::-1], atol=1e-7)
                and np.allclose(self.geom_lon[ge], self.geom_lon[gr][::-1], atol=1e-7)
            ):
                self.twin[e] = r

        # KD-tree over nodes (metric projection) for nearest-node look-ups.
        node_xy = np.column_stack(self._project(self.lat, self.lon)) if n else np.zeros((0, 2))
        self.node_tree = cKDTree(node_xy)

        # Snapping index: every geometry segment, and a KD-tree over points sampled along them.
        gx, gy = self._project(self.geom_lat, self.geom_lon)
        seg_start = np.arange(len(self.geom_lat) - 1 if m else 0, dtype=np.int64)
        is_seg = np.ones(len(seg_start), dtype=bool)
        is_seg[self.geom_ptr[1:-1] - 1] = False  # no segment from one edge's last vertex to the next's first
        seg_start = seg_start[is_seg]
        seg_edge = np.repeat(np.arange(m, dtype=np.int64), np.diff(self.geom_ptr))[seg_start]
        if snap_to_core and m:
            core = self.core_edges()
            seg_start, seg_edge = seg_start[core[seg_edge]], seg_edge[core[seg_edge]]
            self.stats.snap_excluded_edges = int(m - core.sum())
        self._seg_ax, self._seg_ay = gx[seg_start], gy[seg_start]
        self._seg_dx, self._seg_dy = gx[seg_start + 1] - self._seg_ax, gy[seg_start + 1] - self._seg_ay
        self._seg_len2 = self._seg_dx**2 + self._seg_dy**2
        self._seg_edge = seg_edge
        self._seg_frac0 = self.geom_frac[seg_start]
        self._seg_frac1 = self.geom_frac[seg_start + 1]
        seg_len = np.sqrt(self._seg_len2)
        counts = np.maximum(np.ceil(seg_len / sample_spacing_m).astype(np.int64) + 1, 2)
        self._sample_seg = np.repeat(np.arange(len(seg_start), dtype=np.int64), counts)
        first = np.repeat(np.cumsum(counts) - counts, counts)
        t = (np.arange(len(self._sample_seg)) - first) / np.repeat(counts - 1, counts)
        sx = self._seg_ax[self._sample_seg] + t * self._seg_dx[self._sample_seg]
        sy = self._seg_ay[self._sample_seg] + t * self._seg_dy[self._sample_seg]
        self._sample_tree = cKDTree(np.column_stack((sx, sy)) if m else np.zeros((0, 2)))
        self._half_spacing = sample_spacing_m / 2.0

        # Plain Python lists for the Dijkstra hot loop (indexing numpy scalars is several times slower).
        self._rev_indptr_l: list[int] = self.rev_indptr.tolist()
        self._rev_indices_l: list[int] = self.rev_indices.tolist()
        self._rev_edge_l: list[int] = self.rev_edge.tolist()
        self._rev_tt_l: list[float] = self.rev_travel_time_s.tolist()
        self._src_l: list[int] = self.edge_src.tolist()
        self._dst_l: list[int] = self.indices.tolist()
        self._tt_l: list[float] = self.travel_time_s.tolist()
        self._len_l: list[float] = self.length_m.tolist()

    # ---- construction helpers ----------------------------------------------------------------------

    def core_edges(self) -> np.ndarray:
        """Mask of the edges with both ends in the largest strongly connected component."""
        n = self.n_nodes
        adj = csr_matrix((np.ones(len(self.indices)), self.indices, self.indptr), shape=(n, n))
        _, label = connected_components(adj, directed=True, connection="strong")
        big = np.bincount(label).argmax()
        return (label[self.edge_src] == big) & (label[self.indices] == big)

    @classmethod
    def from_edges(
        cls,
        nodes: Mapping[int, tuple[float, float]],
        edges: Iterable[EdgeSpec | Sequence],
    ) -> RoadGraph:
        """Build from plain lists (tests, synthetic networks).

        edges: EdgeSpec, or tuples (u, v, length_m, travel_time_s[, name]); length_m None = straight line.
        """
        specs = []
        for item in edges:
            if isinstance(item, EdgeSpec):
                specs.append(item)
                continue
            u, v, length, tt, *rest = item
            names = (rest[0],) if rest and rest[0] else ()
            specs.append(EdgeSpec(int(u), int(v), None if length is None else float(length), float(tt), names))
        return cls(nodes, specs)

    @property
    def n_nodes(self) -> int:
        return len(self.node_ids)

    @property
    def n_edges(self) -> int:
        return len(self.indices)

    def node_index(self, osm_id: int) -> int:
        """Internal index of an original node id (KeyError if it is not in the drivable graph)."""
        return self._index[int(osm_id)]

    def street_names(self) -> set[str]:
        return {name for names in self.edge_names for name in names}

    def _project(self, lat: np.ndarray | float, lon: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        return (np.asarray(lon) - self.lon0) * self._kx, (np.asarray(lat) - self.lat0) * self._ky

    # ---- snapping --------------------------------------------------------------------------------

    def nearest_node(self, lat: float, lon: float) -> int:
        """Index of the nearest graph node (straight line, metres in the local projection)."""
        x, y = self._project(lat, lon)
        _, i = self.node_tree.query((float(x), float(y)))
        return int(i)

    def snap(self, lat: float, lon: float, max_distance_m: float | None = None) -> Snap:
        """Put (lat, lon) on the nearest road edge (exact nearest over all segments).

        Candidates come from a KD-tree over points sampled every <= 20 m along every segment, not from
        the nearest nodes: OSMnx-simplified edges run up to ~1.7 km between intersections here, so the
        nearest road often has no end node anywhere near the point. Ties go to the lowest edge number.
        """
        if self.n_edges == 0:
            raise ValueError("empty road graph")
        px, py = (float(c) for c in self._project(lat, lon))
        _, i0 = self._sample_tree.query((px, py))
        d0 = float(self._seg_distances(np.array([self._sample_seg[i0]]), px, py)[0][0])
        near = self._sample_tree.query_ball_point((px, py), d0 + self._half_spacing + 1e-6)
        segs = np.unique(self._sample_seg[np.asarray(near, dtype=np.int64)])
        dist, t = self._seg_distances(segs, px, py)
        pick = np.lexsort((segs, self._seg_edge[segs], np.round(dist, 6)))[0]
        s, tt, d = int(segs[pick]), float(t[pick]), float(dist[pick])
        if max_distance_m is not None and d > max_distance_m:
            raise ValueError(f"nearest road is {d:.0f} m away (limit {max_distance_m:.0f} m)")
        e = int(self._seg_edge[s])
        f0, f1 = float(self._seg_frac0[s]), float(self._seg_frac1[s])
        # Exact 0 / 1 at the end nodes matter: there the point may use every edge of that node.
        fraction = f1 if tt == 1.0 else f0 + tt * (f1 - f0)
        x = self._seg_ax[s] + tt * self._seg_dx[s]
        y = self._seg_ay[s] + tt * self._seg_dy[s]
        return Snap(
            edge=e,
            fraction=fraction,
            lat=float(y / self._ky + self.lat0),
            lon=float(x / self._kx + self.lon0),
            distance_m=d,
            twin=int(self.twin[e]),
        )

    def _seg_distances(self, segs: np.ndarray, px: float, py: float) -> tuple[np.ndarray, np.ndarray]:
        """Distance from (px, py) to each segment, and the clamped position t along it."""
        ax, ay = self._seg_ax[segs], self._seg_ay[segs]
        dx, dy, len2 = self._seg_dx[segs], self._seg_dy[segs], self._seg_len2[segs]
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.where(len2 > 0, ((px - ax) * dx + (py - ay) * dy) / len2, 0.0)
        t = np.clip(t, 0.0, 1.0)
        return np.hypot(ax + t * dx - px, ay + t * dy - py), t

    def snap_node(self, osm_id: int) -> Snap:
        """A Snap exactly at a graph node (for units reported at an intersection, and tests)."""
        i = self.node_index(osm_id)
        if self.indptr[i + 1] > self.indptr[i]:
            e, frac = int(self.indptr[i]), 0.0
        else:
            e, frac = int(self.rev_edge[self.rev_indptr[i]]), 1.0
        return Snap(e, frac, float(self.lat[i]), float(self.lon[i]), 0.0, int(self.twin[e]))

    # ---- search ------------------------------------------------------------------------------------

    def _exits(self, snap: Snap) -> list[tuple[int, float, Piece | None]]:
        """Nodes a source at `snap` can drive to directly: (node, time, piece driven)."""
        out: list[tuple[int, float, Piece | None]] = []
        for e, f in snap.positions():
            out.append((self._dst_l[e], (1.0 - f) * self._tt_l[e], (e, f, 1.0)))
            if f == 0.0:
                out.append((self._src_l[e], 0.0, None))
        return out

    def _entries(self, snap: Snap) -> list[tuple[int, float, Piece | None]]:
        """Nodes from which `snap` is reached directly: (node, time, piece driven)."""
        out: list[tuple[int, float, Piece | None]] = []
        for e, f in snap.positions():
            out.append((self._src_l[e], f * self._tt_l[e], (e, 0.0, f)))
            if f == 1.0:
                out.append((self._dst_l[e], 0.0, None))
        return out

    def nearest_by_time(
        self,
        target: Snap,
        sources: Sequence[tuple[Hashable, Snap]],
        k: int,
        max_time_s: float | None = None,
    ) -> NearestResults:
        """The k sources that reach `target` fastest by road, best first.

        One Dijkstra on the reversed graph from the target; each source hangs off the nodes it can
        drive to (with the partial time along its own edge) as a virtual node, so a source is final the
        moment it is popped and the search stops after the k-th (plus any exact ties, so the cut is
        decided by key, not by heap order). A source on the target's own edge, behind it in the
        direction of travel, also gets the direct partial drive. Keys must be unique and sortable.

        After the reachable ones come, sorted by key, the sources proven "unreachable" (the search
        exhausted the graph) or, if max_time_s stopped it, those "beyond_max_time".
        """
        if k < 1:
            raise ValueError("k must be >= 1")
        keys = [key for key, _ in sources]
        if len(set(keys)) != len(keys):
            raise ValueError("source keys must be unique")
        m = len(sources)
        if m == 0:
            return NearestResults([], 0, "exhausted")
        k = min(k, m)
        n = self.n_nodes
        inf = math.inf
        limit = inf if max_time_s is None else float(max_time_s)
        tt = self._tt_l

        # Dicts, not n-sized lists: a query touches a few hundred nodes of a city-sized graph, and
        # two fresh 200k-element lists per query cost more (allocation, GC scans) than the search.
        dist: dict[int, float] = {}
        nxt: dict[int, int] = {}  # forward edge to drive from this node towards the target
        at_entry: dict[int, Piece | None] = {}  # nodes whose best way on is the target's own edge
        heap: list[tuple[float, int]] = []
        for node, cost, piece in self._entries(target):
            if cost < dist.get(node, inf):
                dist[node] = cost
                at_entry[node] = piece
        for node in at_entry:
            heap.append((dist[node], node))

        # Sources are virtual nodes n + i; `via[i]` is the graph node they were reached through
        # (-1: direct along the target's edge) and the partial piece driven to get there.
        best = [inf] * m
        via: list[tuple[int, Piece | None]] = [(-1, None)] * m
        attach: dict[int, list[tuple[float, int, Piece | None]]] = {}
        target_pos = target.positions()
        for i, (_, snap) in enumerate(sources):
            for node, cost, piece in self._exits(snap):
                attach.setdefault(node, []).append((cost, i, piece))
            for es, fs in snap.positions():
                for et, ft in target_pos:
                    if es == et and fs <= ft:
                        cost = (ft - fs) * tt[es]
                        if cost < best[i]:
                            best[i] = cost
                            via[i] = (-1, (es, fs, ft))
            if best[i] < inf:
                heap.append((best[i], n + i))
        heapq.heapify(heap)

        ip, nbr, redge, rtt = self._rev_indptr_l, self._rev_indices_l, self._rev_edge_l, self._rev_tt_l
        heappush, heappop = heapq.heappush, heapq.heappop
        done = bytearray(m)
        found: list[int] = []
        cutoff = inf  # ETA of the k-th source found; keep popping exact ties
        settled = 0
        stopped_by_time = False
        while heap:
            d, x = heappop(heap)
            if d > cutoff:
                break
            if d > limit:
                stopped_by_time = True
                break
            if x >= n:
                i = x - n
                if done[i] or d > best[i]:
                    continue
                done[i] = 1
                found.append(i)
                if len(found) == k:
                    cutoff = d
                continue
            if d > dist.get(x, inf):
                continue
            settled += 1
            hooked = attach.get(x)
            if hooked:
                for cost, i, piece in hooked:
                    nd = d + cost
                    if nd < best[i]:
                        best[i] = nd
                        via[i] = (x, piece)
                        heappush(heap, (nd, n + i))
            for j in range(ip[x], ip[x + 1]):
                y = nbr[j]
                nd = d + rtt[j]
                if nd < dist.get(y, inf):
                    dist[y] = nd
                    nxt[y] = redge[j]
                    at_entry.pop(y, None)
                    heappush(heap, (nd, y))

        found.sort(key=lambda i: (best[i], keys[i]))
        results = []
        for i in found[:k]:
            pieces = self._pieces(via[i], nxt, at_entry)
            length = sum((f1 - f0) * self._len_l[e] for e, f0, f1 in pieces)
            results.append(Result(keys[i], "ok", best[i], length, pieces))
        if len(found) >= k:
            reason = "k_reached"
        else:
            reason = "max_time" if stopped_by_time else "exhausted"
            status: Literal["unreachable", "beyond_max_time"] = "beyond_max_time" if stopped_by_time else "unreachable"
            missing = sorted((i for i in range(m) if not done[i]), key=lambda i: keys[i])
            results.extend(Result(keys[i], status, inf, inf) for i in missing)
        return NearestResults(results, settled, reason)

    def _pieces(
        self, via: tuple[int, Piece | None], nxt: dict[int, int], at_entry: dict[int, Piece | None]
    ) -> tuple[Piece, ...]:
        """Walk the successor pointers from a source's exit node to the target."""
        x, first = via
        pieces: list[Piece] = [first] if first is not None and first[2] > first[1] else []
        if x < 0:
            return tuple(pieces)
        while x not in at_entry:
            e = nxt[x]
            pieces.append((e, 0.0, 1.0))
            x = self._dst_l[e]
        last = at_entry[x]
        if last is not None and last[2] > last[1]:
            pieces.append(last)
        return tuple(pieces)

    # ---- routes ------------------------------------------------------------------------------------

    def route(self, source: Snap, target: Snap) -> Route:
        """Fastest drive from source to target (NoRouteError if there is none)."""
        (res,) = self.nearest_by_time(target, [(0, source)], k=1)
        if not res.reachable:
            raise NoRouteError("no drivable route from source to target")
        route = self.build_route(res.pieces)
        if not route.points:  # source and target are the same point
            return Route([(source.lat, source.lon)], 0.0, 0.0, [], ())
        return route

    def build_route(self, pieces: Sequence[Piece]) -> Route:
        """Points, time, length and street names (consecutive repeats collapsed) of a piece list."""
        points: list[tuple[float, float]] = []
        names: list[str] = []
        time_s = length = 0.0
        for e, f0, f1 in pieces:
            time_s += (f1 - f0) * self._tt_l[e]
            length += (f1 - f0) * self._len_l[e]
            for p in self._sub_polyline(e, f0, f1):
                if not points or points[-1] != p:
                    points.append(p)
            for name in self.edge_names[e]:
                if not names or names[-1] != name:
                    names.append(name)
        return Route(points, time_s, length, names, tuple(pieces))

    def _sub_polyline(self, e: int, f0: float, f1: float) -> list[tuple[float, float]]:
        """The part of edge e's geometry between fractions f0 <= f1."""
        sl = slice(self.geom_ptr[e], self.geom_ptr[e + 1])
        frac, glat, glon = self.geom_frac[sl], self.geom_lat[sl], self.geom_lon[sl]
        inner = (frac > f0) & (frac < f1)
        out = [(float(np.interp(f0, frac, glat)), float(np.interp(f0, frac, glon)))]
        out.extend(zip(glat[inner].tolist(), glon[inner].tolist(), strict=True))
        out.append((float(np.interp(f1, frac, glat)), float(np.interp(f1, frac, glon))))
        return out


# --------------------------------------------------------------------------------------------------
# GraphML loading


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def load_graphml(
    path: str | PathLike[str],
    *,
    urban_factor: float = URBAN_FACTOR,
    speeds_kmh: Mapping[str, float] | None = None,
    excluded_access: Iterable[str] = (),
    sample_spacing_m: float = _SAMPLE_SPACING_M,
    snap_to_core: bool = True,
) -> RoadGraph:
    """Read an OSMnx GraphML road graph (WGS-84) into a drivable RoadGraph.

    Directions are taken from the file (OSMnx writes one edge per allowed direction), so `oneway` is
    not re-interpreted. Edges whose classes are not all drivable are dropped, as are edges whose
    `access` tag is in `excluded_access`; by default none are, because police vehicles do enter
    access=private/no compounds and roads. Travel time = length / (speed × urban_factor), speed =
    the edge's maxspeed if parseable (lowest of a list), else the slowest default of its classes.
    Points snap only onto the largest strongly connected component (`snap_to_core`, see RoadGraph).
    """
    if not 0 < urban_factor <= 1.5:
        raise ValueError("urban_factor should be a plausible multiplier, e.g. 0.7")
    speeds = dict(DEFAULT_SPEEDS_KMH if speeds_kmh is None else speeds_kmh)
    excluded = frozenset(excluded_access)
    stats = LoadStats()
    keys: dict[str, str] = {}
    nodes: dict[int, tuple[float, float]] = {}
    specs: list[EdgeSpec] = []
    raw_edges: list[tuple[int, int, dict[str, str]]] = []  # kept until all nodes are known

    for _, elem in ET.iterparse(path, events=("end",)):
        tag = _local(elem.tag)
        if tag == "key":
            keys[elem.get("id", "")] = elem.get("attr.name", "")
        elif tag == "node":
            data = {keys.get(d.get("key", ""), ""): d.text or "" for d in elem}
            nodes[int(elem.get("id", ""))] = (float(data["y"]), float(data["x"]))
            stats.nodes_in_file += 1
            elem.clear()
        elif tag == "edge":
            data = {keys.get(d.get("key", ""), ""): d.text or "" for d in elem}
            raw_edges.append((int(elem.get("source", "")), int(elem.get("target", "")), data))
            stats.edges_in_file += 1
            elem.clear()

    for u, v, data in raw_edges:
        classes = _parse_listish(data.get("highway"))
        bases = [_base_class(c) for c in classes]
        bad = [c for c, b in zip(classes, bases, strict=True) if b not in speeds or c in NON_DRIVABLE]
        if not classes or bad:
            stats.dropped_by_class[",".join(sorted(set(bad))) or "<none>"] += 1
            continue
        if excluded and set(_parse_listish(data.get("access"))) & excluded:
            stats.dropped_by_access += 1
            continue
        speed = parse_maxspeed(data.get("maxspeed"))
        if speed is None:
            speed = min(speeds[b] for b in bases)
        else:
            stats.maxspeed_used += 1
        geometry = _parse_linestring(data["geometry"]) if data.get("geometry") else None
        if geometry is not None:
            # OSMnx stores geometry from u to v; guard against files where it is not.
            first, last = geometry[0], geometry[-1]
            if _d2(first, nodes[u]) > _d2(last, nodes[u]) and _d2(last, nodes[v]) > _d2(first, nodes[v]):
                geometry.reverse()
                stats.geometry_reversed += 1
        length = float(data["length"]) if data.get("length") else 0.0
        if not length > 0:  # missing or zero: measure along the geometry (great-circle per segment)
            pts = geometry or [nodes[u], nodes[v]]
            length = max(0.01, sum(haversine_m(*a, *b) for a, b in itertools.pairwise(pts)))
        specs.append(
            EdgeSpec(
                u=u,
                v=v,
                length_m=length,
                travel_time_s=length / (speed * urban_factor / 3.6),
                names=tuple(_parse_listish(data.get("name"))),
                highway="/".join(classes),
                geometry=tuple(geometry) if geometry else None,
            )
        )
    return RoadGraph(nodes, specs, stats=stats, sample_spacing_m=sample_spacing_m, snap_to_core=snap_to_core)


def _d2(a: tuple[float, float], b: tuple[float, float]) -> float:
    return (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2

