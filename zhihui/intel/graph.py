"""Relation graph (关系人员倒查): who is linked to whom, how, since when, and on what evidence.

Nodes are persons keyed by a string (an 18-character ID number, or a key-person id); edges are relations
of one of :data:`KINDS`. Two persons can be linked by several kinds at once (同住 *and* 同机号); each kind
is its own edge, so a query reports every parallel relation. A second relation of the *same* kind between
the same pair is merged into the existing edge (count added, first/last seen widened, evidence united).

Storage. The topology lives in a :class:`rustworkx.PyGraph` (multigraph, undirected, payload-free);
the edge attributes live in numpy columns indexed by the rustworkx edge index, because ten million
Python payload objects would cost gigabytes. Each query runs where ``bench/graph.py`` measured it
fastest, against rustworkx's adjacency, a vectorised numpy CSR search, scipy's BFS, rustworkx's own
Dijkstra and, on a smaller graph, networkx and a DuckDB recursive CTE:

* k-hop neighbourhoods (and the cost-bounded balls of the weighted path) run on a compiled CSR index
  of the same edges with vectorised frontier expansion: a hub's second hop is tens of thousands of
  persons, too many for a Python loop over ``PyGraph.neighbors``. A level is the frontier's rows in one
  gather (offsets by repeat/cumsum arithmetic), deduplicated by a scatter into a preallocated position
  array (no sort, no hash set). Only the levels that records will come from are scored (strongest
  path: weights read in row order from the index's copy); past the caller's ``limit`` only the sets
  are found, and records (paths, relations) are made for the shown nodes only, all at once. Relations
  added after the index was compiled sit in a small overlay until there are enough of them to recompile.
* the fewest-hops path walks ``PyGraph.neighbors`` from both ends, node by node, and stops at the
  first meeting, which beat vectorised levels (they finish a whole level before looking).
* "which relations join u and v" is ``PyGraph.edge_indices_from_endpoints``.

Derivation (:func:`derive_edges`) is DuckDB SQL over ``ACTIVITY`` rows (:mod:`zhihui.intel.schema`) and a
persons table: 同住 co_stay (same hotel, same room, overlapping local nights), 同行 co_travel (same trip, and
neighbouring seats when seats are known), 同机号 shared_phone and 同址 shared_address. 亲属 family and 同案
co_offending come from case files and are added with :meth:`RelationGraph.add_relation`.

Weights are in (0, 1]: every piece of evidence of a kind is taken as an independent chance that the
relation is real (:data:`BASE_STRENGTH`), combined noisy-OR, so ``weight = 1 - (1 - base) ** count``; merging
two edges of the same kind combines their weights the same way. A path's strength is the product of its
steps' weights; a weighted shortest path minimises the sum of ``1 / weight`` (every hop costs at least 1,
so a strong chain beats a weak one but cannot be arbitrarily long).
"""

from __future__ import annotations

import bisect
import itertools
import math
import operator
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import rustworkx as rx

__all__ = [
    "BASE_STRENGTH",
    "EDGES",
    "EVIDENCE_CAP",
    "KINDS",
    "KIND_LABELS",
    "Neighbour",
    "Neighbourhood",
    "Relation",
    "RelationGraph",
    "RelationPath",
    "Sighting",
    "derive_edges",
]

KINDS: tuple[str, ...] = ("co_stay", "co_travel", "shared_phone", "shared_address", "family", "co_offending")
KIND_LABELS: dict[str, str] = {
    "co_stay": "同住",
    "co_travel": "同行",
    "shared_phone": "同机号",
    "shared_address": "同址",
    "family": "亲属",
    "co_offending": "同案",
}
# Chance that one piece of evidence of the kind means a real association. A shared room is strong, a
# shared train a weak hint (strangers sit side by side), case-file relations are near certain.
BASE_STRENGTH: dict[str, float] = {
    "co_stay": 0.6,
    "co_travel": 0.3,
    "shared_phone": 0.8,
    "shared_address": 0.5,
    "family": 0.95,
    "co_offending": 0.95,
}
EVIDENCE_CAP = 20
# Groups larger than this say nothing about who knows whom (a hotel switchboard number, a 集体户 address,
# a whole train without seat numbers): they are not linked at all.
MAX_GROUP: dict[str, int] = {"shared_phone": 10, "shared_address": 12, "co_travel": 60}

EDGES = pa.schema(
    [
        pa.field("a", pa.string(), nullable=False),  # a < b
        pa.field("b", pa.string(), nullable=False),
        pa.field("kind", pa.string(), nullable=False),  # one of KINDS
        pa.field("weight", pa.float64(), nullable=False),
        pa.field("count", pa.int64(), nullable=False),
        pa.field("first_seen", pa.timestamp("us", tz="UTC")),
        pa.field("last_seen", pa.timestamp("us", tz="UTC")),
        pa.field("evidence", pa.list_(pa.string())),  # record ids (or "phone:…" / "address:…"), capped
    ]
)

_KIND_CODE = {k: i for i, k in enumerate(KINDS)}
_KINDS_ARROW = pa.array(KINDS)
_NO_TIME = np.iinfo(np.int64).min  # first/last seen unknown (static relations: family, shared phone…)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_MAX_NODES = 1 << 28  # edge keys pack (lo, hi, kind) into an int64
_OVERLAY_MIN = 50_000  # relations added after compiling the CSR index are overlaid up to this many (or 5 %)


# --- result types ---------------------------------------------------------------------------------------
# NamedTuples: a query can return thousands of them, and a frozen dataclass costs ~10x more to make.


def _time(us: int) -> datetime | None:
    return None if us == _NO_TIME else _EPOCH + timedelta(microseconds=us)


class Relation(NamedTuple):
    """One edge: a relation of one kind between two persons (a < b)."""

    index: int  # edge index in the graph
    a: str
    b: str
    kind: str
    weight: float
    count: int
    first_us: int  # first/last seen, µs since the epoch (UTC); _NO_TIME when undated
    last_us: int
    evidence: tuple[str, ...]

    @property
    def label(self) -> str:
        return KIND_LABELS[self.kind]

    @property
    def first_seen(self) -> datetime | None:
        return _time(self.first_us)

    @property
    def last_seen(self) -> datetime | None:
        return _time(self.last_us)

    def other(self, key: str) -> str:
        return self.b if key == self.a else self.a

    def to_dict(self) -> dict[str, Any]:
        first, last = self.first_seen, self.last_seen
        return self._dict(first.isoformat() if first else None, last.isoformat() if last else None)

    def _dict(self, first: str | None, last: str | None) -> dict[str, Any]:
        return {
            "id": self.index,
            "source": self.a,
            "target": self.b,
            "kind": self.kind,
            "label": KIND_LABELS[self.kind],
            "weight": round(self.weight, 6),
            "count": self.count,
            "first_seen": first,
            "last_seen": last,
            "evidence": list(self.evidence),
        }


class Neighbour(NamedTuple):
    """A person within k hops: the strongest path that reaches them and every relation along it."""

    key: str
    hops: int
    score: float  # product of the steps' strongest weights
    path: tuple[str, ...]  # from the queried person to `key`
    steps: tuple[tuple[Relation, ...], ...]  # per hop, all (filtered) parallel relations, strongest first

    @property
    def edges(self) -> tuple[Relation, ...]:
        return tuple(r for step in self.steps for r in step)


class Neighbourhood(list[Neighbour]):
    """The neighbours, nearest and strongest first; ``total`` counts all within k hops, ``truncated`` if cut.
    ``levels``: everyone within k hops, a numpy array of node indices per hop (the records are only the
    first ``limit`` of them)."""

    total: int = 0
    truncated: bool = False
    levels: tuple[np.ndarray, ...] = ()


class RelationPath(NamedTuple):
    nodes: tuple[str, ...]
    steps: tuple[tuple[Relation, ...], ...]  # per hop, all (filtered) parallel relations, strongest first
    strength: float  # product of the steps' strongest weights
    cost: float  # sum of 1 / (strongest weight) over the steps

    @property
    def hops(self) -> int:
        return len(self.nodes) - 1

    @property
    def edges(self) -> tuple[Relation, ...]:
        return tuple(r for step in self.steps for r in step)


class Sighting(NamedTuple):
    """An activity record of an associate (旅馆/网吧/卡口/购票), with how the associate is linked."""

    key: str
    hops: int
    path: tuple[str, ...]
    kinds: tuple[str, ...]  # relation kinds along the path (parallel ones included), in path order
    source: str
    venue_code: str | None
    venue_name: str | None
    at: datetime
    lat: float | None
    lon: float | None
    record_id: str
    matched_by: str  # "id_number" or "plate"


# --- internals ------------------------------------------------------------------------------------------


class _Search(NamedTuple):
    """A k-hop search from `src`: the nodes at each hop and, for its first (scored) levels, aligned with
    the level: each node's strongest-path score (product of weights), its parent's position in the level
    before (hop 1: the source) and the edge from that parent."""

    src: int
    levels: list[np.ndarray]
    score: list[np.ndarray]
    parent: list[np.ndarray]
    edge: list[np.ndarray]


class _Index:
    """CSR adjacency of edges [0, n_edges): row u lists (neighbour, edge index) for every incident edge."""

    __slots__ = (
        "eids", "group_eids", "group_keys", "indices", "indptr", "n_edges", "n_nodes", "parallel", "pos_dtype",
        "weight",
    )  # fmt: skip

    def __init__(self, src: np.ndarray, dst: np.ndarray, n_nodes: int, weight: np.ndarray) -> None:
        """weight: the edge weights (the index keeps a copy in CSR order; see :meth:`reweigh`)."""
        e = len(src)
        # The positions a query writes into its scratch in int32 while one expansion (at most every CSR
        # entry plus the overlay's) fits: half the bytes of the scratch to keep in cache. Offsets stay
        # intp: numpy converts any other index array to intp before indexing.
        self.pos_dtype = np.dtype(np.int32 if 2 * (e + max(_OVERLAY_MIN, e // 20)) < 2**31 - 1 else np.int64)
        # One extra empty row at the end: nodes added after compiling are clamped onto it.
        self.indptr = np.zeros(n_nodes + 2, np.intp)
        self.n_nodes, self.n_edges = n_nodes, e
        self.parallel = np.zeros(e, np.bool_)
        self.group_keys, self.group_eids = np.zeros(0, np.int64), np.zeros(0, np.int64)
        if e == 0:
            self.indices, self.eids, self.weight = np.zeros(0, np.int32), np.zeros(0, np.int32), np.zeros(0)
            return
        # Sorting (row << 32 | position) is an argsort by row at the speed of a plain integer sort
        # (np.sort is SIMD; np.argsort and hash-based alternatives measured several times slower).
        rows = np.concatenate([src, dst])
        np.cumsum(np.bincount(rows, minlength=n_nodes), out=self.indptr[1 : n_nodes + 1])
        self.indptr[n_nodes + 1] = self.indptr[n_nodes]
        packed = (rows.astype(np.int64) << 32) | np.arange(2 * e, dtype=np.int64)
        del rows
        packed.sort()
        packed &= 0xFFFFFFFF
        eid = packed % e
        self.eids = eid.astype(np.int32)
        self.indices = np.where(packed < e, dst[eid], src[eid]).astype(np.int32)
        # The weights again, in row order: scoring a level reads them with the neighbours, in runs,
        # instead of one random read per edge into the edge column (measured ~5x cheaper cold).
        self.weight = weight[eid]
        del packed, eid
        # Edges that share their pair with another kind (同住 and 同机号 …) need a lookup when a path is
        # reported; the rest are the only edge between their two persons.
        pair = _pair_key(src, dst)
        ordered = np.sort(pair)
        dup = ordered[1:][ordered[1:] == ordered[:-1]]
        if len(dup):
            dup = dup[np.r_[True, dup[1:] != dup[:-1]]]
            self.parallel = dup[np.minimum(np.searchsorted(dup, pair), len(dup) - 1)] == pair
            # Those edges grouped by pair (sorted keys, edge indices alongside): a step's relations by
            # binary search instead of a scan of the smaller person's CSR row.
            multi = np.flatnonzero(self.parallel)
            order = np.argsort(pair[multi], kind="stable")
            self.group_keys, self.group_eids = pair[multi][order], multi[order]

    def reweigh(self, edges: np.ndarray, weight: np.ndarray, src: np.ndarray, dst: np.ndarray) -> None:
        """Copy the new weights of (merged) `edges` into the row-ordered copy."""
        edges = np.asarray(edges, np.int64)
        edges = edges[edges < self.n_edges]  # the overlay's edges are read from the edge column
        if len(edges) > max(1000, self.n_edges // 1000):  # many: one pass over every entry beats row scans
            self.weight = weight[self.eids]
            return
        ptr = self.indptr
        for e, u, v in zip(edges.tolist(), src[edges].tolist(), dst[edges].tolist(), strict=True):
            for r in (u, v):  # the edge sits once in each endpoint's row
                lo, hi = int(ptr[r]), int(ptr[r + 1])
                self.weight[lo + np.flatnonzero(self.eids[lo:hi] == e)] = weight[e]


def _strongest_first(r: Relation) -> tuple[float, str]:
    return -r.weight, r.kind


def _iso(us: np.ndarray) -> list[str | None]:
    """``_time(t).isoformat()`` of many timestamps at once (None for undated): what Relation.to_dict
    gives, a few times faster for the hundreds of relations of a subgraph."""
    text = np.datetime_as_string(us.astype("datetime64[us]"), unit="us").tolist()
    whole = (us % 1_000_000 == 0).tolist()  # isoformat leaves out a zero fraction
    return [
        None if t == _NO_TIME else (x[:-7] if w else x) + "+00:00"
        for x, w, t in zip(text, whole, us.tolist(), strict=True)
    ]


def _pick(seq: Any, at: Sequence[int]) -> tuple[Any, ...]:
    """(seq[i] for i in at) as a tuple, by one C-level itemgetter call (which returns a bare item for
    a single index, and needs at least one)."""
    if len(at) > 1:
        return operator.itemgetter(*at)(seq)  # type: ignore[no-any-return]
    return (seq[at[0]],) if at else ()


def _distinct(a: np.ndarray) -> np.ndarray:
    """Sorted distinct values (np.unique costs several times more on short arrays)."""
    a = np.sort(a)
    return a[np.concatenate(([True], a[1:] != a[:-1]))] if len(a) else a


def _pair_key(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """One int64 per unordered pair of persons."""
    return (np.minimum(u, v).astype(np.int64) << 31) | np.maximum(u, v)


class _Filter:
    __slots__ = ("kind_list", "kind_ok", "since_us")

    def __init__(self, kinds: Iterable[str] | None, since: datetime | None) -> None:
        self.kind_ok: np.ndarray | None = None
        self.kind_list: list[bool] | None = None
        if kinds is not None:
            kinds = [kinds] if isinstance(kinds, str) else list(kinds)
            bad = [k for k in kinds if k not in _KIND_CODE]
            if bad:
                raise ValueError(f"unknown relation kind(s) {bad}; known: {list(KINDS)}")
            self.kind_ok = np.zeros(len(KINDS), np.bool_)
            self.kind_ok[[_KIND_CODE[k] for k in kinds]] = True
            self.kind_list = self.kind_ok.tolist()
        self.since_us = None if since is None else _to_us(since)

    @property
    def active(self) -> bool:
        return self.kind_ok is not None or self.since_us is not None


def _to_us(t: datetime) -> int:
    if t.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware (activity times are UTC)")
    d = t - _EPOCH
    return (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds


def _noisy_or(base: np.ndarray, count: np.ndarray) -> np.ndarray:
    return 1.0 - np.power(1.0 - base, np.maximum(count, 1))


class _Grow:
    """A numpy column that grows by doubling (edges arrive in batches and one by one)."""

    __slots__ = ("data", "n")

    def __init__(self, dtype: Any, fill: Any = 0) -> None:
        self.data = np.full(16, fill, dtype)
        self.n = 0

    def extend(self, values: np.ndarray) -> None:
        need = self.n + len(values)
        if need > len(self.data):
            new = np.empty(max(need, 2 * len(self.data)), self.data.dtype)
            new[: self.n] = self.data[: self.n]
            self.data = new
        self.data[self.n : need] = values
        self.n = need

    @property
    def view(self) -> np.ndarray:
        return self.data[: self.n]


# --- the graph ------------------------------------------------------------------------------------------


class RelationGraph:
    """Persons and their relations; see the module docstring. Thread-safe (one lock around every call)."""

    _existing_lookups = 50_000  # batches up to this size find existing edges by rustworkx lookups

    def __init__(self, *, evidence_cap: int = EVIDENCE_CAP) -> None:
        self.evidence_cap = evidence_cap
        self._g = rx.PyGraph(multigraph=True)
        self._index: dict[str, int] = {}
        self._keys: list[str] = []
        self._keys_arrow: pa.Array | None = None
        self._attrs: dict[int, dict[str, Any]] = {}
        self._src, self._dst = _Grow(np.int32), _Grow(np.int32)
        self._deg = _Grow(np.int32)  # per node: rustworkx's degree() walks the node's edges
        self._kind = _Grow(np.int8)
        self._weight = _Grow(np.float64)
        self._count = _Grow(np.int64)
        self._first, self._last = _Grow(np.int64, _NO_TIME), _Grow(np.int64, _NO_TIME)
        # Evidence of bulk-loaded edges as Arrow list chunks (start edge, array); merged edges override.
        self._ev_starts: list[int] = []
        self._ev_chunks: list[pa.Array] = []
        self._ev_override: dict[int, tuple[str, ...]] = {}
        self._csr: _Index | None = None
        self._pending: dict[int, list[int]] = {}  # node -> edges added since the index was compiled
        self._n_pending = 0
        self._has_pending = np.zeros(0, np.bool_)
        self._scratch_n = 0
        # Per-query positions; cached aranges of their dtype and of intp (see _iota).
        self._pos = self._ar = np.zeros(0, np.int32)
        self._ar_p = np.zeros(0, np.intp)
        self._mv: tuple[memoryview, ...] | None = None
        self._mv_n = -1
        self._gen = 0
        self._lock = threading.RLock()
        self.load_times: dict[str, float] = {}  # seconds per phase of the last add_edges

    # -- size and lookup --

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key: object) -> bool:
        return key in self._index

    @property
    def num_edges(self) -> int:
        return self._src.n

    @property
    def rx_graph(self) -> rx.PyGraph:
        """The rustworkx graph (node payload = key, edge payload None, edge index = row of the columns),
        for rustworkx's algorithms (components, centrality, Steiner tree…). Do not mutate it."""
        return self._g

    def node_index(self, key: str) -> int:
        try:
            return self._index[key]
        except KeyError:
            raise KeyError(f"no person {key!r} in the relation graph") from None

    def key(self, index: int) -> str:
        return self._keys[index]

    def degree(self, key: str) -> int:
        """Number of relations (edges, parallel ones counted) of a person."""
        return int(self._deg.data[self.node_index(key)])

    # -- building --

    def add_person(self, key: str, **attrs: Any) -> int:
        """Add (or update the attributes of) a person; attributes (name, tags…) go into :meth:`to_json`."""
        with self._lock:
            i = self._node(key)
            if attrs:
                self._attrs.setdefault(i, {}).update(attrs)
            return i

    def _node(self, key: str) -> int:
        i = self._index.get(key)
        if i is None:
            if not isinstance(key, str) or not key:
                raise ValueError(f"person key must be a non-empty string, got {key!r}")
            i = self._g.add_node(key)
            if i != len(self._keys):  # we never remove nodes, so rustworkx indices stay dense
                raise RuntimeError("rustworkx node index out of step")
            self._index[key] = i
            self._keys.append(key)
            self._deg.extend(np.zeros(1, np.int32))
            self._keys_arrow = None
        return i

    def add_relation(
        self,
        a: str,
        b: str,
        kind: str,
        *,
        weight: float | None = None,
        count: int = 1,
        at: datetime | None = None,
        first_seen: datetime | None = None,
        last_seen: datetime | None = None,
        evidence: Sequence[str] = (),
    ) -> Relation:
        """Add one relation (e.g. 亲属 family, 同案 co_offending from a case file); returns the edge as stored.

        A relation of the same kind between the same pair is merged into the existing edge. ``at`` sets
        both first and last seen. ``weight`` defaults to the noisy-OR of ``count`` pieces of evidence."""
        if kind not in _KIND_CODE:
            raise ValueError(f"unknown relation kind {kind!r}; known: {list(KINDS)}")
        if a == b:
            raise ValueError("a relation needs two different persons")
        if count < 1:
            raise ValueError("count must be >= 1")
        code = _KIND_CODE[kind]
        w = float(_noisy_or(np.array(BASE_STRENGTH[kind]), np.array(count))) if weight is None else float(weight)
        if not 0.0 < w <= 1.0:
            raise ValueError("weight must be in (0, 1]")
        first = _to_us(first_seen or at) if (first_seen or at) else _NO_TIME
        last = _to_us(last_seen or at) if (last_seen or at) else _NO_TIME
        ev = tuple(dict.fromkeys(str(x) for x in evidence))[: self.evidence_cap]
        with self._lock:
            ia, ib = self._node(a), self._node(b)
            for e in self._g.edge_indices_from_endpoints(ia, ib):
                if self._kind.data[e] == code:
                    self._merge(
                        np.array([e]), np.array([w]), np.array([count]), np.array([first]), np.array([last]), [ev]
                    )
                    return self._relation(e)
            e = self._g.add_edge(ia, ib, None)
            self._append(
                np.array([ia]),
                np.array([ib]),
                np.array([code]),
                np.array([w]),
                np.array([count]),
                np.array([first]),
                np.array([last]),
                e,
            )
            if ev:
                self._ev_override[e] = ev
            return self._relation(e)

    def add_edges(self, table: pa.Table | pa.RecordBatch) -> int:
        """Bulk-add edges in the :data:`EDGES` layout (a, b, kind; weight, count, first_seen, last_seen and
        evidence optional), e.g. the output of :func:`derive_edges`; a and b may be dictionary-encoded (as
        Parquet reads them), which saves hashing every key. Vectorised; :attr:`load_times` says where the
        time went. Rows of a kind the graph already holds for the pair are merged; returns the new edges."""
        if isinstance(table, pa.RecordBatch):
            table = pa.Table.from_batches([table])
        for col in ("a", "b", "kind"):
            if col not in table.column_names:
                raise ValueError(f"edge table needs column {col!r}")
        n = table.num_rows
        if n == 0:
            return 0
        t0 = time.perf_counter()
        kind_idx = pc.index_in(pc.cast(table["kind"], pa.string()), value_set=_KINDS_ARROW)
        if kind_idx.null_count:
            bad = pc.unique(pc.filter(table["kind"], pc.is_null(kind_idx))).to_pylist()
            raise ValueError(f"unknown relation kind(s) {bad}; known: {list(KINDS)}")
        kind = kind_idx.to_numpy().astype(np.int8)
        cols = table.column_names
        count = pc.fill_null(table["count"], 1).to_numpy().astype(np.int64) if "count" in cols else np.ones(n, np.int64)
        weight = _noisy_or(np.array([BASE_STRENGTH[k] for k in KINDS])[kind], count)
        if "weight" in cols:
            given = pc.fill_null(pc.cast(table["weight"], pa.float64()), np.nan).to_numpy()
            weight = np.where(np.isnan(given), weight, given)
        if (weight <= 0).any() or (weight > 1).any():
            raise ValueError("weights must be in (0, 1]")
        first = self._times(table, "first_seen", n)
        last = self._times(table, "last_seen", n)
        evidence = None
        if "evidence" in cols and table["evidence"].null_count < n:
            evidence = pc.list_slice(table["evidence"].combine_chunks(), 0, self.evidence_cap)
        with self._lock:
            t1 = time.perf_counter()
            ia, ib = self._endpoint_codes(table["a"], table["b"])
            t2 = time.perf_counter()
            ok = (ia >= 0) & (ib >= 0) & (ia != ib)  # no key, or a person related to himself
            if not ok.all():
                ia, ib, kind, count, weight, first, last = (x[ok] for x in (ia, ib, kind, count, weight, first, last))
                evidence = None if evidence is None else evidence.filter(pa.array(ok))
            lo, hi = np.minimum(ia, ib), np.maximum(ia, ib)
            key = (lo.astype(np.int64) << 31) | (hi.astype(np.int64) << 3) | kind
            ordered = np.sort(key)
            if (ordered[1:] == ordered[:-1]).any():  # several rows for one (pair, kind): combine them first
                order, starts = _groups(key)
                lo, hi, kind, key = lo[order][starts], hi[order][starts], kind[order][starts], key[order][starts]
                weight = 1.0 - np.exp(np.add.reduceat(np.log1p(-np.minimum(weight[order], 1 - 1e-15)), starts))
                count = np.add.reduceat(count[order], starts)
                first = _reduce_time(first[order], starts, np.minimum)
                last = _reduce_time(last[order], starts, np.maximum)
                if evidence is not None:
                    ev_rows = evidence.take(pa.array(order)).to_pylist()
                    bounds = [*starts.tolist(), len(order)]
                    merged = [_merge_ev(ev_rows[s:t], self.evidence_cap) for s, t in itertools.pairwise(bounds)]
                    evidence = pa.array(merged, pa.list_(pa.string()))
            del ordered
            hit = self._existing(lo, hi, kind, key)
            if hit is not None and (hit >= 0).any():
                m = hit >= 0
                ev_m = None if evidence is None else evidence.filter(pa.array(m)).to_pylist()
                self._merge(hit[m], weight[m], count[m], first[m], last[m], ev_m)
                new = ~m
                lo, hi, kind, weight, count = lo[new], hi[new], kind[new], weight[new], count[new]
                first, last = first[new], last[new]
                if evidence is not None:
                    evidence = evidence.filter(pa.array(new))
            t3 = time.perf_counter()
            first_e = self._src.n
            # rustworkx wants (int, int) tuples: made a million at a time, so that ten million Python ints
            # never exist at once.
            for c in range(0, len(lo), 1 << 20):
                idx = self._g.add_edges_from_no_data(
                    zip(lo[c : c + (1 << 20)].tolist(), hi[c : c + (1 << 20)].tolist(), strict=True)
                )
                if idx[0] != first_e + c or idx[len(idx) - 1] != first_e + c + len(idx) - 1:
                    raise RuntimeError("rustworkx edge indices out of step with the edge columns")
            t4 = time.perf_counter()
            if len(lo):
                self._append(lo, hi, kind, weight, count, first, last, first_e)
                if evidence is not None:
                    self._ev_starts.append(first_e)
                    self._ev_chunks.append(evidence)
            t5 = time.perf_counter()
            self.load_times = {"columns_in_s": t1 - t0, "keys_s": t2 - t1, "combine_s": t3 - t2,
                               "rustworkx_s": t4 - t3, "columns_out_s": t5 - t4}  # fmt: skip
            return len(lo)

    def _endpoint_codes(self, a: pa.ChunkedArray, b: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
        """Node indices (-1 for null) of both endpoint columns, adding unknown keys. One Arrow hash pass
        over both (hashing ~10^7 strings is the dearest step of a bulk load); for dictionary-encoded
        columns only their dictionaries are hashed."""
        if pa.types.is_dictionary(a.type) and pa.types.is_dictionary(b.type):
            return self._dict_codes(a), self._dict_codes(b)
        codes = self._encode(pc.cast(a, pa.string()).chunks + pc.cast(b, pa.string()).chunks)
        return codes[: len(a)], codes[len(a) :]

    def _dict_codes(self, col: pa.ChunkedArray) -> np.ndarray:
        out = []
        for chunk in col.chunks:
            mapping = np.concatenate([self._encode([pc.cast(chunk.dictionary, pa.string())]), [-1]])
            out.append(mapping[pc.fill_null(chunk.indices, -1).to_numpy().astype(np.int64)])  # null -> -1
        return np.concatenate(out).astype(np.int32) if out else np.zeros(0, np.int32)

    def _encode(self, arrays: list[pa.Array]) -> np.ndarray:
        """Node indices of the keys in `arrays` (concatenated), -1 for null; unknown keys become nodes."""
        known = self._known_keys()
        enc = pc.dictionary_encode(pa.chunked_array(([known] if len(known) else []) + arrays, pa.string()))
        if enc.num_chunks == 0:
            return np.zeros(0, np.int32)
        # The dictionary is shared by all chunks: the known keys first, in order, then the new ones.
        self._add_keys(enc.chunk(0).dictionary[len(known) :])
        codes = np.concatenate([pc.fill_null(c.indices, -1).to_numpy().astype(np.int32) for c in enc.chunks])
        return codes[len(known) :]

    def _add_keys(self, new: pa.Array) -> None:
        if not len(new):
            return
        new_keys = new.to_pylist()
        if len(self._keys) + len(new_keys) >= _MAX_NODES:
            raise ValueError(f"more than {_MAX_NODES} persons")
        start = len(self._keys)
        known = self._known_keys()
        idx = self._g.add_nodes_from(new_keys)
        if idx[0] != start or idx[len(idx) - 1] != start + len(new_keys) - 1:
            raise RuntimeError("rustworkx node index out of step")
        self._index.update(zip(new_keys, range(start, start + len(new_keys)), strict=True))
        self._keys.extend(new_keys)
        self._deg.extend(np.zeros(len(new_keys), np.int32))
        self._keys_arrow = pa.concat_arrays([known, new.cast(pa.string())]) if start else new.cast(pa.string())

    @staticmethod
    def _times(table: pa.Table, col: str, n: int) -> np.ndarray:
        if col not in table.column_names:
            return np.full(n, _NO_TIME, np.int64)
        arr = table[col]
        if pa.types.is_timestamp(arr.type):
            arr = pc.cast(pc.cast(arr, pa.timestamp("us", tz=arr.type.tz)), pa.int64())
        return pc.fill_null(arr, _NO_TIME).to_numpy().astype(np.int64)

    def _known_keys(self) -> pa.Array:
        if self._keys_arrow is None or len(self._keys_arrow) != len(self._keys):
            self._keys_arrow = pa.array(self._keys, pa.string())
        return self._keys_arrow

    def _existing(self, lo: np.ndarray, hi: np.ndarray, kind: np.ndarray, key: np.ndarray) -> np.ndarray | None:
        """Edge index of each (lo, hi, kind) already in the graph, -1 where none."""
        if self._src.n == 0:
            return None
        if len(lo) <= self._existing_lookups:  # a few rustworkx lookups beat sorting every edge key
            out = np.full(len(lo), -1, np.int64)
            kinds = self._kind.data
            for i, (u, v, k) in enumerate(zip(lo.tolist(), hi.tolist(), kind.tolist(), strict=True)):
                for e in self._g.edge_indices_from_endpoints(u, v):
                    if kinds[e] == k:
                        out[i] = e
                        break
            return out
        s, d = self._src.view.astype(np.int64), self._dst.view.astype(np.int64)
        have = (np.minimum(s, d) << 31) | (np.maximum(s, d) << 3) | self._kind.view
        order = np.argsort(have)
        have = have[order]
        pos = np.minimum(np.searchsorted(have, key), len(have) - 1)
        found = have[pos] == key
        return np.where(found, order[pos], -1)

    def _append(
        self,
        lo: np.ndarray,
        hi: np.ndarray,
        kind: np.ndarray,
        weight: np.ndarray,
        count: np.ndarray,
        first: np.ndarray,
        last: np.ndarray,
        first_e: int,
    ) -> None:
        if first_e != self._src.n:
            raise RuntimeError("rustworkx edge indices out of step with the edge columns")
        self._src.extend(lo)
        self._dst.extend(hi)
        self._kind.extend(kind)
        self._weight.extend(weight)
        self._count.extend(count)
        self._first.extend(first)
        self._last.extend(last)
        deg = self._deg.data
        if len(lo) > 1000:
            n = len(self._keys)
            deg[:n] += (np.bincount(lo, minlength=n) + np.bincount(hi, minlength=n)).astype(np.int32)
        else:
            np.add.at(deg, lo, 1)
            np.add.at(deg, hi, 1)
        if self._csr is None:
            return
        n_new = len(lo)
        if self._n_pending + n_new > max(_OVERLAY_MIN, self._csr.n_edges // 20):
            self._csr, self._pending, self._n_pending = None, {}, 0  # cheaper to recompile than to overlay
            return
        if len(self._has_pending) < len(self._keys):
            grown = np.zeros(max(len(self._keys), 2 * len(self._has_pending)), np.bool_)
            grown[: len(self._has_pending)] = self._has_pending
            self._has_pending = grown
        for e, u, v in zip(range(first_e, first_e + n_new), lo.tolist(), hi.tolist(), strict=True):
            self._pending.setdefault(u, []).append(e)
            self._pending.setdefault(v, []).append(e)
            self._has_pending[u] = self._has_pending[v] = True
        self._n_pending += n_new

    def _merge(
        self,
        edges: np.ndarray,
        weight: np.ndarray,
        count: np.ndarray,
        first: np.ndarray,
        last: np.ndarray,
        evidence: Sequence[Sequence[str] | None] | None,
    ) -> None:
        w, c = self._weight.data, self._count.data
        f, la = self._first.data, self._last.data
        w[edges] = 1.0 - (1.0 - w[edges]) * (1.0 - weight)
        if self._csr is not None:
            self._csr.reweigh(edges, w, self._src.data, self._dst.data)
        c[edges] += count
        old = f[edges]
        f[edges] = np.where(old == _NO_TIME, first, np.where(first == _NO_TIME, old, np.minimum(old, first)))
        la[edges] = np.maximum(la[edges], last)  # _NO_TIME is the smallest int64, so max ignores it
        if evidence is not None:
            for e, ev in zip(edges.tolist(), evidence, strict=True):
                if ev:
                    self._ev_override[e] = _merge_ev([self._evidence(e), ev], self.evidence_cap)

    def build_index(self) -> None:
        """Compile the traversal index now (queries do it on first use; a bulk load invalidates it)."""
        with self._lock:
            self._ensure_index()

    def _ensure_index(self) -> _Index:
        if self._csr is None:
            self._csr = _Index(self._src.view, self._dst.view, len(self._keys), self._weight.view)
            self._pending, self._n_pending = {}, 0
            self._has_pending = np.zeros(len(self._keys), np.bool_)
        idx = self._csr
        n = len(self._keys)
        if self._scratch_n < n:  # per-query marks, reused across queries via a generation counter
            size = max(n, int(self._scratch_n * 1.5))
            # np.full writes every page now: lazily mapped zero pages would fault inside queries.
            self._seen_a, self._seen_b = np.full(size, 0, np.int32), np.full(size, 0, np.int32)
            self._par_a, self._par_b = np.full(size, 0, np.int32), np.full(size, 0, np.int32)
            self._best, self._dist_b = np.full(size, 0.0), np.full(size, 0.0)
            self._scratch_n, self._gen = size, 0
        if len(self._pos) < self._scratch_n or self._pos.dtype != idx.pos_dtype:
            self._pos = np.full(self._scratch_n, 0, idx.pos_dtype)
            self._ar = np.arange(1 << 16, dtype=idx.pos_dtype)
            self._ar_p = np.arange(1 << 16, dtype=np.intp)
        return idx

    def _next_gen(self) -> int:
        if self._gen >= np.iinfo(np.int32).max - 1:
            for arr in (self._seen_a, self._seen_b):
                arr[:] = 0
            self._gen = 0
        self._gen += 1
        return self._gen

    # -- edge access --

    def _evidence(self, e: int) -> tuple[str, ...]:
        ev = self._ev_override.get(e)
        if ev is not None:
            return ev
        i = bisect.bisect_right(self._ev_starts, e) - 1
        if i >= 0:
            chunk = self._ev_chunks[i]
            j = e - self._ev_starts[i]
            if j < len(chunk):
                return tuple(chunk[j].as_py() or ())
        return ()

    def _evidence_of(self, edges: np.ndarray) -> list[tuple[str, ...]]:
        """_evidence of many edges: one Arrow take per chunk instead of a scalar per edge."""
        out: list[tuple[str, ...]] = [()] * len(edges)
        if self._ev_starts:
            which = np.searchsorted(np.array(self._ev_starts, np.int64), edges, side="right") - 1
            for c in np.unique(which[which >= 0]).tolist():
                at = np.flatnonzero(which == c)
                chunk, j = self._ev_chunks[c], edges[at] - self._ev_starts[c]
                ok = j < len(chunk)
                for p, ev in zip(at[ok].tolist(), chunk.take(pa.array(j[ok])).to_pylist(), strict=True):
                    out[p] = tuple(ev or ())
        if self._ev_override:
            for p, e in enumerate(edges.tolist()):
                ev = self._ev_override.get(e)
                if ev is not None:
                    out[p] = ev
        return out

    def _relations(self, edges: Sequence[int] | np.ndarray) -> list[Relation]:
        """_relation of many edges, without a Python frame per relation: each column read by one numpy
        gather (its cache misses overlap: ~3x faster than item by item on a cold graph), the keys by one
        itemgetter, the tuples made by C-level map/zip (``tuple.__new__`` is what a NamedTuple's
        ``_make`` calls)."""
        ea = np.asarray(edges, np.intp)
        e = ea.tolist()
        cols = (self._src, self._dst, self._kind, self._weight, self._count, self._first, self._last)
        src, dst, kind, weight, count, first, last = (c.data[ea].tolist() for c in cols)
        evs = self._evidence_of(ea) if self._ev_starts or self._ev_override else None
        ka, kb = _pick(self._keys, src), _pick(self._keys, dst)
        evs = itertools.repeat(()) if evs is None else evs  # endless: hence strict=False below
        fields = zip(e, map(min, ka, kb), map(max, ka, kb), map(KINDS.__getitem__, kind), weight, count, first,
                     last, evs, strict=False)  # fmt: skip
        return list(map(tuple.__new__, itertools.repeat(Relation), fields))

    def _views(self) -> tuple[memoryview, ...]:
        """Memoryviews of the edge columns: indexing one gives a Python scalar ~10x faster than numpy."""
        if self._mv is None or self._mv_n != self._src.n:
            cols = (self._src, self._dst, self._kind, self._weight, self._count, self._first, self._last)
            self._mv = tuple(memoryview(c.data) for c in cols)
            self._mv_n = self._src.n
        return self._mv

    def _relation(self, e: int) -> Relation:
        src, dst, kind, weight, count, first, last = self._views()
        a, b = self._keys[src[e]], self._keys[dst[e]]
        if b < a:
            a, b = b, a
        ev = self._evidence(e) if self._ev_starts or self._ev_override else ()
        return Relation(int(e), a, b, KINDS[kind[e]], weight[e], count[e], first[e], last[e], ev)

    def _edge_ok(self, flt: _Filter) -> Callable[[int], bool]:
        """Per-edge form of the filter, for the Python-level traversals."""
        _, _, kind, _, _, _, last = self._views()
        kinds, since = flt.kind_list, flt.since_us
        if since is None:
            assert kinds is not None
            return lambda e: kinds[kind[e]]
        if kinds is None:
            return lambda e: last[e] >= since or last[e] == _NO_TIME
        return lambda e: kinds[kind[e]] and (last[e] >= since or last[e] == _NO_TIME)

    def _allowed(self, eid: np.ndarray, flt: _Filter) -> np.ndarray:
        ok = np.ones(len(eid), np.bool_) if flt.kind_ok is None else flt.kind_ok[self._kind.data[eid]]
        if flt.since_us is not None:
            last = self._last.data[eid]
            ok &= (last >= flt.since_us) | (last == _NO_TIME)  # undated relations (family…) do not expire
        return ok

    def relations(
        self, a: str, b: str, *, kinds: Iterable[str] | None = None, since: datetime | None = None
    ) -> list[Relation]:
        """Every relation between two persons (one per kind), strongest first."""
        with self._lock:
            return list(self._step(self.node_index(a), self.node_index(b), _Filter(kinds, since), {}))

    def _step(self, u: int, v: int, flt: _Filter, cache: dict[Any, Any], known: int = -1) -> tuple[Relation, ...]:
        """All (filtered) relations between two nodes, strongest first; `cache` lives for one query.
        known: an allowed edge between them that the traversal used, -1 if none."""
        pair = (u, v) if u < v else (v, u)
        step = cache.get(pair)
        if step is None and known >= 0 and self._alone(known, u, v):
            step = cache[pair] = (cache.get(known) or cache.setdefault(known, self._relation(known)),)
        if step is None:
            eids = self._between(u, v)
            if flt.active:
                ok = cache.get("ok") or cache.setdefault("ok", self._edge_ok(flt))
                eids = [e for e in eids if ok(e)]
            rels = [cache.get(e) or cache.setdefault(e, self._relation(e)) for e in eids]
            rels.sort(key=_strongest_first)
            step = cache[pair] = tuple(rels)
        return step

    # -- traversal core --

    def _iota(self, n: int, intp: bool = False) -> np.ndarray:
        """0, 1, …, n-1: a view of a cached arange, in the dtype of the position scratch or in intp."""
        if intp:
            if len(self._ar_p) < n:
                self._ar_p = np.arange(max(n, 2 * len(self._ar_p)), dtype=np.intp)
            return self._ar_p[:n]
        if len(self._ar) < n:
            self._ar = np.arange(max(n, 2 * len(self._ar)), dtype=self._ar.dtype)
        return self._ar[:n]

    def _gather(
        self, frontier: np.ndarray, flt: _Filter, edges: bool, weights: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        """Every allowed edge incident to `frontier`, as (neighbour, position in `frontier` of the node it
        was reached from, edge index, weight); the middle two are None unless `edges`, the weight unless
        `weights` too (a bare k-hop set needs none of them, and skips reading them)."""
        idx = self._csr
        assert idx is not None
        ptr = idx.indptr
        need_eid = edges or flt.active
        vloc = eid = wt = None
        if len(frontier) == 1:
            r = min(int(frontier[0]), idx.n_nodes)
            s, t = int(ptr[r]), int(ptr[r + 1])
            nbr = idx.indices[s:t]
            if need_eid:
                eid = idx.eids[s:t]
            if edges:
                vloc = np.zeros(t - s, np.intp)
                wt = idx.weight[s:t] if weights else None
        else:
            # The rows' entries in one gather: offsets by repeat/cumsum arithmetic, no Python loop.
            rows = np.minimum(frontier, idx.n_nodes)
            st = ptr[rows]
            ln = ptr[rows + 1] - st
            ends = np.cumsum(ln, dtype=ln.dtype)
            off = np.repeat(st - (ends - ln), ln)
            off += self._iota(len(off), True)
            nbr = idx.indices[off]
            if need_eid:
                eid = idx.eids[off]
            if edges:
                vloc = np.repeat(self._iota(len(frontier), True), ln)
                wt = idx.weight[off] if weights else None
        if self._n_pending:
            hp = self._has_pending
            at = np.flatnonzero(hp[np.minimum(frontier, len(hp) - 1)])
            extra = [(e, i, u) for i, u in zip(at.tolist(), frontier[at].tolist(), strict=True)
                     for e in self._pending.get(u, ())]  # fmt: skip
            if extra:
                pe, pi, pu = (np.array(c, np.int64) for c in zip(*extra, strict=True))
                s, d = self._src.data[pe], self._dst.data[pe]
                nbr = np.concatenate([nbr, np.where(s == pu, d, s)])
                if eid is not None:
                    eid = np.concatenate([eid, pe.astype(np.int32)])
                if vloc is not None:
                    vloc = np.concatenate([vloc, pi.astype(vloc.dtype)])
                if wt is not None:
                    wt = np.concatenate([wt, self._weight.data[pe]])
        if flt.active and eid is not None and len(eid):
            ok = np.flatnonzero(self._allowed(eid, flt))  # positions: see _reach on boolean masks
            nbr, eid = nbr[ok], eid[ok]
            if vloc is not None:
                vloc = vloc[ok]
            if wt is not None:
                wt = wt[ok]
        return nbr, vloc, eid, wt

    def _expand(self, frontier: np.ndarray, flt: _Filter) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(neighbour, node it was reached from, edge) for every allowed edge incident to `frontier`."""
        nbr, vloc, eid, _ = self._gather(frontier, flt, True)
        assert vloc is not None and eid is not None
        return nbr, frontier[vloc], eid

    def _first_of(self, nodes: np.ndarray) -> np.ndarray:
        """Mask of the first occurrence of each node (a scatter, no sort)."""
        pos = self._pos
        r = self._iota(len(nodes))
        pos[nodes[::-1]] = r[::-1]  # the last write wins, so reversed input leaves each node's first position
        return pos[nodes] == r

    def _reach(self, src: int, k: int, flt: _Filter, limit: int | None = 0) -> _Search:
        """The nodes at hop 1..k from `src`; the levels reached while fewer than `limit` nodes were known
        (every level if None) are scored too. Past the limit only the sets are found: a hub's second hop
        is tens of thousands of persons whom no record will show, and scoring costs more than finding.
        Everything stays aligned with the levels (no per-node scratch to scatter into)."""
        self._ensure_index()
        pos = self._pos
        out = _Search(src, [], [], [], [])
        frontier = np.array([src], np.int32)
        fbest: np.ndarray | None = np.ones(1)
        total = 0
        for _ in range(k):
            scored = fbest is not None and (limit is None or total < limit)
            nbr, vloc, eid, wt = self._gather(frontier, flt, scored, scored)
            if not len(nbr):
                break
            # Deduplicate by scatter: pos[v] ends as v's last position in nbr (or -1: already reached);
            # a preallocated array instead of a sort or a hash set.
            r, ix = self._iota(len(nbr)), nbr.astype(np.intp)  # cast once, not in each indexing below
            pos[ix] = r
            pos[src] = -1
            for lv in out.levels:
                pos[lv] = -1
            at = pos[ix]
            # Positions, then gathers: numpy's boolean-mask indexing branches per element and costs
            # several times more than flatnonzero on these unpredictable masks.
            keep = np.flatnonzero(at == r)
            uniq = nbr[keep]
            if not len(uniq):
                break
            if scored:
                assert fbest is not None and vloc is not None and eid is not None and wt is not None
                sc = fbest[vloc] * wt
                fresh = np.flatnonzero(at >= 0)
                if len(fresh) == len(uniq):  # each new node reached by one edge only
                    ub, ul, ue = sc[keep], vloc[keep], eid[keep]
                else:  # reached several ways: the strongest wins (the last of equals, as assignment goes)
                    af, sf = at[fresh].astype(np.intp), sc[fresh]
                    top = np.zeros(len(nbr))
                    np.maximum.at(top, af, sf)
                    win = np.flatnonzero(sf == top[af])
                    via, by = np.empty(len(nbr), vloc.dtype), np.empty(len(nbr), np.int32)
                    via[af[win]], by[af[win]] = vloc[fresh[win]], eid[fresh[win]]
                    ub, ul, ue = top[keep], via[keep], by[keep]
                out.score.append(ub)
                out.parent.append(ul)
                out.edge.append(ue)
                fbest = ub
            else:
                fbest = None
            out.levels.append(uniq)
            total += len(uniq)
            frontier = uniq
        return out

    @staticmethod
    def _top(level: np.ndarray, score: np.ndarray, room: int) -> np.ndarray:
        """Positions of the first `room` nodes of a level by (strongest first, then node index)."""
        if len(level) > room:
            cut = np.partition(score, len(score) - room)[len(score) - room]  # the room-th strongest
            above, tied = np.flatnonzero(score > cut), np.flatnonzero(score == cut)
            need = room - len(above)
            if len(tied) > need:  # equal scores at the cut: the lowest node indices, as the order says
                tied = tied[np.argpartition(level[tied], need - 1)[:need]]
            part = np.concatenate([above, tied])
        else:
            part = np.arange(len(level))
        return part[np.lexsort((level[part], -score[part]))]

    def _records(
        self, search: _Search, picks: Iterable[tuple[int, np.ndarray]], flt: _Filter, cache: dict[Any, Any]
    ) -> list[Neighbour]:
        """Records of the nodes at positions `at` of level `hop` of a scored search, for each (hop, at)
        of `picks`: the strongest path and, per step, every (filtered) relation of its pair. Built for
        all records at once, because a Python frame per record and relation, and numpy's per-call
        overhead on arrays this small, cost more than the whole 2-hop search: chains by parent gathers,
        one lookup of the steps (see _steps_of), records by C-level map/zip."""
        levels: list[tuple[int, list[list[int]], list[list[int]], list[float]]] = []
        used: set[int] = set()
        for hop, at in picks:
            if not len(at):
                continue
            lv, p = hop - 1, at
            chain, edges = [search.levels[lv][p].tolist()], [search.edge[lv][p].tolist()]
            while lv > 0:  # up the parents, level by level
                p = search.parent[lv][p]
                lv -= 1
                chain.append(search.levels[lv][p].tolist())
                edges.append(search.edge[lv][p].tolist())
            chain.append([search.src] * len(at))
            chain.reverse()
            edges.reverse()  # edges[j]: the edge from chain[j] to chain[j + 1]
            for e in edges:
                used.update(e)
            levels.append((hop, chain, edges, search.score[hop - 1][at].tolist()))
        step_of = self._steps_of(sorted(used), flt, cache).__getitem__
        get, out = self._keys.__getitem__, []
        for hop, chain, edges, scores in levels:
            steps = zip(*(map(step_of, e) for e in edges), strict=True)
            paths = zip(*(map(get, c) for c in chain), strict=True)
            fields = zip(map(get, chain[-1]), itertools.repeat(hop), scores, paths, steps)
            out.extend(map(tuple.__new__, itertools.repeat(Neighbour), fields))
        return out

    def _steps_of(self, edges: list[int], flt: _Filter, cache: dict[Any, Any]) -> dict[int, tuple[Relation, ...]]:
        """For each of `edges` (sorted, distinct, each used by a path): every (filtered) relation between
        its two persons, strongest first (what _step gives). An edge alone between its pair (all but
        ~2 %) is its own step; the other pairs' edges come from the index's groups; only pairs the
        overlay may touch go through _step."""
        idx = self._csr
        assert idx is not None
        if not edges:
            return {}
        ea = np.array(edges, np.intp)
        top = idx.n_edges - 1  # the overlay's edges lie past the index (and count as `over` below)
        grouped = idx.parallel[np.minimum(ea, top)].tolist() if idx.n_edges else [False] * len(edges)
        over = [False] * len(edges)
        if self._n_pending:  # the overlay may hold another relation of the pair
            hp = self._has_pending
            u, v = (np.minimum(c.data[ea], len(hp) - 1) for c in (self._src, self._dst))
            # Nodes past hp have no overlay edge (an overlay edge grows hp); clamping them can only send a
            # step through _step, which is right anyway.
            over = ((ea > top) | hp[u] | hp[v]).tolist()
        alone = [e for e, g, o in zip(edges, grouped, over, strict=True) if not (g or o)]
        out = dict(zip(alone, zip(self._relations(alone)), strict=True))
        if len(alone) < len(edges):
            multi = np.array([e for e, g, o in zip(edges, grouped, over, strict=True) if g and not o], np.int64)
            if len(multi):
                key = _pair_key(self._src.data[multi], self._dst.data[multi])
                lo = np.searchsorted(idx.group_keys, key, "left")
                n = np.searchsorted(idx.group_keys, key, "right") - lo
                members = idx.group_eids[np.repeat(lo - (np.cumsum(n) - n), n) + np.arange(int(n.sum()))]
                rels = self._relations(members)
                if flt.active:
                    ok = self._allowed(members, flt).tolist()
                    rels = [r if k else None for r, k in zip(rels, ok, strict=True)]
                at = 0
                for x, c in zip(multi.tolist(), n.tolist(), strict=True):
                    group = [r for r in rels[at : at + c] if r is not None]
                    out[x] = tuple(sorted(group, key=_strongest_first))
                    at += c
            src, dst = self._views()[0], self._views()[1]
            for x, o in zip(edges, over, strict=True):
                if o:
                    out[x] = self._step(src[x], dst[x], flt, cache, x)
        return out

    # -- queries --

    def neighbourhood(
        self,
        person: str,
        k: int = 2,
        kinds: Iterable[str] | None = None,
        since: datetime | None = None,
        *,
        limit: int | None = None,
    ) -> Neighbourhood:
        """Everyone within ``k`` hops of ``person``: hop distance, the strongest path and its relations.

        kinds: only relations of these kinds; since: only relations last seen at or after this instant
        (undated ones, e.g. family, always count). Ordered by hops, then path strength, then node index;
        ``limit`` keeps the first ``limit`` records. The traversal is still complete: ``total`` counts
        everyone reached and ``levels`` holds them all (node indices per hop; :meth:`key` names them);
        only the records shown get paths and relations, and only the levels they come from get scores."""
        if k < 1:
            raise ValueError("k must be >= 1")
        flt = _Filter(kinds, since)
        with self._lock:
            src = self.node_index(person)
            search, picks = self._shown(src, k, flt, limit)
            out = Neighbourhood()
            out.levels = tuple(search.levels)
            out.total = sum(len(lv) for lv in search.levels)
            out.extend(self._records(search, picks, flt, {}))
            out.truncated = len(out) < out.total
            return out

    def _shown(self, src: int, k: int, flt: _Filter, limit: int | None) -> tuple[_Search, list[tuple[int, np.ndarray]]]:
        """The search from `src`, and its first `limit` nodes in the records' order as (hop, positions
        in that level)."""
        search = self._reach(src, k, flt, limit)
        room = sum(len(lv) for lv in search.levels) if limit is None else max(0, limit)
        picks = []
        for hop, (level, sc) in enumerate(zip(search.levels, search.score, strict=False), 1):
            if room <= 0:
                break
            at = self._top(level, sc, room)
            picks.append((hop, at))
            room -= len(at)
        return search, picks

    def reach(
        self, person: str, k: int = 2, kinds: Iterable[str] | None = None, since: datetime | None = None
    ) -> list[list[str]]:
        """Keys of the persons at each hop 1..k (no paths): the cheap form of :meth:`neighbourhood`."""
        keys = self._keys
        return [[keys[i] for i in lv.tolist()] for lv in self.reach_ids(person, k, kinds, since)]

    def reach_ids(
        self, person: str, k: int = 2, kinds: Iterable[str] | None = None, since: datetime | None = None
    ) -> list[np.ndarray]:
        """Node indices (int32 arrays, unordered) of the persons at each hop 1..k: the bare traversal, no
        scores and no paths; :meth:`key` names a node."""
        flt = _Filter(kinds, since)
        with self._lock:
            return self._reach(self.node_index(person), k, flt).levels

    def reach_counts(
        self, person: str, k: int = 2, kinds: Iterable[str] | None = None, since: datetime | None = None
    ) -> list[int]:
        """How many persons at each hop 1..k (used by the benchmark to time the bare traversal)."""
        return [len(lv) for lv in self.reach_ids(person, k, kinds, since)]

    def shortest_path(
        self,
        a: str,
        b: str,
        kinds: Iterable[str] | None = None,
        since: datetime | None = None,
        *,
        weighted: bool = False,
        max_hops: int | None = None,
    ) -> RelationPath | None:
        """A shortest chain of relations from ``a`` to ``b`` with every relation along it, or None.

        Unweighted (default): fewest hops (bidirectional BFS). ``weighted=True``: least total cost
        ``1 / weight``, i.e. the strongest chain, each hop costing at least 1 (see :meth:`_strongest`).
        ``max_hops`` gives up on longer chains (unweighted only). The hop search walks rustworkx's
        adjacency node by node and stops at the first meeting: measured faster than vectorised levels."""
        flt = _Filter(kinds, since)
        with self._lock:
            s, t = self.node_index(a), self.node_index(b)
            if weighted:
                chain = self._strongest(s, t, flt)
            else:
                chain = self._bfs(s, t, flt, max_hops)
            if chain is None:
                return None
            cache: dict[Any, Any] = {}
            steps = tuple(self._step(u, v, flt, cache) for u, v in itertools.pairwise(chain))
            strength = math.prod(st[0].weight for st in steps)
            cost = float(sum(1.0 / st[0].weight for st in steps))
            return RelationPath(tuple(self._keys[i] for i in chain), steps, strength, cost)

    def _between(self, u: int, v: int) -> list[int]:
        """Every edge joining u and v. The smaller endpoint's edges are scanned (a hub has hundreds): in
        its contiguous CSR row when the index is compiled, else along rustworkx's linked edge list."""
        deg = self._deg.data
        if deg[v] < deg[u]:
            u, v = v, u
        idx = self._csr
        if idx is None:
            return list(self._g.edge_indices_from_endpoints(u, v))
        r = min(u, idx.n_nodes)
        lo, hi = idx.indptr[r], idx.indptr[r + 1]
        found = idx.eids[lo:hi][idx.indices[lo:hi] == v].tolist()
        if self._n_pending:
            src, dst = self._src.data, self._dst.data
            found += [e for e in self._pending.get(u, ()) if v in (src[e], dst[e])]
        return found

    def _alone(self, e: int, u: int, v: int) -> bool:
        """Whether edge e is the only one between u and v (no parallel kind, none in the overlay)."""
        idx = self._csr
        if idx is None or e >= idx.n_edges or idx.parallel[e]:
            return False
        if self._n_pending:
            hp = self._has_pending
            return not ((u < len(hp) and hp[u]) or (v < len(hp) and hp[v]))
        return True

    def _neighbours(self, flt: _Filter) -> Callable[[int], Iterable[int]]:
        if not flt.active:
            return self._g.neighbors
        ok, incident = self._edge_ok(flt), self._g.incident_edge_index_map
        return lambda u: [v for e, (_, v, _) in incident(u).items() if ok(e)]

    @staticmethod
    def _join(m: int, left: dict[int, int], right: dict[int, int]) -> list[int]:
        """The chain source .. m .. target from the two searches' parent maps."""
        chain = [m]
        while left[chain[-1]] >= 0:
            chain.append(left[chain[-1]])
        chain.reverse()
        while right[chain[-1]] >= 0:
            chain.append(right[chain[-1]])
        return chain

    def _bfs(self, s: int, t: int, flt: _Filter, max_hops: int | None) -> list[int] | None:
        if s == t:
            return [s]
        nbrs = self._neighbours(flt)
        par: tuple[dict[int, int], dict[int, int]] = ({s: -1}, {t: -1})
        fronts = [[s], [t]]
        hops = 0
        while fronts[0] and fronts[1]:
            if max_hops is not None and hops >= max_hops:
                return None
            side = 0 if len(fronts[0]) <= len(fronts[1]) else 1
            mine, other = par[side], par[1 - side]
            nxt = []
            for u in fronts[side]:
                for v in nbrs(u):
                    if v not in mine:
                        mine[v] = u
                        # Stop at the first meeting: every meeting found while growing this level
                        # closes a chain of the same length, so the first one is a shortest.
                        if v in other:
                            return self._join(v, par[0], par[1])
                        nxt.append(v)
            fronts[side] = nxt
            hops += 1
        return None

    def _strongest(self, s: int, t: int, flt: _Filter) -> list[int] | None:
        """Least-cost chain (cost 1 / weight per hop, so at least 1), exactly, without a Python Dijkstra.

        Let mu(r) be the cheapest chain through an edge (u, v) with u within cost r of s and v within
        cost r of t (two balls, found by vectorised relaxation on the CSR index). On an optimal chain, the
        last node within opt / 2 of s is followed by one within opt / 2 of t; so mu(r) <= 2 r proves
        mu(r) = opt, and r = U / 2 (U: the cost of the fewest-hops chain) always suffices. The radius
        grows from one strong hop, because a weak fewest-hops chain would make U / 2 cover the graph."""
        chain = self._bfs(s, t, flt, None)
        if chain is None or len(chain) == 1:
            return chain
        cache: dict[Any, Any] = {}
        upper = sum(1.0 / self._step(u, v, flt, cache)[0].weight for u, v in itertools.pairwise(chain))
        self._ensure_index()
        radius = min(1.5, upper / 2)
        while True:
            radius = min(radius, upper / 2) * (1 + 1e-12)
            found = self._cross(s, t, radius, flt)
            if found is not None and found[0] <= 2 * radius:
                return found[1] if found[0] < upper * (1 - 1e-12) else chain
            if radius >= upper / 2:
                return chain
            radius *= 1.6

    def _cross(self, s: int, t: int, radius: float, flt: _Filter) -> tuple[float, list[int]] | None:
        """The cheapest chain through an edge between the balls of `radius` around s and t."""
        gen = self._next_gen()
        ball_a = self._ball(s, radius, flt, gen, self._seen_a, self._par_a, self._best)
        self._ball(t, radius, flt, gen, self._seen_b, self._par_b, self._dist_b)
        nbr, via, eid = self._expand(ball_a, flt)
        cross = self._seen_b[nbr] == gen
        nbr, via, eid = nbr[cross], via[cross], eid[cross]
        if not len(nbr):
            return None
        total = self._best[via] + 1.0 / self._weight.data[eid] + self._dist_b[nbr]
        i = int(np.argmin(total))
        left, right = [int(via[i])], [int(nbr[i])]
        while self._par_a[left[-1]] >= 0:
            left.append(int(self._par_a[left[-1]]))
        while self._par_b[right[-1]] >= 0:
            right.append(int(self._par_b[right[-1]]))
        return float(total[i]), left[::-1] + right

    def _ball(
        self, src: int, radius: float, flt: _Filter, gen: int, seen: np.ndarray, par: np.ndarray, dist: np.ndarray
    ) -> np.ndarray:
        """Exact least costs (and parents) of every node within `radius` of `src`; returns those nodes."""
        w = self._weight.data
        seen[src], par[src], dist[src] = gen, -1, 0.0
        frontier, nodes = np.array([src], np.int32), [np.array([src], np.int32)]
        while len(frontier):
            nbr, via, eid = self._expand(frontier, flt)
            cand = dist[via] + 1.0 / w[eid]
            near = cand <= radius
            nbr, via, cand = nbr[near], via[near], cand[near]
            if not len(nbr):
                break
            fresh = nbr[seen[nbr] != gen]
            if len(fresh):
                fresh = fresh[self._first_of(fresh)]
                seen[fresh], dist[fresh] = gen, np.inf
                nodes.append(fresh)
            before = dist[nbr]
            np.minimum.at(dist, nbr, cand)
            after = dist[nbr]
            better = after < before
            win = better & (cand == after)
            par[nbr[win]] = via[win]
            frontier = nbr[better]
            frontier = frontier[self._first_of(frontier)]
        return np.concatenate(nodes)

    def associates_seen(
        self,
        person: str,
        activities: pa.Table | str | Path | duckdb.DuckDBPyConnection,
        *,
        days: float,
        now: datetime,
        k: int = 1,
        kinds: Iterable[str] | None = None,
        persons: pa.Table | None = None,
        per_person: int | None = 3,
        limit: int | None = None,
        activity_table: str = "activity",
    ) -> list[Sighting]:
        """Where were this person's associates (within ``k`` hops) seen in the ``days`` before ``now``?

        activities: ``ACTIVITY`` rows (an Arrow table, a Parquet path/glob, or a DuckDB connection holding
        ``activity_table``), matched on ``id_number``; with ``persons`` (id_number, plate) checkpoint passes
        of the associates' cars count too. Each associate's ``per_person`` latest records; newest first."""
        if days <= 0:
            raise ValueError("days must be > 0")
        hi_us = _to_us(now)
        lo_us = hi_us - round(days * 86_400_000_000)
        if k < 1:
            raise ValueError("k must be >= 1")
        flt = _Filter(kinds, None)
        # The bare set goes into the SQL; paths are made afterwards for the associates that were seen
        # (a hub's two hops are tens of thousands of persons, a few of whom have records in the window).
        keys = self._keys
        with self._lock:
            levels = self._reach(self.node_index(person), k, flt).levels
            assoc = pa.table({"key": pa.array([keys[i] for lv in levels for i in lv.tolist()], pa.string())})
        if not assoc.num_rows:
            return []
        con, rel, owned = _open(activities, activity_table)
        names = [f"_zh_assoc_{id(assoc):x}", f"_zh_plates_{id(assoc):x}"]
        try:
            con.register(names[0], assoc)
            plate_sql = ""
            if persons is not None and "plate" in persons.column_names:
                con.register(names[1], persons.select(["id_number", "plate"]))
                plate_sql = f"""
                UNION ALL
                SELECT a.key, x.*, 'plate' AS matched_by
                FROM {names[0]} a JOIN {names[1]} p ON p.id_number = a.key AND p.plate IS NOT NULL
                JOIN {rel} x ON x.plate = p.plate AND (x.id_number IS NULL OR x.id_number <> a.key)"""
            top = (
                ""
                if per_person is None
                else (
                    f"QUALIFY row_number() OVER (PARTITION BY key ORDER BY at_us DESC, record_id) <= {int(per_person)}"
                )
            )
            sql = f"""
            SELECT key, source, venue_code, venue_name, epoch_us("at") AS at_us, lat, lon, record_id, matched_by
            FROM (
                SELECT a.key, x.*, 'id_number' AS matched_by
                FROM {names[0]} a JOIN {rel} x ON x.id_number = a.key{plate_sql}
            ) WHERE epoch_us("at") BETWEEN $lo AND $hi
            {top}
            ORDER BY at_us DESC, key, record_id
            {"" if limit is None else f"LIMIT {int(limit)}"}
            """
            rows = con.execute(sql, {"lo": lo_us, "hi": hi_us}).fetchall()
        finally:
            for name in names:
                try:
                    con.unregister(name)
                except duckdb.Error:
                    pass
            if owned:
                con.close()
        by_key = self._seen_records(person, k, flt, {r[0] for r in rows})
        out = []
        for key, source, vcode, vname, at_us, lat, lon, rid, matched in rows:
            n = by_key.get(key)
            if n is None:
                continue
            out.append(
                Sighting(
                    key,
                    n.hops,
                    n.path,
                    tuple(r.kind for r in n.edges),
                    source,
                    vcode,
                    vname,
                    _EPOCH + timedelta(microseconds=at_us),
                    lat,
                    lon,
                    str(rid),
                    matched,
                )
            )
        return out

    def _seen_records(self, person: str, k: int, flt: _Filter, wanted: set[str]) -> dict[str, Neighbour]:
        """Neighbour records (hops, strongest path, relations) of the `wanted` keys within k hops. The
        search runs again, under the lock: the scratch arrays of an earlier one may have been reused."""
        if not wanted:
            return {}
        with self._lock:
            search = self._reach(self.node_index(person), k, flt, None)
            nodes = np.array([self._index.get(key, -1) for key in wanted], np.int64)
            nodes = nodes[nodes >= 0]
            pos, picks = self._pos, []
            for hop, level in enumerate(search.levels, 1):
                pos[level] = self._iota(len(level))
                at = pos[nodes]  # a position in this level, or whatever an earlier query left there
                ok = (at >= 0) & (at < len(level))
                ok[ok] = level[at[ok]] == nodes[ok]
                picks.append((hop, at[ok]))
                nodes = nodes[~ok]
            # Relations are never removed: everyone found before is still within k hops.
            return {n.key: n for n in self._records(search, picks, flt, {})}

    def to_json(
        self,
        person: str,
        k: int = 1,
        *,
        kinds: Iterable[str] | None = None,
        since: datetime | None = None,
        limit: int | None = 200,
    ) -> dict[str, Any]:
        """The k-hop subgraph around ``person`` for the API/UI: its nodes (up to ``limit`` besides the
        centre, nearest and strongest first) and every relation among them. JSON-serialisable."""
        flt = _Filter(kinds, since)
        with self._lock:
            centre = self.node_index(person)
            search, picks = self._shown(centre, k, flt, limit)  # no paths: the UI draws the subgraph
            total = sum(len(lv) for lv in search.levels)
            shown = [(hop, search.levels[hop - 1][at], search.score[hop - 1][at]) for hop, at in picks]
            members = np.concatenate([np.array([centre], np.int32), *(nodes for _, nodes, _ in shown)])
            gen = self._next_gen()
            mark = self._seen_b
            mark[members] = gen
            nbr, via, eid = self._expand(members, flt)
            inside = (mark[nbr] == gen) & (via < nbr)  # each undirected edge once
            drawn = _distinct(eid[inside])
            first, last = _iso(self._first.data[drawn]), _iso(self._last.data[drawn])
            edges = [r._dict(f, la) for r, f, la in zip(self._relations(drawn), first, last, strict=True)]
            keys, attrs = self._keys, self._attrs
            out = [{"id": person, "hops": 0, "score": 1.0, **attrs.get(centre, {})}]
            for hop, nodes, sc in shown:
                out.extend({"id": keys[i], "hops": hop, "score": round(x, 6), **attrs.get(i, {})}
                           for i, x in zip(nodes.tolist(), sc.tolist(), strict=True))  # fmt: skip
            return {
                "center": person,
                "k": k,
                "total": total,
                "truncated": len(out) - 1 < total,
                "nodes": out,
                "edges": edges,
            }

    @classmethod
    def from_activity(
        cls,
        activities: pa.Table | str | Path | duckdb.DuckDBPyConnection,
        persons: pa.Table | str | Path | None = None,
        **kw: Any,
    ) -> RelationGraph:
        """A graph of the relations :func:`derive_edges` finds in activity rows (and a persons table)."""
        g = cls()
        g.add_edges(derive_edges(activities, persons, **kw))
        return g


def _groups(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(key, kind="stable")
    k = key[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    return order, starts


def _reduce_time(t: np.ndarray, starts: np.ndarray, op: Any) -> np.ndarray:
    if op is np.maximum:
        return np.maximum.reduceat(t, starts)
    big = np.iinfo(np.int64).max
    out = np.minimum.reduceat(np.where(t == _NO_TIME, big, t), starts)
    return np.where(out == big, _NO_TIME, out)


def _merge_ev(parts: Iterable[Sequence[str] | None], cap: int) -> tuple[str, ...]:
    return tuple(dict.fromkeys(x for p in parts if p for x in p))[:cap]


# --- derivation (DuckDB SQL) ----------------------------------------------------------------------------


def _open(source: Any, table: str) -> tuple[duckdb.DuckDBPyConnection, str, bool]:
    """(connection, relation name, whether we own the connection) for an activity source."""
    if not _IDENT.fullmatch(table):
        raise ValueError(f"not a table name: {table!r}")
    if isinstance(source, duckdb.DuckDBPyConnection):
        return source, table, False
    con = duckdb.connect()
    if isinstance(source, str | Path):
        # union_by_name: files written before a column was added (the int64 keys) sit beside newer ones.
        con.execute(f"CREATE VIEW activity AS SELECT * FROM read_parquet('{_quote(source)}', union_by_name = true)")
    else:
        con.register("activity", source)
    return con, "activity", True


def _quote(path: str | Path) -> str:
    return str(path).replace("'", "''")


def derive_edges(
    con_or_table: pa.Table | str | Path | duckdb.DuckDBPyConnection,
    persons: pa.Table | str | Path | None = None,
    *,
    kinds: Iterable[str] | None = None,
    activity_table: str = "activity",
    evidence_cap: int = EVIDENCE_CAP,
    seat_rows: int = 1,
    max_group: Mapping[str, int] | None = None,
) -> pa.Table:
    """Relation edges (:data:`EDGES`, one row per pair and kind) found by DuckDB SQL in activity rows.

    con_or_table: ``ACTIVITY`` rows as an Arrow table, a Parquet path/glob, or a DuckDB connection holding
    ``activity_table``. persons: a table (or Parquet path) with id_number and phone and/or address.

    * co_stay 同住: hotel check-ins at the same venue and room whose stays share a local (Asia/Shanghai)
      night. A stay covers nights [n0, n1): n0 is the local date of check-in, a check-in before 06:00
      counting for the night before (凌晨房); n1 is the later of n0 + ``detail.nights`` and
      ``detail.checkout`` (at least one night, at most 90). The room is ``room``, else ``detail.room``.
    * co_travel 同行: the same ``trip``; where both tickets have seats (``room``: "05车12F", "12F"…), the
      same carriage and seat rows at most ``seat_rows`` apart. Trips without seats link only groups of at
      most ``max_group['co_travel']`` persons.
    * shared_phone 同机号 / shared_address 同址: persons sharing a phone / an address (whitespace ignored),
      groups larger than ``max_group`` skipped.

    count = co-stays / shared trips / shared values; evidence = the record ids (``phone:…``/``address:…``
    for the persons table), oldest first, at most ``evidence_cap``."""
    wanted = list(KINDS[:4]) if kinds is None else [kinds] if isinstance(kinds, str) else list(kinds)
    for k in wanted:
        if k not in KINDS[:4]:
            raise ValueError(f"derive_edges finds {list(KINDS[:4])}, not {k!r} (add it with add_relation)")
    groups = {**MAX_GROUP, **(max_group or {})}
    con, act, owned = _open(con_or_table, activity_table)
    cap = int(evidence_cap)
    parts: list[str] = []
    pers = ""
    try:
        if persons is not None and ("shared_phone" in wanted or "shared_address" in wanted):
            pers = f"_zh_persons_{id(persons):x}"
            if isinstance(persons, str | Path):
                con.execute(f"CREATE OR REPLACE TEMP VIEW {pers} AS SELECT * FROM read_parquet('{_quote(persons)}')")
            else:
                con.register(pers, persons)
            pcols = {r[0] for r in con.execute(f"DESCRIBE {pers}").fetchall()}
        else:
            pcols = set()
        # Each kind's CTE yields pair rows (a, b, ra, rb, ta, tb): the two evidence ids and their times (µs).
        built: list[str] = []
        if "co_stay" in wanted:
            built.append("co_stay")
            parts.append(f"""
            stays AS (
                SELECT record_id, id_number AS pid, venue_code, epoch_us("at") AS t,
                       upper(trim(COALESCE(room, json_extract_string(detail, '$.room')))) AS room,
                       (epoch_us("at") + 7200000000) // 86400000000 AS n0,  -- UTC+8, minus 6 h for 凌晨
                       TRY_CAST(json_extract_string(detail, '$.nights') AS BIGINT) AS nights,
                       date_diff('day', DATE '1970-01-01',
                                 TRY_CAST(json_extract_string(detail, '$.checkout') AS DATE)) AS checkout
                FROM {act}
                WHERE source = 'hotel_checkin' AND id_number IS NOT NULL AND venue_code IS NOT NULL
            ),
            s AS (
                SELECT *, LEAST(n0 + 90, GREATEST(n0 + 1, n0 + COALESCE(nights, 1), COALESCE(checkout, 0))) AS n1
                FROM stays WHERE room IS NOT NULL AND room <> ''
            ),
            co_stay AS (
                SELECT x.pid AS a, y.pid AS b, x.record_id AS ra, y.record_id AS rb, x.t AS ta, y.t AS tb
                FROM s x JOIN s y ON x.venue_code = y.venue_code AND x.room = y.room AND x.pid < y.pid
                                  AND x.n0 < y.n1 AND y.n0 < x.n1
            )""")
        if "co_travel" in wanted:
            built.append("co_travel")
            sep = r"^\s*0*(\d+)\s*(?:车厢|号车|车|-|/)"
            parts.append(f"""
            tk AS (
                SELECT record_id, id_number AS pid, trip, epoch_us("at") AS t, upper(trim(room)) AS seat
                FROM {act} WHERE trip IS NOT NULL AND id_number IS NOT NULL
            ),
            tk2 AS (
                SELECT *, NULLIF(regexp_extract(seat, '{sep}', 1), '') AS carriage,
                       TRY_CAST(NULLIF(regexp_extract(regexp_replace(seat, '{sep}', ''), '(\\d+)', 1), '')
                                AS INTEGER) AS seat_row
                FROM tk
            ),
            trip_size AS (SELECT trip, count(DISTINCT pid) AS n FROM tk GROUP BY trip),
            co_travel AS (
                SELECT x.pid AS a, y.pid AS b, x.record_id AS ra, y.record_id AS rb, x.t AS ta, y.t AS tb
                FROM tk2 x JOIN tk2 y ON x.trip = y.trip AND x.pid < y.pid
                JOIN trip_size z ON z.trip = x.trip
                WHERE CASE WHEN x.seat_row IS NOT NULL AND y.seat_row IS NOT NULL
                           THEN x.carriage IS NOT DISTINCT FROM y.carriage
                                AND abs(x.seat_row - y.seat_row) <= {int(seat_rows)}
                           ELSE z.n <= {int(groups["co_travel"])} END
            )""")
        for kind, col, norm in (
            ("shared_phone", "phone", "trim(phone)"),
            ("shared_address", "address", "regexp_replace(address, '\\s+', '', 'g')"),
        ):
            if kind in wanted and col in pcols and "id_number" in pcols:
                built.append(kind)
                parts.append(f"""
            {kind}_v AS (
                SELECT DISTINCT id_number AS pid, {norm} AS v FROM {pers}
                WHERE id_number IS NOT NULL AND {col} IS NOT NULL AND {norm} <> ''
            ),
            {kind}_g AS (SELECT v FROM {kind}_v GROUP BY v HAVING count(*) BETWEEN 2 AND {int(groups[kind])}),
            {kind} AS (
                SELECT x.pid AS a, y.pid AS b, '{col}:' || x.v AS ra, NULL::VARCHAR AS rb,
                       NULL::BIGINT AS ta, NULL::BIGINT AS tb
                FROM {kind}_v x JOIN {kind}_v y ON x.v = y.v AND x.pid < y.pid
                WHERE x.v IN (SELECT v FROM {kind}_g)
            )""")
        if not built:
            return EDGES.empty_table()
        union = " UNION ALL ".join(f"SELECT '{k}' AS kind, * FROM {k}" for k in built)
        base = " ".join(f"WHEN '{k}' THEN {1 - BASE_STRENGTH[k]!r}" for k in built)
        sql = f"""WITH {",".join(parts)},
            pairs AS ({union}),
            agg AS (
                SELECT kind, a, b, count(*) AS count, min(LEAST(ta, tb)) AS first_us, max(GREATEST(ta, tb)) AS last_us
                FROM pairs GROUP BY ALL
            ),
            ev AS (
                SELECT kind, a, b, list_slice(list(rid ORDER BY t NULLS LAST, rid), 1, {cap}) AS evidence
                FROM (SELECT kind, a, b, rid, min(t) AS t
                      FROM (SELECT kind, a, b, ra AS rid, ta AS t FROM pairs
                            UNION ALL SELECT kind, a, b, rb, tb FROM pairs WHERE rb IS NOT NULL)
                      GROUP BY ALL)
                GROUP BY ALL
            )
            SELECT a, b, kind, 1 - pow(CASE kind {base} END, count) AS weight, count, first_us, last_us, evidence
            FROM agg JOIN ev USING (kind, a, b)
            ORDER BY kind, a, b"""
        res = con.sql(sql).to_arrow_table()
    finally:
        if pers:
            try:
                con.unregister(pers)
            except duckdb.Error:
                pass
            con.execute(f"DROP VIEW IF EXISTS {pers}")
        if owned:
            con.close()
    return pa.table(
        {
            "a": res["a"],
            "b": res["b"],
            "kind": res["kind"],
            "weight": pc.cast(res["weight"], pa.float64()),
            "count": pc.cast(res["count"], pa.int64()),
            "first_seen": pc.cast(pc.cast(res["first_us"], pa.int64()), pa.timestamp("us", tz="UTC")),
            "last_seen": pc.cast(pc.cast(res["last_us"], pa.int64()), pa.timestamp("us", tz="UTC")),
            "evidence": pc.cast(res["evidence"], pa.list_(pa.string())),
        },
        schema=EDGES,
    )
