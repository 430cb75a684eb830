"""The generated (not real) benchmark city: determinism, size, river/bridges, one-way couplets, expressway
ramps, strong connectivity, and a smoke run of bench/dispatch.py."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from zhihui.geo.coords import haversine_m
from zhihui.geo.roads import RoadGraph
from zhihui.sim import roadgen
from zhihui.sim.roadgen import CityPlan, generate_city

ROOT = Path(__file__).resolve().parent.parent
SIZE = 5_000


@pytest.fixture(scope="module")
def city() -> tuple[CityPlan, RoadGraph]:
    plan = generate_city(SIZE, seed=3)
    return plan, plan.build()


def edge_ids(g: RoadGraph, e: int) -> tuple[int, int]:
    return int(g.node_ids[g.edge_src[e]]), int(g.node_ids[g.indices[e]])


def test_docstring_says_generated() -> None:
    assert "GENERATED (not real)" in (roadgen.__doc__ or "")


def test_same_seed_same_arrays_other_seed_differs() -> None:
    a, b, c = (generate_city(2_000, seed=s).build() for s in (7, 7, 8))
    for name in ("node_ids", "lat", "lon", "indptr", "indices", "travel_time_s", "length_m", "twin"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.edge_names == b.edge_names and a.edge_highway == b.edge_highway
    assert not (a.n_nodes == c.n_nodes and np.array_equal(a.lat, c.lat))


def test_requested_size_reached(city: tuple[CityPlan, RoadGraph]) -> None:
    plan, g = city
    assert SIZE <= g.n_nodes < SIZE * 1.1
    assert g.n_nodes == len(plan.nodes)
    assert g.n_edges > 3 * g.n_nodes  # a grid: about two two-way streets per node


def test_realistic_scale_around_shenzhen(city: tuple[CityPlan, RoadGraph]) -> None:
    plan, g = city
    assert abs(float(g.lat.mean()) - 22.55) < 0.05 and abs(float(g.lon.mean()) - 114.05) < 0.05
    local = [e for e in range(0, g.n_edges, 7) if g.edge_highway[e] == "residential"]
    meters = [
        haversine_m(g.lat[g.edge_src[e]], g.lon[g.edge_src[e]], g.lat[g.indices[e]], g.lon[g.indices[e]]) for e in local
    ]
    assert 0.85 * plan.block_m < float(np.median(meters)) < 1.15 * plan.block_m
    assert np.allclose(g.length_m[local], meters, rtol=0.01)
    kmh = g.length_m / g.travel_time_s * 3.6
    fast = {
        h: float(np.median(kmh[[e for e in range(g.n_edges) if g.edge_highway[e] == h]]))
        for h in ("residential", "primary", "motorway")
    }
    assert fast["residential"] < fast["primary"] < fast["motorway"]


def test_river_only_crossed_on_bridges(city: tuple[CityPlan, RoadGraph]) -> None:
    plan, g = city
    crossing = set()
    for e in range(g.n_edges):
        u, v = edge_ids(g, e)
        if plan.north[u] != plan.north[v]:
            crossing.add((u, v))
            if max(u, v) < plan.rows * plan.cols:  # a street bridge spans the whole river
                assert g.length_m[e] >= plan.river_width_m
    assert crossing == set(plan.bridges)
    street_bridges = {p for p in crossing if max(p) < plan.rows * plan.cols}
    assert 0 < len(street_bridges) <= 2 * len(plan.bridge_cols)  # a few two-way bridges
    assert len(crossing) < 0.002 * g.n_edges

    rnd = random.Random(1)
    ids = g.node_ids.tolist()
    south = [i for i in ids if not plan.north[i]]
    north = [i for i in ids if plan.north[i]]
    for _ in range(8):
        a, b = rnd.choice(south), rnd.choice(north)
        for s, t in ((a, b), (b, a)):
            route = g.route(g.snap_node(s), g.snap_node(t))
            used = {edge_ids(g, e) for e, f0, f1 in route.pieces if f1 > f0}
            assert used & plan.bridges, (s, t)


def test_one_way_couplets(city: tuple[CityPlan, RoadGraph]) -> None:
    plan, g = city
    assert plan.oneway_pairs
    by_name: dict[str, list[int]] = {}
    for e, names in enumerate(g.edge_names):
        for n in names:
            by_name.setdefault(n, []).append(e)
    checked = 0
    for up, down in plan.oneway_pairs:
        ea, eb = by_name.get(up, []), by_name.get(down, [])
        if len(ea) < 3 or len(eb) < 3:
            continue
        axis = g.lat if "南北" in up else g.lon  # north/east on `up`, south/west on `down`
        assert all(g.twin[e] == -1 and g.edge_highway[e] == "primary" for e in ea + eb)
        assert all(axis[g.indices[e]] > axis[g.edge_src[e]] for e in ea)
        assert all(axis[g.indices[e]] < axis[g.edge_src[e]] for e in eb)
        checked += 1
    assert checked >= 2


def test_expressway_joins_streets_only_at_ramps(city: tuple[CityPlan, RoadGraph]) -> None:
    plan, g = city
    n_grid = plan.rows * plan.cols
    ramps = 0
    for e in range(g.n_edges):
        u, v = edge_ids(g, e)
        if (u >= n_grid) != (v >= n_grid):
            assert g.edge_highway[e] == "motorway_link"
            ramps += 1
        elif u >= n_grid:
            assert g.edge_highway[e] == "motorway"
    assert ramps >= 4 and ramps <= 2 * plan.ramps


def test_strongly_connected(city: tuple[CityPlan, RoadGraph]) -> None:
    _, g = city
    adj = csr_matrix((np.ones(g.n_edges), g.indices, g.indptr), shape=(g.n_nodes, g.n_nodes))
    assert connected_components(adj, directed=True, connection="strong")[0] == 1
    rnd = random.Random(2)
    for _ in range(15):
        a, b = rnd.sample(g.node_ids.tolist(), 2)
        sa, sb = g.snap_node(a), g.snap_node(b)
        assert g.nearest_by_time(sb, [("a", sa)], 1)[0].reachable
        assert g.nearest_by_time(sa, [("b", sb)], 1)[0].reachable


@pytest.mark.slow
def test_dispatch_bench_quick_smoke() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "dispatch.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    for key in (
        "nodes",
        "units",
        "k",
        "queries",
        "p50_ms",
        "p99_ms",
        "networkx_p50_ms",
        "speedup",
        "scipy_full_p50_ms",
        "straight_line_wrong_share",
        "straight_line_extra_s_p50",
        "straight_line_extra_s_p90",
        "graph_mb",
    ):
        assert key in result, key
    assert result["generated"] is True
    assert result["nodes"] >= 20_000 and result["units"] == 200 and result["queries"] == 30
    assert result["p50_ms"] > 0 and result["graph_mb"] > 0
    assert result["scipy_top1_agree"] == result["baseline_queries"]
    if result["networkx_p50_ms"] is not None:
        assert result["networkx_top1_agree"] == result["baseline_queries"]
