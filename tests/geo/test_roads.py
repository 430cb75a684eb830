"""Road-network ETA: loading the real Futian (Shenzhen) OSM graph, edge snapping, one-way streets, the
early-stopping nearest-unit search against an independent full Dijkstra, and routes for 路径推送."""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from zhihui.geo.roads import EdgeSpec, RoadGraph, Snap, load_graphml, parse_maxspeed

DATA = Path("/work/shared/data/shenzhen_futian_drive.graphml")
if not DATA.exists():
    pytest.skip(f"shared road graph {DATA} is not available on this machine", allow_module_level=True)

CJK = re.compile(r"[\u4e00-\u9fff]")
ETA_TOL = 1e-6


@pytest.fixture(scope="module")
def futian() -> RoadGraph:
    return load_graphml(DATA)


def haversine(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * 6371008.8 * math.asin(math.sqrt(h))


def point_on_edge(g: RoadGraph, e: int, f: float) -> tuple[float, float]:
    sl = slice(g.geom_ptr[e], g.geom_ptr[e + 1])
    return float(np.interp(f, g.geom_frac[sl], g.geom_lat[sl])), float(np.interp(f, g.geom_frac[sl], g.geom_lon[sl]))


def edge_between(g: RoadGraph, u_osm: int, v_osm: int) -> int:
    u, v = g.node_index(u_osm), g.node_index(v_osm)
    for e in range(g.indptr[u], g.indptr[u + 1]):
        if g.indices[e] == v:
            return e
    raise AssertionError(f"no edge {u_osm}->{v_osm}")


# --------------------------------------------------------------------------------------------------
# Independent reference: scipy's full Dijkstra from every source exit node, no early stopping.


def _positions(s: Snap) -> list[tuple[int, float]]:
    return [(s.edge, s.fraction)] + ([(s.twin, 1.0 - s.fraction)] if s.twin >= 0 else [])


def reference_etas(g: RoadGraph, target: Snap, sources: list[tuple[str, Snap]]) -> dict[str, float]:
    src, dst, tt = g.edge_src, g.indices, g.travel_time_s
    forward = csr_matrix((tt, g.indices, g.indptr), shape=(g.n_nodes, g.n_nodes))
    entries = []  # (node, time from node to the target)
    for e, f in _positions(target):
        entries.append((int(src[e]), f * tt[e]))
        if f == 1.0:
            entries.append((int(dst[e]), 0.0))
    exits = {}
    for key, s in sources:
        exits[key] = [(int(dst[e]), (1.0 - f) * tt[e]) for e, f in _positions(s)]
        exits[key] += [(int(src[e]), 0.0) for e, f in _positions(s) if f == 0.0]
    starts = sorted({node for ex in exits.values() for node, _ in ex})
    row = {node: i for i, node in enumerate(starts)}
    dist = dijkstra(forward, directed=True, indices=starts)
    etas = {}
    for key, s in sources:
        best = min(c + dist[row[x], y] + c2 for x, c in exits[key] for y, c2 in entries)
        for es, fs in _positions(s):
            for et, ft in _positions(target):
                if es == et and fs <= ft:
                    best = min(best, (ft - fs) * tt[es])
        etas[key] = float(best)
    return etas


def random_snaps(g: RoadGraph, rng: np.random.Generator, count: int) -> list[Snap]:
    lat = rng.uniform(g.lat.min(), g.lat.max(), count)
    lon = rng.uniform(g.lon.min(), g.lon.max(), count)
    return [g.snap(a, b) for a, b in zip(lat, lon, strict=True)]


# --------------------------------------------------------------------------------------------------
# Loading


def test_load_futian_counts_times_and_names(futian: RoadGraph) -> None:
    g = futian
    assert g.stats.nodes_in_file == 1751 and g.stats.edges_in_file == 4009
    # Footways, paths, steps … removed (about a quarter of the file), parallel edges merged.
    assert 1300 <= g.n_nodes <= 1500, g.n_nodes
    assert 2700 <= g.n_edges <= 3100, g.n_edges
    assert g.stats.dropped_by_class["footway"] > 500
    assert not any(("footway" in h or "steps" in h or "path" in h) for h in g.edge_highway)
    assert np.all(np.isfinite(g.travel_time_s)) and np.all(g.travel_time_s > 0)
    assert np.all(g.length_m > 0)

    # CSR shapes and the reversed graph holding exactly the same directed edges.
    assert g.indptr[-1] == g.n_edges == len(g.rev_indices) == g.rev_indptr[-1]
    forward = set(zip(g.edge_src.tolist(), g.indices.tolist(), strict=True))
    rev_dst = np.repeat(np.arange(g.n_nodes), np.diff(g.rev_indptr))
    assert set(zip(g.rev_indices.tolist(), rev_dst.tolist(), strict=True)) == forward
    assert np.array_equal(g.rev_travel_time_s, g.travel_time_s[g.rev_edge])
    assert len(forward) == g.n_edges  # parallel edges collapsed

    names = g.street_names()
    assert {"深南大道", "红荔路"} <= names
    assert len(g.node_ids) == len(set(g.node_ids.tolist()))


def test_travel_time_model(futian: RoadGraph) -> None:
    # First edge of the file: 景田路 (secondary, maxspeed 40, 7.041 m) -> uses maxspeed × urban factor 0.7.
    e = edge_between(futian, 278659481, 1116501296)
    assert futian.edge_names[e] == ("景田路",)
    assert futian.travel_time_s[e] == pytest.approx(7.041 / (40 * 0.7 / 3.6))
    # Residential streets: default 25 km/h × 0.7, except the few signed 30 or 40 km/h.
    kmh = futian.length_m / futian.travel_time_s * 3.6
    residential = Counter(round(float(kmh[i]), 6) for i, h in enumerate(futian.edge_highway) if h == "residential")
    assert residential.most_common(1)[0][0] == 25 * 0.7
    assert set(residential) <= {25 * 0.7, 30 * 0.7, 40 * 0.7}
    free = load_graphml(DATA, urban_factor=1.0)
    assert free.travel_time_s[e] == pytest.approx(futian.travel_time_s[e] * 0.7)


@pytest.mark.parametrize(
    ("raw", "kmh"),
    [("40", 40.0), ("['30', '40']", 30.0), ("30 mph", 30 * 1.609344), ("CN:urban", None), (None, None), ("0", None)],
)
def test_parse_maxspeed(raw: str | None, kmh: float | None) -> None:
    assert parse_maxspeed(raw) == (pytest.approx(kmh) if kmh is not None else None)


# --------------------------------------------------------------------------------------------------
# Snapping


def test_snap_a_few_metres_off_a_known_edge(futian: RoadGraph) -> None:
    # 润田路, a two-way street with no other road within ~130 m of its midpoint.
    e = edge_between(futian, 1342322923, 8986992863)
    assert futian.edge_names[e] == ("润田路",) and futian.twin[e] >= 0
    lat, lon = point_on_edge(futian, e, 0.4)
    a, b = point_on_edge(futian, e, 0.39), point_on_edge(futian, e, 0.41)
    # Offset 6 m perpendicular to the road.
    dy, dx = (b[0] - a[0]) * 111195, (b[1] - a[1]) * 111195 * math.cos(math.radians(lat))
    norm = math.hypot(dx, dy)
    qlat, qlon = lat + 6 * dx / norm / 111195, lon - 6 * dy / norm / (111195 * math.cos(math.radians(lat)))
    s = futian.snap(qlat, qlon)
    assert s.edge in (e, futian.twin[e])
    assert s.distance_m < 30 and s.distance_m == pytest.approx(6.0, abs=0.1)
    along = s.fraction if s.edge == e else 1.0 - s.fraction
    assert along == pytest.approx(0.4, abs=0.005)
    assert haversine((s.lat, s.lon), (lat, lon)) < 1.0


def test_snap_is_the_exact_nearest_edge(futian: RoadGraph) -> None:
    """Brute force over every snappable segment (own geometry code) agrees, including points deep inside
    blocks: the edges of the largest strongly connected component (the extract's one-way stubs out of
    the area are not snapped onto)."""
    g = futian
    kx = 111195 * math.cos(math.radians(22.5336))
    seg_a = []
    seg_b = []
    core = g.core_edges()
    assert 0 < g.stats.snap_excluded_edges == g.n_edges - core.sum() < 0.05 * g.n_edges
    for e in np.flatnonzero(core):
        sl = slice(g.geom_ptr[e], g.geom_ptr[e + 1])
        pts = np.column_stack((g.geom_lon[sl] * kx, g.geom_lat[sl] * 111195))
        seg_a.append(pts[:-1])
        seg_b.append(pts[1:])
    a, b = np.concatenate(seg_a), np.concatenate(seg_b)

    def brute(lat: float, lon: float) -> float:
        p = np.array([lon * kx, lat * 111195])
        d = b - a
        t = np.clip(((p - a) * d).sum(1) / np.maximum((d * d).sum(1), 1e-12), 0, 1)
        return float(np.hypot(*(a + t[:, None] * d - p).T).min())

    rng = np.random.default_rng(3)
    deep = 0
    for s_lat, s_lon in zip(rng.uniform(22.517, 22.550, 200), rng.uniform(113.998, 114.039, 200), strict=True):
        s = g.snap(s_lat, s_lon)
        assert s.distance_m == pytest.approx(brute(s_lat, s_lon), abs=0.05)
        assert haversine((s_lat, s_lon), (s.lat, s.lon)) == pytest.approx(s.distance_m, rel=1e-3, abs=0.05)
        deep += s.distance_m > 50
    assert deep > 10  # plenty of points in the middle of blocks, far from any road

    # A point in the middle of the block between 红荔路 and 深南大道 lands on a road at its true distance.
    s = g.snap(22.5425, 114.0300)
    assert s.distance_m == pytest.approx(brute(22.5425, 114.0300), abs=0.05)


# --------------------------------------------------------------------------------------------------
# One-way streets


def test_one_way_edge_is_one_edge_forward_and_a_detour_back(futian: RoadGraph) -> None:
    g = futian
    pairs = set(zip(g.edge_src.tolist(), g.indices.tolist(), strict=True))
    candidates = [
        e
        for e in range(g.n_edges)
        if (int(g.indices[e]), int(g.edge_src[e])) not in pairs and g.edge_names[e] and g.length_m[e] > 100
    ]
    assert candidates, "Futian has one-way streets"
    for e in candidates:
        u, v = int(g.node_ids[g.edge_src[e]]), int(g.node_ids[g.indices[e]])
        back = g.nearest_by_time(g.snap_node(u), [("v", g.snap_node(v))], k=1)[0]
        if back.reachable:
            break
    fwd = g.route(g.snap_node(u), g.snap_node(v))
    assert len(fwd.pieces) == 1 and fwd.pieces[0] == (e, 0.0, 1.0)
    assert fwd.time_s == pytest.approx(g.travel_time_s[e])
    rev = g.route(g.snap_node(v), g.snap_node(u))
    assert len(rev.pieces) > 1 and all(p[0] != e for p in rev.pieces)
    assert rev.time_s > fwd.time_s and rev.length_m > fwd.length_m
    assert rev.time_s == pytest.approx(back.eta_s, abs=ETA_TOL)


# --------------------------------------------------------------------------------------------------
# nearest_by_time against the independent full Dijkstra


def test_nearest_by_time_matches_full_dijkstra() -> None:
    # Snapping onto every edge, stubs included, so the unreachable pockets are exercised too.
    g = load_graphml(DATA, snap_to_core=False)
    rng = np.random.default_rng(2024)
    reverse = csr_matrix((g.travel_time_s, g.indices, g.indptr), shape=(g.n_nodes, g.n_nodes)).T.tocsr()
    settled_k5 = settled_all = 0
    unreachable_seen = 0
    for _ in range(50):
        target = random_snaps(g, rng, 1)[0]
        sources = [(f"u{i:02d}", s) for i, s in enumerate(random_snaps(g, rng, 30))]
        ref = reference_etas(g, target, sources)
        ranked = sorted(ref.items(), key=lambda kv: (kv[1], kv[0]))

        full = g.nearest_by_time(target, sources, k=30)
        assert sorted(r.key for r in full) == sorted(ref)
        for r in full:
            if math.isinf(ref[r.key]):
                assert r.status == "unreachable" and math.isinf(r.eta_s)
                unreachable_seen += 1
            else:
                assert r.status == "ok" and r.eta_s == pytest.approx(ref[r.key], abs=ETA_TOL)
        ok = [r for r in full if r.reachable]
        assert [r.eta_s for r in ok] == pytest.approx([v for _, v in ranked[: len(ok)]], abs=ETA_TOL)
        assert ok == sorted(ok, key=lambda r: (r.eta_s, r.key))

        top = g.nearest_by_time(target, sources, k=5)
        top_ok = [r for r in top if r.reachable]
        assert len(top_ok) == min(5, len(ok))
        assert [r.eta_s for r in top_ok] == pytest.approx([v for _, v in ranked[: len(top_ok)]], abs=ETA_TOL)
        for r in top_ok:
            assert r.eta_s == pytest.approx(ref[r.key], abs=ETA_TOL)

        # Early stopping: never more work than the full run, which never exceeds the reachable set.
        entries = [(int(g.edge_src[e]), f) for e, f in _positions(target)]
        reach = np.isfinite(dijkstra(reverse, indices=[n for n, _ in entries]).min(axis=0)).sum()
        assert top.settled_nodes <= full.settled_nodes <= reach
        if full.stop_reason == "exhausted":
            assert full.settled_nodes == reach
        settled_k5 += top.settled_nodes
        settled_all += full.settled_nodes
    assert settled_k5 < 0.8 * settled_all
    assert unreachable_seen > 0  # the random draws did hit the small one-way pockets / islands


def test_results_rebuild_to_routes_with_the_same_eta(futian: RoadGraph) -> None:
    g = futian
    rng = np.random.default_rng(11)
    target = g.snap(22.5403, 114.0260)  # on 深南大道
    sources = [(i, s) for i, s in enumerate(random_snaps(g, rng, 30))]
    for r in g.nearest_by_time(target, sources, k=5):
        route = g.build_route(r.pieces)
        assert route.time_s == pytest.approx(r.eta_s, abs=ETA_TOL)
        assert route.length_m == pytest.approx(r.distance_m, abs=1e-6)
        source = dict(sources)[r.key]
        assert haversine(route.points[0], (source.lat, source.lon)) < 0.01
        assert haversine(route.points[-1], (target.lat, target.lon)) < 0.01


# --------------------------------------------------------------------------------------------------
# Synthetic networks (hand-checked numbers)

M_PER_DEG = 111195.0
LAT0, LON0 = 22.54, 114.05


def xy(x: float, y: float) -> tuple[float, float]:
    """(lat, lon) of a point x metres east and y metres north of a fixed origin."""
    return LAT0 + y / M_PER_DEG, LON0 + x / (M_PER_DEG * math.cos(math.radians(LAT0)))


def detour_graph() -> RoadGraph:
    """Incident near O on a two-way road W–O; east of O a one-way street leads away, back only via a loop.

        NW ←──── NE          W=(-300,0)  O=(0,0)  E=(300,0)  NW=(0,400)  NE=(300,400)
        │ 西环路  ↑ 东环路      all roads 10 m/s; 北环路 NE→NW, 西环路 NW→O
        ↓         │
    W ══ O ─────→ E          W══O 迎宾路 (two-way); O→E 单行东街 (one-way)
    """
    nodes = {1: xy(-300, 0), 2: xy(0, 0), 3: xy(300, 0), 4: xy(300, 400), 5: xy(0, 400), 9: xy(5000, 5000)}
    nodes[10] = xy(5200, 5000)
    edges = [
        (1, 2, 300, 30, "迎宾路"),
        (2, 1, 300, 30, "迎宾路"),
        (2, 3, 300, 30, "单行东街"),
        (3, 4, 400, 40, "东环路"),
        (4, 5, 300, 30, "北环路"),
        (5, 2, 400, 40, "西环路"),
        (9, 10, 200, 20, "孤岛路"),  # an island: nothing connects it to the rest
        (10, 9, 200, 20, "孤岛路"),
    ]
    return RoadGraph.from_edges(nodes, edges)


def test_hand_checked_road_nearest_is_not_straight_line_nearest() -> None:
    g = detour_graph()
    incident = g.snap(*xy(-10, 2))  # on 迎宾路, 10 m west of O
    a = g.snap(*xy(270, -4))  # on the one-way 单行东街, 280 m away in a straight line
    b = g.snap(*xy(-300, 4))  # at W, 290 m away in a straight line
    assert incident.distance_m == pytest.approx(2, abs=0.01) and a.distance_m == pytest.approx(4, abs=0.01)
    assert haversine((a.lat, a.lon), (incident.lat, incident.lon)) < haversine(
        (b.lat, b.lon), (incident.lat, incident.lon)
    )

    res = g.nearest_by_time(incident, [("A", a), ("B", b)], k=2)
    assert [r.key for r in res] == ["B", "A"]
    # B: 290 m along 迎宾路 at 10 m/s. A: 30 m on to E, round the 1100 m loop, then 10 m west of O.
    assert res[0].eta_s == pytest.approx(29.0, abs=0.01)
    assert res[1].eta_s == pytest.approx(3 + 40 + 30 + 40 + 1, abs=0.01)
    assert res[1].distance_m == pytest.approx(30 + 400 + 300 + 400 + 10, abs=0.1)
    route = g.route(a, incident)
    assert route.street_names == ["单行东街", "东环路", "北环路", "西环路", "迎宾路"]
    assert route.time_s == pytest.approx(res[1].eta_s, abs=ETA_TOL)
    assert g.route(b, incident).street_names == ["迎宾路"]


def test_unreachable_and_max_time_are_reported_not_dropped() -> None:
    g = detour_graph()
    incident = g.snap(*xy(-10, 2))
    island = g.snap(*xy(5100, 5003))
    sources = [("island", island), ("A", g.snap(*xy(270, -4))), ("B", g.snap(*xy(-300, 4)))]

    res = g.nearest_by_time(incident, sources, k=3)
    assert [(r.key, r.status) for r in res] == [("B", "ok"), ("A", "ok"), ("island", "unreachable")]
    assert math.isinf(res[2].eta_s) and res[2].pieces == ()
    assert res.stop_reason == "exhausted"

    lone = g.nearest_by_time(incident, [("island", island)], k=1)
    assert [(r.key, r.status) for r in lone] == [("island", "unreachable")]

    capped = g.nearest_by_time(incident, sources, k=3, max_time_s=60)
    assert [(r.key, r.status) for r in capped] == [("B", "ok"), ("A", "beyond_max_time"), ("island", "beyond_max_time")]
    assert capped.stop_reason == "max_time"

    top1 = g.nearest_by_time(incident, sources, k=1)  # stops at B, proves nothing about the others
    assert [r.key for r in top1] == ["B"] and top1.stop_reason == "k_reached"


def test_unreachable_island_in_futian(futian: RoadGraph) -> None:
    # A walled service-road compound near 香蜜湖 whose ways do not connect to the public network in OSM.
    raw = load_graphml(DATA, snap_to_core=False)
    island = raw.snap(22.5318877, 113.998058)
    assert island.distance_m < 1
    road = raw.snap(22.5403, 114.0260)
    res = raw.nearest_by_time(road, [("island", island), ("road", raw.snap(22.5405, 114.0240))], k=2)
    assert [(r.key, r.status) for r in res] == [("road", "ok"), ("island", "unreachable")]
    # Snapping onto the connected core (the default) puts a unit there on the nearest public road instead.
    out = futian.snap(22.5318877, 113.998058)
    assert 1 < out.distance_m < 100
    res = futian.nearest_by_time(futian.snap(22.5403, 114.0260), [("island", out)], k=1)
    assert [(r.key, r.status) for r in res] == [("island", "ok")]


def test_same_edge_sources_respect_direction() -> None:
    # One-way triangle P→Q→R→P, 100 m / 10 s each.
    nodes = {1: xy(0, 0), 2: xy(100, 0), 3: xy(50, 86.6)}
    ring = [(1, 2, 100, 10, "甲路"), (2, 3, 100, 10, "乙路"), (3, 1, 100, 10, "丙路")]
    g = RoadGraph.from_edges(nodes, ring)
    target = g.snap(*xy(50, -1))
    behind, ahead = g.snap(*xy(20, -1)), g.snap(*xy(80, -1))
    res = {r.key: r for r in g.nearest_by_time(target, [("behind", behind), ("ahead", ahead)], k=2)}
    assert res["behind"].eta_s == pytest.approx(3.0, abs=1e-3)
    assert len(res["behind"].pieces) == 1  # straight along the shared edge
    assert res["ahead"].eta_s == pytest.approx(2 + 10 + 10 + 5, abs=1e-3)  # past it: round the ring
    assert g.route(ahead, target).street_names == ["甲路", "乙路", "丙路", "甲路"]

    # Make P–Q two-way: the unit ahead now simply drives back.
    g2 = RoadGraph.from_edges(nodes, [*ring, (2, 1, 100, 10, "甲路")])
    res2 = {r.key: r for r in g2.nearest_by_time(g2.snap(*xy(50, -1)), [("ahead", g2.snap(*xy(80, -1)))], k=1)}
    assert res2["ahead"].eta_s == pytest.approx(3.0, abs=1e-3)


def test_ties_are_broken_by_key_whatever_the_input_order() -> None:
    nodes = {1: xy(-100, 0), 2: xy(0, 0), 3: xy(100, 0)}
    edges = [(1, 2, 100, 10), (2, 1, 100, 10), (2, 3, 100, 10), (3, 2, 100, 10)]
    g = RoadGraph.from_edges(nodes, edges)
    target = g.snap_node(2)
    left, right = g.snap_node(1), g.snap_node(3)
    for sources in ([("b", left), ("a", right)], [("a", right), ("b", left)]):
        res = g.nearest_by_time(target, sources, k=1)
        assert [r.key for r in res] == ["a"] and res[0].eta_s == 10
        assert [r.key for r in g.nearest_by_time(target, sources, k=2)] == ["a", "b"]


def test_from_edges_spec_and_parallel_edges() -> None:
    nodes = {1: xy(0, 0), 2: xy(100, 0)}
    slow = EdgeSpec(1, 2, 100, 20, ("慢路",), "residential", (xy(0, 0), xy(50, 30), xy(100, 0)))
    fast = EdgeSpec(1, 2, 100, 8, ("快路",))
    g = RoadGraph.from_edges(nodes, [slow, fast, (2, 1, None, 9)])
    assert g.n_edges == 2 and g.stats.parallel_dropped == 1
    e = edge_between(g, 1, 2)
    assert g.edge_names[e] == ("快路",) and g.travel_time_s[e] == 8
    back = edge_between(g, 2, 1)
    assert g.length_m[back] == pytest.approx(100, abs=0.1)  # measured from the coordinates


# --------------------------------------------------------------------------------------------------
# Real example and routes in Futian


def test_futian_divided_road_opposite_carriageway_is_slower(futian: RoadGraph) -> None:
    """深南大道 is a divided boulevard. Incident on the eastbound carriageway; unit A is across the median
    (nearer in a straight line), unit B is a few metres further back on the same carriageway. A has to
    drive west to 福田立交 to turn round, B just drives on."""
    g = futian
    incident = g.snap(22.539784, 114.026183)
    a = g.snap(22.540065, 114.026129)
    b = g.snap(22.539724, 114.025831)
    for s in (incident, a, b):
        assert s.distance_m < 1 and "深南大道" in g.edge_names[s.edge]
    assert g.twin[incident.edge] < 0 and a.edge != incident.edge and b.edge == incident.edge
    d_a = haversine((a.lat, a.lon), (incident.lat, incident.lon))
    d_b = haversine((b.lat, b.lon), (incident.lat, incident.lon))
    assert d_a < d_b < d_a + 10  # about equally far, A nearer

    res = g.nearest_by_time(incident, [("A", a), ("B", b)], k=2)
    assert [r.key for r in res] == ["B", "A"]
    assert res[0].eta_s < 10 and res[1].eta_s > 120
    route_a = g.route(a, incident)
    assert "福田立交" in route_a.street_names
    assert route_a.street_names[0] == route_a.street_names[-1] == "深南大道"


def test_route_points_times_and_names(futian: RoadGraph) -> None:
    g = futian
    rng = np.random.default_rng(5)
    checked = 0
    while checked < 20:
        s, t = random_snaps(g, rng, 2)
        if haversine((s.lat, s.lon), (t.lat, t.lon)) < 1500:
            continue
        eta = g.nearest_by_time(t, [("s", s)], k=1)[0]
        if not eta.reachable:
            continue
        route = g.route(s, t)
        assert route.time_s == pytest.approx(eta.eta_s, abs=ETA_TOL)
        assert route.length_m == pytest.approx(eta.distance_m, abs=1e-6)
        # Pieces chain node to node; the polyline starts/ends at the snapped points and has no jumps:
        # its own length matches the OSM edge lengths.
        for (e1, _, f1), (e2, f2, _) in zip(route.pieces, route.pieces[1:], strict=False):
            assert f1 == 1.0 and f2 == 0.0 and g.indices[e1] == g.edge_src[e2]
        assert haversine(route.points[0], (s.lat, s.lon)) < 0.01
        assert haversine(route.points[-1], (t.lat, t.lon)) < 0.01
        poly = sum(haversine(p, q) for p, q in zip(route.points, route.points[1:], strict=False))
        assert poly == pytest.approx(route.length_m, rel=0.01, abs=1.0)
        assert max(haversine(p, q) for p, q in zip(route.points, route.points[1:], strict=False)) < 1200
        assert route.street_names and all(CJK.search(n) for n in route.street_names)
        assert all(x != y for x, y in zip(route.street_names, route.street_names[1:], strict=False))
        checked += 1


def test_route_to_the_same_point_is_empty(futian: RoadGraph) -> None:
    s = futian.snap(22.5403, 114.0260)
    route = futian.route(s, s)
    assert route.time_s == 0 and route.length_m == 0 and route.points == [(s.lat, s.lon)]


def test_a_point_beside_a_stub_out_of_the_area_still_gets_units(futian: RoadGraph) -> None:
    """Found by the city simulator: this caller stood 5 m from a one-way stub that leaves the extract;
    snapped onto it, no unit could reach the call at all. Snapped onto the core, every unit can."""
    lat, lon = 22.541988, 114.037513
    raw = load_graphml(DATA, snap_to_core=False)
    stub = raw.snap(lat, lon)
    units = [(k, futian.snap(a, b)) for k, (a, b) in enumerate([(22.5440, 114.0300), (22.5250, 114.0330),
                                                                 (22.5480, 114.0370)])]
    assert all(r.status == "unreachable" for r in raw.nearest_by_time(stub, [(k, raw.snap(a.lat, a.lon))
                                                                             for k, a in units], 3))
    target = futian.snap(lat, lon)
    assert target.distance_m < 20
    results = futian.nearest_by_time(target, units, 3)
    assert [r.status for r in results] == ["ok"] * 3
