"""Nearest-unit (就近派警) benchmark on a GENERATED city road network (zhihui.sim.roadgen, not real data).

Method
------
1. Generate the synthetic city (`--nodes`, `--seed`) and pack it into a RoadGraph (`gen_s`, `build_s`).
   Memory of the loaded graph: `graph_mb` = sum of `nbytes` of the graph's numpy arrays (incl. the KD-trees'
   data/indices; `graph_numpy_mb` alone) + `sys.getsizeof` of its Python lists/dicts and the objects in
   them, each counted once (the plain lists the Dijkstra loop uses, names, the id index). Cross-checks:
   `graph_rss_delta_mb` (RSS growth over the build, includes allocator slack and cKDTree's C++ buffers)
   and, with `--tracemalloc`, `graph_tracemalloc_mb` retained / `graph_build_peak_mb` (about 10x slower
   build, so off by default).
2. Place `--units` units at uniformly random points of the city's bounding box and snap them to the road
   (not timed: a live system snaps a unit on each GPS update, long before an incident arrives).
3. For `--queries` random incident points, time snap(incident) + `nearest_by_time(k)` together
   (`p50_ms`, `p99_ms`; `snap_p50_ms` / `search_p50_ms` split them), with the interpreter's default GC.
   The same queries are then re-timed after `gc.collect(); gc.freeze()` (`gc_frozen_*`) and with the GC
   disabled (`gc_disabled_*`): the graph holds millions of Python objects that the cyclic GC otherwise
   walks in the middle of queries.
4. Straight-line check, per query: the haversine-nearest unit vs. the road-fastest one.
   `straight_line_wrong_share` = share of queries where the haversine-nearest is strictly slower by road;
   `straight_line_extra_s_p50/_p90` = seconds lost over those queries.
5. Baselines on the first `--baseline-queries` incidents, same graph, same units, same snapping:
   networkx (nx.DiGraph of the reversed graph with travel-time weights, a virtual node for the incident's
   edge position, `single_source_dijkstra_path_length` over the whole graph, then the k best units) and
   scipy (`csgraph.dijkstra` over the whole reversed graph from the incident's entry nodes, then a
   vectorised pick of the k best). `speedup` = networkx_p50_ms / p50_ms (ratio of medians). Each baseline's
   best ETA is checked against nearest_by_time's (`*_top1_agree`).
6. The LAST line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import heapq
import json
import math
import os
import random
import sys
import time
import tracemalloc

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra

from zhihui.geo.coords import EARTH_RADIUS_M
from zhihui.geo.roads import RoadGraph, Snap
from zhihui.sim.roadgen import generate_city


def log(msg: str) -> None:
    print(msg, flush=True)


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def haversine_many(lat: float, lon: float, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    p1, p2 = math.radians(lat), np.radians(lats)
    dphi, dl = p2 - p1, np.radians(lons - lon)
    h = np.sin(dphi / 2) ** 2 + math.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(h))


def numpy_nbytes(g: RoadGraph) -> int:
    total = sum(v.nbytes for v in vars(g).values() if isinstance(v, np.ndarray))
    for tree in (g.node_tree, g._sample_tree):
        total += tree.data.nbytes + tree.indices.nbytes
    return total


def python_bytes(g: RoadGraph) -> int:
    """Bytes of the graph's Python containers (lists, dicts, tuples) and the objects they hold, each once."""
    seen: set[int] = set()
    total = 0

    def add(obj: object, depth: int) -> None:
        nonlocal total
        if id(obj) in seen:
            return
        seen.add(id(obj))
        total += sys.getsizeof(obj)
        if depth and isinstance(obj, list | tuple):
            for x in obj:
                add(x, depth - 1)
        elif depth and isinstance(obj, dict):
            for key, x in obj.items():
                add(key, depth - 1)
                add(x, depth - 1)

    for value in vars(g).values():
        if isinstance(value, list | tuple | dict):
            add(value, 3)
    return total


def rss_bytes() -> int:
    """Resident set size from /proc (Linux); 0 elsewhere."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def exits(g: RoadGraph, snap: Snap) -> list[tuple[int, float]]:
    """(node, seconds) a unit at `snap` can drive to directly (mirrors RoadGraph._exits)."""
    out = []
    for e, f in snap.positions():
        out.append((int(g.indices[e]), (1.0 - f) * float(g.travel_time_s[e])))
        if f == 0.0:
            out.append((int(g.edge_src[e]), 0.0))
    return out


def entries(g: RoadGraph, snap: Snap) -> list[tuple[int, float]]:
    """(node, seconds from node to the incident) (mirrors RoadGraph._entries)."""
    out = []
    for e, f in snap.positions():
        out.append((int(g.edge_src[e]), f * float(g.travel_time_s[e])))
        if f == 1.0:
            out.append((int(g.indices[e]), 0.0))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nodes", type=int, default=200_000)
    ap.add_argument("--units", type=int, default=2000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--baseline-queries", type=int, default=20)
    ap.add_argument("--tracemalloc", action="store_true", help="also trace the build (about 10x slower)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 20k nodes, 200 units, 30 queries")
    args = ap.parse_args(argv)
    if args.quick:
        args.nodes, args.units, args.queries, args.baseline_queries = 20_000, 200, 30, 5
    rnd = random.Random(args.seed)

    log(f"generating city: target {args.nodes} nodes, seed {args.seed}")
    t0 = time.perf_counter()
    plan = generate_city(args.nodes, args.seed)
    gen_s = time.perf_counter() - t0
    log(
        f"  generated {len(plan.nodes)} nodes, {len(plan.edges)} edges, {plan.rows}x{plan.cols} grid, "
        f"{len(plan.bridge_cols)} street bridges, {plan.ring_nodes} ring nodes, {plan.ramps} ramps in {gen_s:.1f} s"
    )

    log("packing RoadGraph" + (" (under tracemalloc)" if args.tracemalloc else ""))
    rss0 = rss_bytes()
    if args.tracemalloc:
        tracemalloc.start()
    t0 = time.perf_counter()
    g = plan.build()
    build_s = time.perf_counter() - t0
    traced = peak = 0
    if args.tracemalloc:
        traced, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    rss_delta_mb = (rss_bytes() - rss0) / 2**20
    del plan
    graph_numpy_mb = numpy_nbytes(g) / 2**20
    graph_mb = graph_numpy_mb + python_bytes(g) / 2**20
    log(
        f"  {g.n_nodes} nodes, {g.n_edges} edges in {build_s:.1f} s; {graph_mb:.0f} MiB "
        f"(numpy {graph_numpy_mb:.0f} MiB + Python objects), RSS grew {rss_delta_mb:.0f} MiB during the build"
    )

    lat_lo, lat_hi = float(g.lat.min()), float(g.lat.max())
    lon_lo, lon_hi = float(g.lon.min()), float(g.lon.max())

    def random_point() -> tuple[float, float]:
        return rnd.uniform(lat_lo, lat_hi), rnd.uniform(lon_lo, lon_hi)

    t0 = time.perf_counter()
    sources = [(f"U{i:05d}", g.snap(*random_point())) for i in range(args.units)]
    unit_lat = np.array([s.lat for _, s in sources])
    unit_lon = np.array([s.lon for _, s in sources])
    log(f"snapped {args.units} units in {time.perf_counter() - t0:.1f} s")
    incidents = [random_point() for _ in range(args.queries)]

    for p in incidents[:3]:  # warm-up
        g.nearest_by_time(g.snap(*p), sources, args.k)

    log(f"timing {args.queries} queries: snap + nearest_by_time(k={args.k})")
    total_ms, snap_ms, search_ms, settled = [], [], [], []
    best_eta: list[float] = []
    wrong, extra_s = 0, []
    snaps: list[Snap] = []
    # As the service does once after loading (RoadNetwork.load): keep the graph's objects out of GC scans.
    gc.collect()
    gc.freeze()
    for q, (lat, lon) in enumerate(incidents):
        t0 = time.perf_counter()
        target = g.snap(lat, lon)
        t1 = time.perf_counter()
        res = g.nearest_by_time(target, sources, args.k)
        t2 = time.perf_counter()
        total_ms.append((t2 - t0) * 1e3)
        snap_ms.append((t1 - t0) * 1e3)
        search_ms.append((t2 - t1) * 1e3)
        settled.append(res.settled_nodes)
        snaps.append(target)
        best_eta.append(res[0].eta_s)
        # Straight-line choice (not timed).
        sl = int(np.argmin(haversine_many(target.lat, target.lon, unit_lat, unit_lon)))
        key = sources[sl][0]
        eta_sl = next((r.eta_s for r in res if r.key == key), None)
        if eta_sl is None:
            eta_sl = g.nearest_by_time(target, [sources[sl]], 1)[0].eta_s
        if eta_sl > res[0].eta_s + 1e-6:
            wrong += 1
            extra_s.append(eta_sl - res[0].eta_s)
        if (q + 1) % max(1, args.queries // 5) == 0:
            log(f"  {q + 1}/{args.queries}: p50 so far {pct(total_ms, 50):.2f} ms")

    # The same queries again with the garbage collector out of the way: the graph keeps millions of Python
    # objects (the lists the Dijkstra loop reads), and CPython's cyclic GC walks them during queries.
    def timed_pass() -> list[float]:
        out = []
        for lat, lon in incidents:
            t0 = time.perf_counter()
            g.nearest_by_time(g.snap(lat, lon), sources, args.k)
            out.append((time.perf_counter() - t0) * 1e3)
        return out

    gc.collect()
    gc.freeze()  # what a service can do once after loading the graph
    frozen_ms = timed_pass()
    gc.disable()
    nogc_ms = timed_pass()
    gc.enable()
    gc.unfreeze()
    log(
        f"gc.freeze() after load: p50 {pct(frozen_ms, 50):.2f} ms, p99 {pct(frozen_ms, 99):.2f} ms; "
        f"gc disabled: p50 {pct(nogc_ms, 50):.2f} ms, p99 {pct(nogc_ms, 99):.2f} ms"
    )

    nb = min(args.baseline_queries, args.queries)

    # scipy: full Dijkstra over the reversed graph, then a vectorised pick.
    rev = csr_matrix((g.rev_travel_time_s, g.rev_indices, g.rev_indptr), shape=(g.n_nodes, g.n_nodes))
    ex = [exits(g, s) for _, s in sources]
    width = max(len(x) for x in ex)
    ex_node = np.zeros((len(ex), width), dtype=np.int64)
    ex_cost = np.full((len(ex), width), np.inf)
    for i, x in enumerate(ex):
        for c, (node, cost) in enumerate(x):
            ex_node[i, c], ex_cost[i, c] = node, cost
    log(f"scipy full dijkstra on {nb} queries")
    scipy_ms, scipy_agree = [], 0
    for q in range(nb):
        t0 = time.perf_counter()
        target = g.snap(*incidents[q])
        ent = entries(g, target)
        dist = dijkstra(rev, directed=True, indices=[n for n, _ in ent])
        node_eta = np.min(dist + np.array([[c] for _, c in ent]), axis=0)
        eta = np.min(node_eta[ex_node] + ex_cost, axis=1)
        top = np.argpartition(eta, args.k - 1)[: args.k]
        top = top[np.argsort(eta[top])]
        scipy_ms.append((time.perf_counter() - t0) * 1e3)
        scipy_agree += abs(float(eta[top[0]]) - best_eta[q]) < 1e-6

    # networkx: the textbook baseline.
    networkx_ms: list[float] = []
    nx_agree = 0
    nx_build_s = float("nan")
    try:
        import networkx as nx
    except ImportError:
        log("networkx not installed: baseline skipped")
        nx = None
    if nx is not None:
        t0 = time.perf_counter()
        G = nx.DiGraph()
        G.add_weighted_edges_from(
            zip(g.indices.tolist(), g.edge_src.tolist(), g.travel_time_s.tolist(), strict=True), weight="w"
        )
        nx_build_s = time.perf_counter() - t0
        log(f"networkx reversed DiGraph built in {nx_build_s:.1f} s; {nb} queries")
        for q in range(nb):
            t0 = time.perf_counter()
            target = g.snap(*incidents[q])
            G.add_weighted_edges_from([("T", n, c) for n, c in entries(g, target)], weight="w")
            dist = nx.single_source_dijkstra_path_length(G, "T", weight="w")
            G.remove_node("T")
            best = heapq.nsmallest(
                args.k,
                ((min(dist.get(n, math.inf) + c for n, c in x), key) for (key, _), x in zip(sources, ex, strict=True)),
            )
            networkx_ms.append((time.perf_counter() - t0) * 1e3)
            nx_agree += abs(best[0][0] - best_eta[q]) < 1e-6
            log(f"  networkx query {q + 1}/{nb}: {networkx_ms[-1]:.0f} ms")

    p50 = pct(total_ms, 50)
    result = {
        "generated": True,
        "nodes": g.n_nodes,
        "edges": g.n_edges,
        "units": args.units,
        "k": args.k,
        "queries": args.queries,
        "seed": args.seed,
        "p50_ms": round(p50, 3),
        "p90_ms": round(pct(total_ms, 90), 3),
        "p99_ms": round(pct(total_ms, 99), 3),
        "max_ms": round(max(total_ms), 3),
        "gc_frozen_p50_ms": round(pct(frozen_ms, 50), 3),
        "gc_frozen_p99_ms": round(pct(frozen_ms, 99), 3),
        "gc_disabled_p50_ms": round(pct(nogc_ms, 50), 3),
        "gc_disabled_p99_ms": round(pct(nogc_ms, 99), 3),
        "snap_p50_ms": round(pct(snap_ms, 50), 3),
        "search_p50_ms": round(pct(search_ms, 50), 3),
        "search_p99_ms": round(pct(search_ms, 99), 3),
        "settled_p50": int(pct(settled, 50)),
        "settled_p99": int(pct(settled, 99)),
        "baseline_queries": nb,
        "p50_ms_on_baseline_queries": round(pct(total_ms[:nb], 50), 3),
        "networkx_p50_ms": round(pct(networkx_ms, 50), 1) if networkx_ms else None,
        "networkx_top1_agree": nx_agree if networkx_ms else None,
        "networkx_build_s": round(nx_build_s, 1) if networkx_ms else None,
        "speedup": round(pct(networkx_ms, 50) / p50, 1) if networkx_ms else None,
        "scipy_full_p50_ms": round(pct(scipy_ms, 50), 2),
        "scipy_top1_agree": scipy_agree,
        "straight_line_wrong_share": round(wrong / args.queries, 3),
        "straight_line_extra_s_p50": round(pct(extra_s, 50), 1) if extra_s else 0.0,
        "straight_line_extra_s_p90": round(pct(extra_s, 90), 1) if extra_s else 0.0,
        "graph_mb": round(graph_mb, 1),
        "graph_numpy_mb": round(graph_numpy_mb, 1),
        "graph_rss_delta_mb": round(rss_delta_mb, 1),
        "graph_tracemalloc_mb": round(traced / 2**20, 1) if args.tracemalloc else None,
        "graph_build_peak_mb": round(peak / 2**20, 1) if args.tracemalloc else None,
        "graph_mb_method": "numpy nbytes (incl. KD-tree data/indices) + sys.getsizeof of the graph's Python lists, "
        "dicts and their elements, each object once",
        "gen_s": round(gen_s, 2),
        "build_s": round(build_s, 1),
        "build_under_tracemalloc": args.tracemalloc,
        "python": sys.version.split()[0],
    }
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
