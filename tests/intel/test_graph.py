"""Relation graph (关系人员倒查): edge derivation in DuckDB, k-hop neighbourhoods, paths, sightings, JSON."""

from __future__ import annotations

import itertools
import json
import math
import random
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import networkx as nx
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from zhihui.intel.graph import EDGES, KINDS, RelationGraph, derive_edges
from zhihui.intel.schema import ACTIVITY

pytestmark = pytest.mark.dbfree

CST = timezone(timedelta(hours=8))


def local(y: int, mo: int, d: int, h: int, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=CST)


def row(
    rid: str,
    source: str,
    at: datetime,
    pid: str | None,
    *,
    venue: str | None = None,
    room: str | None = None,
    trip: str | None = None,
    plate: str | None = None,
    detail: dict | None = None,
) -> dict:
    return {
        "record_id": rid, "source": source, "batch_id": "t", "at": at.astimezone(UTC), "id_number": pid,
        "plate": plate, "venue_code": venue, "venue_name": None if venue is None else f"{venue}名称", "room": room,
        "trip": trip, "lat": 22.5, "lon": 114.0, "detail": json.dumps(detail or {}, ensure_ascii=False),
    }  # fmt: skip


def hotel(rid: str, pid: str, venue: str, room: str | None, at: datetime, nights: int, /, **detail: object) -> dict:
    return row(rid, "hotel_checkin", at, pid, venue=venue, room=room, detail={"nights": nights, **detail})


def ticket(rid: str, pid: str, trip: str, seat: str | None) -> dict:
    return row(rid, "transport_ticket", local(2026, 1, 5, 8), pid, venue="SZN", room=seat, trip=trip)


ROWS = [
    # Same hotel, same room, nights of the 5th+6th and of the 6th: 同住.
    hotel("h1", "A", "H1", "0801", local(2026, 1, 5, 20), 2),
    hotel("h2", "B", "H1", "0801", local(2026, 1, 6, 21), 1),
    # Near misses: same room the night after A checked out; same hotel other room; other hotel same room no.
    hotel("h3", "C", "H1", "0801", local(2026, 1, 7, 14), 1),
    hotel("h4", "D", "H1", "0802", local(2026, 1, 5, 20, 30), 2),
    hotel("h5", "E", "H2", "0801", local(2026, 1, 5, 20), 1),
    # 凌晨 check-in at 00:40 belongs to the night before: same night as 23:30.
    hotel("h6", "F", "H1", "1001", local(2026, 1, 9, 23, 30), 1, checkout="2026-01-10"),
    hotel("h7", "G", "H1", "1001", local(2026, 1, 10, 0, 40), 1),
    # Local nights differ (11th vs 12th) though both check-ins fall on the same UTC date: no link.
    hotel("h8", "H", "H1", "1101", local(2026, 1, 11, 20), 1, checkout="2026-01-12"),
    hotel("h9", "I", "H1", "1101", local(2026, 1, 12, 7), 1),
    # Same local night (13th) though the UTC dates differ; room only in detail: linked.
    hotel("h10", "J", "H1", None, local(2026, 1, 13, 7, 30), 1, room="1201"),
    hotel("h11", "K", "H1", None, local(2026, 1, 13, 9), 1, room="1201"),
    # Trains: neighbouring rows of one carriage link; far rows and other carriages do not.
    ticket("t1", "P", "G1234-20260105", "05车12F"),
    ticket("t2", "Q", "G1234-20260105", "05车13A"),
    ticket("t3", "R", "G1234-20260105", "05车20A"),
    ticket("t4", "S", "G1234-20260105", "06车12F"),
    # A bus without seat numbers: a small group on one trip links; a plane by row.
    ticket("t5", "T", "K88-20260106", None),
    ticket("t6", "U", "K88-20260106", None),
    ticket("t7", "W", "CZ3101-20260108", "12F"),
    ticket("t8", "X", "CZ3101-20260108", "13C"),
    row("c1", "internet_cafe", local(2026, 1, 5, 22), "A", venue="WB1", room="A012"),
]
PERSONS = pa.table(
    {
        "id_number": ["A", "Z", "B", *[f"S{i}" for i in range(11)]],
        "phone": ["13800000001", "13800000001", "13900000002", *(["075588888888"] * 11)],
        "address": ["福华路1号 2栋 801", "福华路1号2栋801", "彩田路9号", *[f"大道{i}号" for i in range(11)]],
    }
)


def activity(rows: list[dict] | None = None) -> pa.Table:
    return pa.Table.from_pylist(ROWS if rows is None else rows, schema=ACTIVITY)


def pairs(edges: pa.Table, kind: str) -> set[tuple[str, str]]:
    return {(r["a"], r["b"]) for r in edges.to_pylist() if r["kind"] == kind}


@pytest.fixture(scope="module")
def edges() -> pa.Table:
    return derive_edges(activity(), PERSONS)


def test_co_stay_needs_same_hotel_room_and_a_shared_local_night(edges: pa.Table) -> None:
    assert pairs(edges, "co_stay") == {("A", "B"), ("F", "G"), ("J", "K")}
    ab = next(r for r in edges.to_pylist() if r["kind"] == "co_stay" and r["a"] == "A")
    assert ab["evidence"] == ["h1", "h2"] and ab["count"] == 1
    assert ab["first_seen"] == local(2026, 1, 5, 20) and ab["last_seen"] == local(2026, 1, 6, 21)
    assert ab["weight"] == pytest.approx(0.6)


def test_co_travel_by_trip_and_seat_neighbourhood(edges: pa.Table) -> None:
    assert pairs(edges, "co_travel") == {("P", "Q"), ("T", "U"), ("W", "X")}
    # A crowd without seats says nothing: over the group limit nobody is linked.
    crowd = [ticket(f"k{i}", f"N{i}", "D1-20260107", None) for i in range(4)]
    assert derive_edges(activity(crowd), kinds=["co_travel"], max_group={"co_travel": 3}).num_rows == 0
    assert derive_edges(activity(crowd), kinds=["co_travel"]).num_rows == 6


def test_shared_phone_and_address_from_persons_skip_switchboards(edges: pa.Table) -> None:
    assert pairs(edges, "shared_phone") == {("A", "Z")}  # the 11-way switchboard number links nobody
    assert pairs(edges, "shared_address") == {("A", "Z")}  # whitespace does not matter
    phone = next(r for r in edges.to_pylist() if r["kind"] == "shared_phone")
    assert phone["evidence"] == ["phone:13800000001"] and phone["first_seen"] is None
    assert edges.schema.equals(EDGES)


def test_parquet_path_and_duckdb_connection_give_the_same_edges(tmp_path: Path, edges: pa.Table) -> None:
    pq.write_table(activity(), tmp_path / "act.parquet")
    pq.write_table(PERSONS, tmp_path / "persons.parquet")
    from_files = derive_edges(tmp_path / "act.parquet", tmp_path / "persons.parquet")
    con = duckdb.connect()
    con.register("acts", activity())
    from_con = derive_edges(con, PERSONS, activity_table="acts")
    assert from_files.to_pylist() == edges.to_pylist() == from_con.to_pylist()
    assert "acts" in {r[0] for r in con.execute("SHOW TABLES").fetchall()}  # the caller's view is left alone


def test_graph_from_derived_edges_keeps_parallel_kinds(edges: pa.Table) -> None:
    g = RelationGraph()
    assert g.add_edges(edges) == edges.num_rows
    assert [r.kind for r in g.relations("A", "Z")] == ["shared_phone", "shared_address"]  # strongest first
    nb = g.neighbourhood("Z", k=2)
    assert [(n.key, n.hops) for n in nb] == [("A", 1), ("B", 2)]
    assert {r.kind for r in nb[0].steps[0]} == {"shared_phone", "shared_address"}
    assert nb[1].path == ("Z", "A", "B") and nb[1].steps[1][0].evidence == ("h1", "h2")
    # Loading the same rows again merges them (counts add) instead of adding edges.
    assert g.add_edges(edges) == 0
    assert g.num_edges == edges.num_rows
    assert g.relations("A", "B")[0].count == 2


# --- graph queries on a hand-made graph -------------------------------------------------------------------

T0 = datetime(2026, 1, 5, tzinfo=UTC)


def small() -> RelationGraph:
    g = RelationGraph()
    g.add_person("A", name="张三", tags=["在逃"])
    for i in range(3):
        g.add_relation("A", "B", "co_stay", at=T0 + timedelta(days=i), evidence=[f"s{i}"])
    g.add_relation("A", "B", "shared_phone", evidence=["phone:1"])
    g.add_relation("B", "C", "co_travel", weight=0.9, at=T0)
    g.add_relation("C", "D", "family")
    g.add_relation("A", "E", "co_stay", weight=0.1, at=datetime(2025, 1, 1, tzinfo=UTC))
    g.add_relation("E", "D", "co_stay", weight=0.1, at=T0)
    g.add_relation("D", "F", "co_offending")
    g.add_relation("B", "E", "co_travel", weight=0.2, at=T0)
    g.add_person("G")
    return g


def test_same_kind_merges_other_kinds_stay_parallel() -> None:
    g = small()
    rels = g.relations("B", "A")
    assert [r.kind for r in rels] == ["co_stay", "shared_phone"]
    stay = rels[0]
    assert stay.count == 3 and stay.evidence == ("s0", "s1", "s2")
    assert stay.first_seen == T0 and stay.last_seen == T0 + timedelta(days=2)
    assert stay.weight == pytest.approx(1 - 0.4**3)
    assert g.degree("A") == 3 and g.num_edges == 8


def test_neighbourhood_hops_paths_and_filters() -> None:
    g = small()
    nb = g.neighbourhood("A", k=2)
    assert [(n.key, n.hops) for n in nb] == [("B", 1), ("E", 1), ("C", 2), ("D", 2)]
    assert nb.total == 4 and not nb.truncated
    c = nb[2]
    assert c.path == ("A", "B", "C") and c.score == pytest.approx((1 - 0.4**3) * 0.9)
    assert [r.kind for r in c.steps[0]] == ["co_stay", "shared_phone"] and c.steps[1][0].kind == "co_travel"
    assert nb[3].path == ("A", "E", "D")  # the only 2-hop way to D
    assert [n.key for n in g.neighbourhood("A", k=3)][-1] == "F"
    assert [(n.key, n.hops) for n in g.neighbourhood("A", k=2, kinds={"co_stay"})] == [("B", 1), ("E", 1), ("D", 2)]
    # A-E was last seen in 2025: since 2025-06 E is reached only through B (co_travel, dated 2026).
    recent = g.neighbourhood("A", k=2, since=datetime(2025, 6, 1, tzinfo=UTC))
    assert [(n.key, n.hops, n.path) for n in recent][:2] == [("B", 1, ("A", "B")), ("C", 2, ("A", "B", "C"))]
    assert ("E", 2) in [(n.key, n.hops) for n in recent]
    cut = g.neighbourhood("A", k=2, limit=3)
    assert [n.key for n in cut] == ["B", "E", "C"] and cut.total == 4 and cut.truncated
    assert g.neighbourhood("G", k=2) == []
    with pytest.raises(ValueError):
        g.neighbourhood("A", kinds={"friend"})
    with pytest.raises(KeyError):
        g.neighbourhood("nobody")


def test_shortest_path_hops_versus_strength() -> None:
    g = small()
    p = g.shortest_path("A", "D")
    assert p is not None and p.nodes == ("A", "E", "D") and p.hops == 2
    assert [[r.kind for r in s] for s in p.steps] == [["co_stay"], ["co_stay"]]
    w = g.shortest_path("A", "D", weighted=True)  # two weak links lose to three strong ones
    assert w is not None and w.nodes == ("A", "B", "C", "D")
    assert w.cost == pytest.approx(1 / (1 - 0.4**3) + 1 / 0.9 + 1 / 0.95) and w.cost < p.cost
    assert [r.kind for r in w.steps[0]] == ["co_stay", "shared_phone"]  # parallel relations reported
    assert w.steps[0][0].evidence == ("s0", "s1", "s2")
    assert g.shortest_path("A", "D", kinds=["co_stay"]).nodes == ("A", "E", "D")
    assert g.shortest_path("A", "D", kinds=["family"]) is None
    assert g.shortest_path("A", "D", max_hops=1) is None
    assert g.shortest_path("A", "G") is None and g.shortest_path("A", "G", weighted=True) is None
    assert g.shortest_path("A", "A").nodes == ("A",)


def test_relations_added_after_the_index_are_seen() -> None:
    g = small()
    g.build_index()
    g.add_relation("G", "F", "co_stay", at=T0)
    g.add_relation("G", "NEW", "shared_address")
    assert g.shortest_path("A", "NEW").nodes == ("A", "E", "D", "F", "G", "NEW")
    assert [n.key for n in g.neighbourhood("NEW", k=2)] == ["G", "F"]


def test_bulk_rows_for_one_pair_and_kind_are_combined() -> None:
    tbl = pa.table({"a": ["A", "B", "A"], "b": ["B", "A", "C"], "kind": ["co_stay", "co_stay", "family"],
                    "count": [1, 2, 1], "evidence": [["r1"], ["r2", "r1"], None]})  # fmt: skip
    g = RelationGraph()
    assert g.add_edges(tbl) == 2
    (ab,) = g.relations("A", "B")
    assert ab.count == 3 and set(ab.evidence) == {"r1", "r2"} and ab.weight == pytest.approx(1 - 0.4**3)
    with pytest.raises(ValueError):
        g.add_edges(pa.table({"a": ["A"], "b": ["B"], "kind": ["friend"]}))
    # Dictionary-encoded endpoints (as Parquet reads them) give the same graph; keyless rows and
    # self-relations are dropped.
    rows = pa.table({"a": ["A", "B", "A", None, "D"], "b": ["B", "A", "C", "C", "D"],
                     "kind": ["co_stay", "co_stay", "family", "family", "family"],
                     "count": [1, 2, 1, 1, 1]})  # fmt: skip
    plain, encoded = RelationGraph(), RelationGraph()
    plain.add_person("C")
    assert plain.add_edges(rows) == 2
    enc = rows.set_column(0, "a", pc.dictionary_encode(rows["a"])).set_column(1, "b", pc.dictionary_encode(rows["b"]))
    assert pa.types.is_dictionary(enc["a"].type) and encoded.add_edges(enc) == 2
    for gr in (plain, encoded):
        assert sorted((r.a, r.b, r.kind, r.count) for k in ("B", "C") for r in gr.relations("A", k)) == [
            ("A", "B", "co_stay", 3),
            ("A", "C", "family", 1),
        ]
        assert len(gr) == 4 and gr.degree("D") == 0 and gr.degree("C") == 1 and "C" in gr
    assert encoded.add_edges(enc) == 0 and encoded.relations("A", "B")[0].count == 6  # known keys, merged


def random_graph(seed: int, n: int = 250, m: int = 900) -> tuple[RelationGraph, list[dict]]:
    rng = random.Random(seed)
    g = RelationGraph()
    for i in range(n):
        g.add_person(f"p{i}")
    rows = []
    for _ in range(m):
        a, b = rng.sample(range(n), 2) if rng.random() < 0.7 else (rng.randrange(12), rng.randrange(n))  # hubs
        if a != b:
            at = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(days=rng.randrange(365))
            rows.append({"a": f"p{a}", "b": f"p{b}", "kind": rng.choice(KINDS),
                         "weight": round(rng.uniform(0.05, 1.0), 3), "last_seen": at})  # fmt: skip
    g.add_edges(pa.Table.from_pylist(rows))
    return g, rows


def reference(g: RelationGraph, kinds: set[str] | None = None, since: datetime | None = None) -> nx.Graph:
    """networkx twin of the graph: one edge per pair, the strongest allowed parallel weight."""
    ref = nx.Graph()
    ref.add_nodes_from(g.key(i) for i in range(len(g)))
    for u, v in set(g.rx_graph.edge_list()):
        rels = [
            r
            for r in g.relations(g.key(u), g.key(v))
            if (kinds is None or r.kind in kinds) and (since is None or r.last_seen is None or r.last_seen >= since)
        ]
        if rels:
            w = max(r.weight for r in rels)
            ref.add_edge(g.key(u), g.key(v), w=w, cost=1 / w)
    return ref


@pytest.mark.parametrize("kinds, since", [(None, None), ({"co_stay", "family", "co_travel"}, None),
                                          (None, datetime(2025, 7, 1, tzinfo=UTC))])  # fmt: skip
def test_queries_agree_with_networkx_on_a_random_graph(kinds: set[str] | None, since: datetime | None) -> None:
    g, _ = random_graph(7)
    g.build_index()
    for i in range(30):  # some relations arrive after the index is compiled (the overlay)
        g.add_relation(f"p{i}", f"p{i + 100}", "co_offending", weight=0.97)
    ref = reference(g, kinds, since)
    rng = random.Random(1)
    nodes = sorted(ref.nodes)
    for s in rng.sample(nodes, 25):
        want = nx.single_source_shortest_path_length(ref, s, cutoff=2)
        nb = g.neighbourhood(s, k=2, kinds=kinds, since=since)
        assert {n.key: n.hops for n in nb} == {v: d for v, d in want.items() if v != s}
        for n in nb:  # the reported path is real and the strongest of its length
            assert all(ref.has_edge(u, v) for u, v in itertools.pairwise(n.path))
            assert n.score == pytest.approx(math.prod(step[0].weight for step in n.steps))
            if n.hops == 2:
                best = max(ref[s][u]["w"] * ref[u][n.key]["w"] for u in nx.common_neighbors(ref, s, n.key))
                assert n.score == pytest.approx(best)
    for a, b in (rng.sample(nodes, 2) for _ in range(60)):
        p = g.shortest_path(a, b, kinds=kinds, since=since)
        w = g.shortest_path(a, b, kinds=kinds, since=since, weighted=True)
        if not nx.has_path(ref, a, b):
            assert p is None and w is None
            continue
        assert p.hops == nx.shortest_path_length(ref, a, b)
        assert all(ref.has_edge(u, v) for u, v in itertools.pairwise(p.nodes))
        assert w.cost == pytest.approx(nx.dijkstra_path_length(ref, a, b, weight="cost"))
        assert w.cost == pytest.approx(sum(ref[u][v]["cost"] for u, v in itertools.pairwise(w.nodes)))


def brute_force(ref: nx.Graph, g: RelationGraph, s: str, k: int) -> list[tuple[str, int, float]]:
    """Everyone within k hops of s by a plain BFS over the reference graph, with the strongest score of a
    shortest path (product of the strongest allowed weights, multiplied hop by hop as the graph does),
    in the records' order: hops, strongest first, then node index."""
    hops = nx.single_source_shortest_path_length(ref, s, cutoff=k)
    best = {s: 1.0}
    for h in range(1, k + 1):
        for v in (v for v, d in hops.items() if d == h):
            best[v] = max(best[u] * ref[u][v]["w"] for u in ref[v] if hops.get(u) == h - 1)
    found = [(v, d, best[v]) for v, d in hops.items() if v != s]
    return sorted(found, key=lambda x: (x[1], -x[2], g.node_index(x[0])))


def parallel_graph(seed: int) -> RelationGraph:
    """A random graph with hubs, parallel kinds on some pairs, relations that arrive after the index was
    compiled (the overlay, some of them new persons) and merges that change a compiled edge's weight."""
    g, rows = random_graph(seed, n=300, m=1500)
    rng = random.Random(seed)
    extra = [{**r, "kind": KINDS[(KINDS.index(r["kind"]) + 1) % len(KINDS)], "weight": round(rng.uniform(0.05, 1), 3)}
             for r in rng.sample(rows, 120)]  # fmt: skip
    g.add_edges(pa.Table.from_pylist(extra))
    g.build_index()
    for r in rng.sample(rows, 40):  # same pair and kind: merged, the compiled weight changes
        g.add_relation(r["a"], r["b"], r["kind"], weight=0.9, at=r["last_seen"])
    for i in range(40):
        a, b = f"p{rng.randrange(300)}", f"p{rng.randrange(300)}" if i % 4 else f"new{i}"
        if a != b:
            g.add_relation(a, b, rng.choice(KINDS), weight=round(rng.uniform(0.05, 1), 3), at=T0)
    return g


@pytest.mark.parametrize("kinds, since", [(None, None), ({"co_stay", "shared_phone", "family"}, None),
                                          ({"co_travel", "co_stay"}, datetime(2025, 5, 1, tzinfo=UTC))])  # fmt: skip
def test_k_hop_sets_records_and_steps_match_brute_force(kinds: set[str] | None, since: datetime | None) -> None:
    g = parallel_graph(11)
    assert g._n_pending > 0 and g._csr is not None and g._csr.parallel.any()  # the cases under test exist
    ref = reference(g, kinds, since)
    rng = random.Random(5)
    sources = [*rng.sample(sorted(ref.nodes), 30), *(f"p{i}" for i in range(12))]  # the hubs too
    for s in sources:
        for k in (1, 2, 3):
            want = brute_force(ref, g, s, k)
            ids = g.reach_ids(s, k, kinds, since)
            assert [sorted(g.key(int(i)) for i in lv) for lv in ids] == [
                sorted(v for v, d, _ in want if d == h) for h in range(1, len(ids) + 1)
            ]
            assert all(len(lv) == len(set(lv.tolist())) for lv in ids) and sum(map(len, ids)) == len(want)
            full = g.neighbourhood(s, k, kinds, since)
            assert [(n.key, n.hops, n.score) for n in full] == want
            assert [sorted(map(int, lv)) for lv in full.levels] == [sorted(map(int, lv)) for lv in ids]
            for limit in (0, 1, 7, 40):
                cut = g.neighbourhood(s, k, kinds, since, limit=limit)
                assert [(n.key, n.hops, n.score) for n in cut] == want[:limit]
                assert cut.total == len(want) and cut.truncated == (limit < len(want))
            for n in full:  # each step: every allowed relation of the pair, strongest first
                assert n.path[0] == s and n.path[-1] == n.key and len(n.path) == n.hops + 1
                for (u, v), step in zip(itertools.pairwise(n.path), n.steps, strict=True):
                    assert step == tuple(g.relations(u, v, kinds=kinds, since=since))
                assert n.score == math.prod(step[0].weight for step in n.steps)


def test_bulk_merge_after_the_index_rescores_paths() -> None:
    g, rows = random_graph(4)
    g.build_index()
    g.add_edges(pa.Table.from_pylist([{**r, "weight": 0.99} for r in rows]))  # every edge merged at once
    ref = reference(g)
    for s in ("p0", "p1", "p50", "p77"):
        assert [(n.key, n.hops, n.score) for n in g.neighbourhood(s, 2)] == brute_force(ref, g, s, 2)


def test_merging_into_a_large_graph_by_sorted_keys_matches_lookups() -> None:
    g1, _ = random_graph(3)
    g2, _ = random_graph(3)
    extra = pa.table({"a": ["p1", "p2", "p9"], "b": ["p0", "p200", "zz"], "kind": ["co_stay"] * 3, "count": [2] * 3})
    g2._existing_lookups = 0  # force the vectorised (sorted keys) path
    assert g1.add_edges(extra) == g2.add_edges(extra)
    assert g1.num_edges == g2.num_edges
    assert [r.count for r in g1.relations("p0", "p1")] == [r.count for r in g2.relations("p0", "p1")]


# --- associates_seen and to_json --------------------------------------------------------------------------

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def fugitive_graph() -> RelationGraph:
    g = RelationGraph()
    g.add_relation("FUG", "A1", "co_stay", at=NOW - timedelta(days=30))
    g.add_relation("FUG", "A2", "shared_phone")
    g.add_relation("A2", "A3", "family")
    g.add_relation("A1", "A2", "co_travel", at=NOW - timedelta(days=40))
    g.add_person("A1", name="李四")
    return g


def sightings_table() -> pa.Table:
    def at(**kw: float) -> datetime:
        return (NOW - timedelta(**kw)).astimezone(CST)

    return activity([
        row("r1", "hotel_checkin", at(days=1), "A1", venue="H9", room="0301"),
        row("r2", "internet_cafe", at(days=3), "A1", venue="WB2"),
        row("r3", "internet_cafe", at(days=10), "A1", venue="WB2"),  # outside a 7-day window
        row("r4", "checkpoint_pass", at(hours=2), None, venue="KK7", plate="粤B12345"),  # A2's car
        row("r5", "hotel_checkin", at(hours=5), "A3", venue="H2", room="1101"),  # two hops away
        row("r6", "internet_cafe", at(hours=1), "FUG", venue="WB3"),  # the fugitive himself
        row("r7", "internet_cafe", at(hours=1), "X", venue="WB3"),  # a stranger
        row("r8", "internet_cafe", at(days=2), "A1", venue="WB2", detail={"later": True}),
        row("r9", "hotel_checkin", NOW + timedelta(hours=1), "A1", venue="H9"),  # after `now`
    ])  # fmt: skip


PLATES = pa.table({"id_number": ["A2"], "plate": ["粤B12345"]})


def test_associates_seen_newest_first_within_the_window() -> None:
    g = fugitive_graph()
    acts = sightings_table()
    seen = g.associates_seen("FUG", acts, days=7, now=NOW, persons=PLATES, per_person=None)
    assert [(s.record_id, s.key) for s in seen] == [("r4", "A2"), ("r1", "A1"), ("r8", "A1"), ("r2", "A1")]
    assert seen[0].matched_by == "plate" and seen[0].venue_code == "KK7" and seen[0].source == "checkpoint_pass"
    assert seen[1].kinds == ("co_stay",) and seen[1].hops == 1 and seen[1].at == NOW - timedelta(days=1)
    assert all(NOW - timedelta(days=7) <= s.at <= NOW for s in seen)
    two = g.associates_seen("FUG", acts, days=7, now=NOW, k=2, persons=PLATES, per_person=1)
    assert [(s.record_id, s.hops) for s in two] == [("r4", 1), ("r5", 2), ("r1", 1)]
    assert two[1].path == ("FUG", "A2", "A3") and two[1].kinds == ("shared_phone", "family")
    assert [s.record_id for s in g.associates_seen("FUG", acts, days=0.5, now=NOW)] == []  # no plates given
    assert [s.record_id for s in g.associates_seen("FUG", acts, days=0.5, now=NOW, persons=PLATES)] == ["r4"]


def test_to_json_is_the_k_hop_subgraph() -> None:
    g = fugitive_graph()
    doc = g.to_json("FUG", k=1)
    assert json.loads(json.dumps(doc, ensure_ascii=False)) == doc
    assert set(doc) >= {"center", "k", "nodes", "edges", "total", "truncated"}
    ids = [n["id"] for n in doc["nodes"]]
    assert ids[0] == "FUG" and doc["nodes"][0]["hops"] == 0 and set(ids) == {"FUG", "A1", "A2"}
    assert next(n for n in doc["nodes"] if n["id"] == "A1")["name"] == "李四"
    # Every relation among the shown persons, the A1-A2 side of the triangle included; none to A3.
    kinds = sorted((e["source"], e["target"], e["kind"]) for e in doc["edges"])
    assert kinds == [("A1", "A2", "co_travel"), ("A1", "FUG", "co_stay"), ("A2", "FUG", "shared_phone")]
    e = next(e for e in doc["edges"] if e["kind"] == "co_stay")
    assert e["label"] == "同住" and e["first_seen"] == (NOW - timedelta(days=30)).isoformat()
    assert set(e) >= {"id", "source", "target", "kind", "weight", "count", "first_seen", "last_seen", "evidence"}
    cut = g.to_json("FUG", k=2, limit=1)
    assert cut["truncated"] and cut["total"] == 3 and len(cut["nodes"]) == 2 and len(cut["edges"]) == 1


# --- the simulator's companions ---------------------------------------------------------------------------


def test_simulated_companions_become_co_stay_edges() -> None:
    from zhihui.sim.population import generate_population

    def place(i: int, cat: str, name: str) -> dict:
        return {"id": f"t{i:03d}", "name": name, "kind": "place", "category": cat, "lat": 22.54 + i / 1000,
                "lon": 114.05 + i / 1000, "road": "福华路", "house_number": 10 + 2 * i,
                "address": f"福华路{10 + 2 * i}号", "buildings": ["1栋", "2栋"]}  # fmt: skip

    places = [place(i, "住宅小区", f"福华{i}花园") for i in range(4)]
    places += [place(10 + i, "酒店", f"福华{i}酒店") for i in range(3)]
    places += [place(20 + i, "商业", f"福华{i}大厦") for i in range(3)]
    pop = generate_population(places, seed=3, n_persons=600, days=7, cameras=[("KK-1", "卡口", 22.541, 114.051)])
    acts = [a for a in pop.activities if a.id_number]
    rows = [
        row(f"r{i}", a.kind, a.at, a.id_number, venue=a.venue_code, detail=a.detail) for i, a in enumerate(acts)
    ]  # the room stays in detail, as the simulator writes it
    # Residents only: a visitor's address is just his hukou county, which would link strangers.
    residents = [p for p in pop.persons if p.home_lat is not None]
    persons = pa.table({"id_number": [p.id_number for p in residents], "address": [p.address for p in residents]})
    edges = derive_edges(activity(rows), persons)
    stays = pairs(edges, "co_stay")
    companions = {tuple(sorted((a.detail["with"], a.id_number))) for a in acts if "with" in a.detail}
    assert companions and companions <= stays
    by_id = {r["record_id"]: r for r in rows}
    for e in edges.to_pylist():
        if e["kind"] == "co_stay":  # every co-stay is backed by two check-ins into one room
            recs = [by_id[r] for r in e["evidence"]]
            assert {r["id_number"] for r in recs} == {e["a"], e["b"]}
            assert len({(r["venue_code"], json.loads(r["detail"])["room"]) for r in recs}) == 1
    by_address: dict[str, list[str]] = {}
    for p in residents:
        by_address.setdefault(p.address, []).append(p.id_number)
    households = {tuple(sorted(pair)) for ids in by_address.values() if len(ids) <= 12
                  for pair in itertools.combinations(ids, 2)}  # fmt: skip
    assert households and pairs(edges, "shared_address") == households
