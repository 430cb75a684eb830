"""A GENERATED (not real) city road network for benchmarks and tests of the road-graph code.

Nothing here is surveyed data: it is a seeded, deterministic caricature of a large Chinese city,
placed around Shenzhen (22.55 N, 114.05 E) only so that coordinates are WGS-84 and metre distances
are realistic. It has the features that make straight-line dispatch pick the wrong unit:

* local street grids (two-way, residential speed; a few blocks closed, a few streets one-way),
* arterials every `arterial_every` blocks (primary speed), every third one a one-way couplet
  (two parallel streets one block apart, opposite directions),
* a river across the whole city that can only be crossed on a few bridges,
* one or two expressway rings (motorway speed) that cross the grid without junctions and connect
  to it only at sparse ramps.

Only the largest strongly connected component is kept, so every node can reach every other one.
Node ids are `row * cols + col` for grid nodes and follow on for ring nodes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from zhihui.geo.coords import EARTH_RADIUS_M
from zhihui.geo.roads import URBAN_FACTOR, EdgeSpec, RoadGraph

__all__ = ["CENTER", "SPEEDS_KMH", "CityPlan", "generate_city", "synthetic_road_graph"]

CENTER = (22.55, 114.05)
SPEEDS_KMH = {"residential": 25.0, "primary": 50.0, "motorway": 80.0, "motorway_link": 40.0}
_CLASSES = ("residential", "primary", "motorway", "motorway_link")
_RES, _PRI, _MOT, _LINK = range(4)


@dataclass(slots=True)
class CityPlan:
    """The generated network before packing, plus what tests and benchmarks need to know about it."""

    seed: int
    rows: int
    cols: int
    block_m: float
    river_width_m: float
    nodes: dict[int, tuple[float, float]]
    """Kept node id -> (lat, lon)."""
    edges: list[EdgeSpec]
    north: np.ndarray
    """north[node_id]: the node is north of the river (indexed by every generated id, kept or not)."""
    river_row: np.ndarray
    """river_row[col]: the river runs between grid rows river_row[col] and river_row[col] + 1."""
    bridges: frozenset[tuple[int, int]]
    """Directed (u, v) node-id pairs of every kept edge that crosses the river."""
    bridge_cols: tuple[int, ...]
    oneway_pairs: tuple[tuple[str, str], ...]
    """Couplets (name going north/east, name going south/west)."""
    ring_nodes: int
    ramps: int

    def build(self) -> RoadGraph:
        return RoadGraph.from_edges(self.nodes, self.edges)


def _grid_dims(target: int, aspect: float) -> tuple[int, int]:
    rows = max(8, math.ceil(math.sqrt(target / aspect)))
    cols = max(8, math.ceil(target / rows))
    return rows, cols


def generate_city(
    target_nodes: int = 200_000,
    seed: int = 0,
    *,
    block_m: float = 100.0,
    aspect: float = 2.0,
    arterial_every: int = 8,
    n_bridges: int | None = None,
    river_width_m: float = 250.0,
    rings: int = 2,
    ramp_spacing_m: float = 2500.0,
    ring_spacing_m: float = 250.0,
    p_closed: float = 0.03,
    p_oneway: float = 0.04,
) -> CityPlan:
    """Generate a city with at least `target_nodes` nodes (a few % more), deterministic in `seed`."""
    if target_nodes < 64:
        raise ValueError("target_nodes must be >= 64")
    size = int(target_nodes * 1.02)
    for _ in range(10):
        plan = _generate(
            size,
            seed,
            block_m,
            aspect,
            arterial_every,
            n_bridges,
            river_width_m,
            rings,
            ramp_spacing_m,
            ring_spacing_m,
            p_closed,
            p_oneway,
        )
        if len(plan.nodes) >= target_nodes:
            return plan
        size = int(size * 1.02) + 1
    raise RuntimeError("could not reach the requested size")  # pragma: no cover


def synthetic_road_graph(target_nodes: int = 200_000, seed: int = 0) -> RoadGraph:
    """Shortcut: the packed RoadGraph of `generate_city(target_nodes, seed)`."""
    return generate_city(target_nodes, seed).build()


def _generate(
    size: int,
    seed: int,
    s: float,
    aspect: float,
    every: int,
    n_bridges: int | None,
    width: float,
    rings: int,
    ramp_spacing: float,
    ring_spacing: float,
    p_closed: float,
    p_oneway: float,
) -> CityPlan:
    rng = np.random.default_rng(seed)
    rows, cols = _grid_dims(size, aspect)
    n_grid = rows * cols

    # River: between rows river_row[j] and river_row[j] + 1, meandering by at most one row per column.
    amp = rows * 0.12
    period = cols * rng.uniform(0.6, 0.9)
    phase = rng.uniform(0, 2 * math.pi)
    j_all = np.arange(cols)
    river_row = np.round(rows * 0.45 + amp * np.sin(2 * math.pi * j_all / period + phase)).astype(np.int64)
    river_row = np.clip(river_row, 1, rows - 3)
    for j in range(1, cols):  # no jump of more than one row between neighbouring columns
        river_row[j] = np.clip(river_row[j], river_row[j - 1] - 1, river_row[j - 1] + 1)
    ii, jj = np.divmod(np.arange(n_grid), cols)
    north_grid = ii > river_row[jj]

    # Street classes: arterial rows / columns, every third arterial a one-way couplet (k, k + 1).
    def classes(count: int) -> tuple[np.ndarray, np.ndarray]:
        cls = np.full(count, _RES)
        direction = np.zeros(count, dtype=np.int64)  # 0 two-way, +1 increasing index only, -1 decreasing
        for a, k in enumerate(range(every // 2, count - 1, every)):
            cls[k] = _PRI
            if a % 3 == 1:
                cls[k + 1] = _PRI
                direction[k], direction[k + 1] = 1, -1
        return cls, direction

    col_cls, col_dir = classes(cols)
    row_cls, row_dir = classes(rows)

    two_way_art_cols = [j for j in range(cols) if col_cls[j] == _PRI and col_dir[j] == 0]
    nb = n_bridges if n_bridges is not None else max(3, min(8, cols // 100))
    nb = min(nb, len(two_way_art_cols)) if two_way_art_cols else 0
    if nb:
        pick = np.linspace(0, len(two_way_art_cols) - 1, nb + 2)[1:-1] if nb < len(two_way_art_cols) else None
        if pick is None:
            bridge_cols = tuple(two_way_art_cols)
        else:
            idx = np.round(pick).astype(np.int64)
            bridge_cols = tuple(sorted({two_way_art_cols[int(i)] for i in idx}))
    else:  # pragma: no cover - tiny grids only
        bridge_cols = (cols // 2,)
    is_bridge_col = np.zeros(cols, dtype=bool)
    is_bridge_col[list(bridge_cols)] = True

    # Coordinates in metres (x east, y north); the north bank is pushed north by the river width.
    jitter = s * 0.05
    gx = jj * s + rng.uniform(-jitter, jitter, n_grid)
    gy = ii * s + np.where(north_grid, width, 0.0) + rng.uniform(-jitter, jitter, n_grid)

    us: list[np.ndarray] = []
    vs: list[np.ndarray] = []
    cs: list[np.ndarray] = []
    names: list[np.ndarray] = []  # index into name table
    name_table: list[str] = []

    def add(u: np.ndarray, v: np.ndarray, cls: np.ndarray | int, name_idx: np.ndarray) -> None:
        us.append(u)
        vs.append(v)
        cs.append(np.broadcast_to(np.asarray(cls), u.shape).astype(np.int64))
        names.append(name_idx)

    col_name0 = len(name_table)
    name_table += [f"{'干道' if col_cls[j] == _PRI else '支路'}南北{j}号" for j in range(cols)]
    row_name0 = len(name_table)
    name_table += [f"{'干道' if row_cls[i] == _PRI else '支路'}东西{i}号" for i in range(rows)]

    def street_edges(
        a: np.ndarray,
        b: np.ndarray,
        cls: np.ndarray,
        direction: np.ndarray,
        name_idx: np.ndarray,
        crosses: np.ndarray,
        bridge_ok: np.ndarray,
    ) -> None:
        """Segments a -> b (increasing index); drop river crossings that are not bridges."""
        keep = ~crosses | bridge_ok
        local = cls == _RES
        r = rng.random(len(a))
        keep &= ~(local & (r < p_closed) & ~crosses)
        r2 = rng.random(len(a))
        local_oneway = local & (r2 < p_oneway)
        flip = rng.random(len(a)) < 0.5
        fwd = keep & ((direction >= 0) & ~(local_oneway & flip))
        bwd = keep & ((direction <= 0) & ~(local_oneway & ~flip))
        add(a[fwd], b[fwd], cls[fwd], name_idx[fwd])
        add(b[bwd], a[bwd], cls[bwd], name_idx[bwd])

    # Vertical segments (i, j) -> (i + 1, j).
    vi, vj = np.divmod(np.arange((rows - 1) * cols), cols)
    va, vb = vi * cols + vj, (vi + 1) * cols + vj
    street_edges(va, vb, col_cls[vj], col_dir[vj], col_name0 + vj, north_grid[va] != north_grid[vb], is_bridge_col[vj])
    # Horizontal segments (i, j) -> (i, j + 1).
    hi, hj = np.divmod(np.arange(rows * (cols - 1)), cols - 1)
    ha, hb = hi * cols + hj, hi * cols + hj + 1
    street_edges(
        ha,
        hb,
        row_cls[hi],
        row_dir[hi],
        row_name0 + hi,
        north_grid[ha] != north_grid[hb],
        np.zeros(len(ha), dtype=bool),
    )

    # Expressway rings: ellipses around the centre, nodes every ~ring_spacing, ramps every ~ramp_spacing.
    xc, yc = (cols - 1) * s / 2, ((rows - 1) * s + width) / 2
    half_w, half_h = (cols - 1) * s / 2, ((rows - 1) * s + width) / 2
    fracs = [0.35, 0.75][: max(0, rings)] if rings <= 2 else list(np.linspace(0.3, 0.85, rings))
    rx_all: list[np.ndarray] = [gx]
    ry_all: list[np.ndarray] = [gy]
    north_parts: list[np.ndarray] = [north_grid]
    next_id = n_grid
    n_ramps = 0
    ring_total = 0
    for ring_no, f in enumerate(fracs, start=1):
        ax, ay = f * half_w, f * half_h
        perimeter = math.pi * (3 * (ax + ay) - math.sqrt((3 * ax + ay) * (ax + 3 * ay)))
        m = max(8, round(perimeter / ring_spacing))
        t = np.arange(m) * 2 * math.pi / m + rng.uniform(0, 2 * math.pi / m)
        x, y = xc + ax * np.cos(t), yc + ay * np.sin(t)
        ids = next_id + np.arange(m)
        next_id += m
        ring_total += m
        col = np.clip(np.round(x / s).astype(np.int64), 0, cols - 1)
        river_y = (river_row[col] + 0.5) * s + width / 2
        north = y > river_y
        rx_all.append(x)
        ry_all.append(y)
        north_parts.append(north)
        nxt = np.roll(ids, -1)
        add(ids, nxt, _MOT, np.full(m, len(name_table)))
        add(nxt, ids, _MOT, np.full(m, len(name_table)))
        name_table.append(f"环城高速{ring_no}号线")
        # Ramps to the nearest grid node on the same bank, away from the river.
        step = max(1, round(ramp_spacing / ring_spacing))
        for k in range(0, m, step):
            if abs(y[k] - river_y[k]) < s + width:
                continue
            i = round(((y[k] - width) if north[k] else y[k]) / s)
            j = int(col[k])
            if not 0 <= i < rows:
                continue
            g = i * cols + j
            if north_grid[g] != north[k]:
                continue
            add(np.array([ids[k], g]), np.array([g, ids[k]]), _LINK, np.full(2, len(name_table)))
            n_ramps += 1
        name_table.append("匝道")

    x_all = np.concatenate(rx_all)
    y_all = np.concatenate(ry_all)
    north_all = np.concatenate(north_parts)
    u = np.concatenate(us)
    v = np.concatenate(vs)
    c = np.concatenate(cs)
    nm = np.concatenate(names)
    n_all = len(x_all)

    # Keep only the largest strongly connected component.
    adj = csr_matrix((np.ones(len(u), dtype=np.int8), (u, v)), shape=(n_all, n_all))
    _, label = connected_components(adj, directed=True, connection="strong")
    biggest = np.bincount(label).argmax()
    keep_node = label == biggest
    keep_edge = keep_node[u] & keep_node[v]
    u, v, c, nm = u[keep_edge], v[keep_edge], c[keep_edge], nm[keep_edge]

    # Metres -> WGS-84 around CENTER (equirectangular; exact enough at city scale).
    ky = EARTH_RADIUS_M * math.pi / 180.0
    kx = ky * math.cos(math.radians(CENTER[0]))
    lat = CENTER[0] + (y_all - (y_all.max() + y_all.min()) / 2) / ky
    lon = CENTER[1] + (x_all - (x_all.max() + x_all.min()) / 2) / kx
    length = np.hypot(x_all[u] - x_all[v], y_all[u] - y_all[v])
    speed_ms = np.array([SPEEDS_KMH[k] for k in _CLASSES]) * URBAN_FACTOR / 3.6
    tt = length / speed_ms[c]

    kept = np.flatnonzero(keep_node)
    nodes = dict(zip(kept.tolist(), zip(lat[kept].tolist(), lon[kept].tolist(), strict=True), strict=True))
    name_tuples = [(n,) for n in name_table]
    edges = [
        EdgeSpec(a, b, ln, t_, name_tuples[n], _CLASSES[k])
        for a, b, ln, t_, n, k in zip(
            u.tolist(), v.tolist(), length.tolist(), tt.tolist(), nm.tolist(), c.tolist(), strict=True
        )
    ]
    crossing = north_all[u] != north_all[v]
    bridges = frozenset(zip(u[crossing].tolist(), v[crossing].tolist(), strict=True))
    pairs = []
    for dir_arr, name0 in ((col_dir, col_name0), (row_dir, row_name0)):
        for k in np.flatnonzero(dir_arr == 1).tolist():
            pairs.append((name_table[name0 + k], name_table[name0 + k + 1]))
    return CityPlan(
        seed=seed,
        rows=rows,
        cols=cols,
        block_m=s,
        river_width_m=width,
        nodes=nodes,
        edges=edges,
        north=north_all,
        river_row=river_row,
        bridges=bridges,
        bridge_cols=bridge_cols,
        oneway_pairs=tuple(pairs),
        ring_nodes=ring_total,
        ramps=n_ramps,
    )
