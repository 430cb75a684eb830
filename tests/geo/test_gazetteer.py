"""Gazetteer + geocoder on the real Futian OSM extract (../shared/data), with generated places.

Expected positions are computed here independently from the GraphML (nodes shared by two named
streets), not taken from the gazetteer under test.
"""

from __future__ import annotations

import itertools
import math
import statistics
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zhihui.dispatch.recommend import default_graph_path
from zhihui.geo.coords import haversine_m
from zhihui.geo.gazetteer import Gazetteer, sound_key
from zhihui.geo.geocode import Geocoder
from zhihui.intake.address import parse_address
from zhihui.sim.places import generate_places

GRAPH = default_graph_path()
pytestmark = pytest.mark.skipif(
    GRAPH is None or not Path(GRAPH).exists(),
    reason="shared road graph ../shared/data/shenzhen_futian_drive.graphml (or ZHIHUI_ROAD_GRAPH) is missing",
)
NS = "{http://graphml.graphdrawing.org/xmlns}"


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return Gazetteer.from_graphml(GRAPH)


@pytest.fixture(scope="module")
def geo(gaz: Gazetteer) -> Geocoder:
    return Geocoder(gaz)


@pytest.fixture(scope="module")
def shared_nodes() -> dict[frozenset[str], list[tuple[float, float]]]:
    """Independent truth: {frozenset(A, B): [(lat, lon) of every node both streets touch]}."""
    root = ET.parse(GRAPH).getroot()
    keys = {k.get("id"): k.get("attr.name") for k in root.iter(NS + "key")}
    pos: dict[str, tuple[float, float]] = {}
    for n in root.iter(NS + "node"):
        d = {keys[x.get("key")]: x.text for x in n.iter(NS + "data")}
        pos[n.get("id")] = (float(d["y"]), float(d["x"]))
    names_at: dict[str, set[str]] = {}
    for e in root.iter(NS + "edge"):
        d = {keys[x.get("key")]: x.text for x in e.iter(NS + "data")}
        name = d.get("name")
        if not name or name.startswith("["):
            continue
        for end in (e.get("source"), e.get("target")):
            names_at.setdefault(end, set()).add(name)
    out: dict[frozenset[str], list[tuple[float, float]]] = {}
    for node, names in names_at.items():
        for a in names:
            for b in names:
                if a < b:
                    out.setdefault(frozenset((a, b)), []).append(pos[node])
    return out


def _min_dist(lat: float, lon: float, pts: list[tuple[float, float]]) -> float:
    return min(haversine_m(lat, lon, a, b) for a, b in pts)


# ---- gazetteer contents ------------------------------------------------------------------------------


def test_contents(gaz: Gazetteer) -> None:
    counts = gaz.counts()
    assert counts["road"]["osm"] >= 140  # every named street, footways included
    assert counts["intersection"]["osm"] >= 200
    assert counts["place"]["generated"] == 300
    assert counts["community"]["generated"] >= 10
    assert counts["house_number"]["generated"] >= 250
    assert counts["district"]["imported"] >= 8
    for name in ("深南大道", "红荔路", "香蜜湖路", "侨香路", "香梅路", "花海路", "景田东天桥"):
        assert gaz.road(name) is not None, name
    lat0, lon0, lat1, lon1 = gaz.bounds
    assert 22.51 < lat0 < lat1 < 22.56 and 113.99 < lon0 < lon1 < 114.05
    x = gaz.search("香梅路与红荔路交叉口", ("intersection",))
    assert x and x[0].entry.name in ("红荔路与香梅路交叉口", "香梅路与红荔路交叉口")


def test_road_axis_runs_west_to_east(gaz: Gazetteer) -> None:
    road = gaz.road("深南大道")
    axis = road.props["_axis"]
    assert axis[0][1] < axis[-1][1]  # numbered from the west end
    assert 3500 < road.props["length_m"] < 4600  # one carriageway across the ~4.3 km wide extract


def test_places_are_generated_deterministic_and_inside_extent(gaz: Gazetteer) -> None:
    a = generate_places(seed=7, n=50, graph=None)
    b = generate_places(seed=7, n=50, graph=None)
    assert a == b and len([p for p in a if p["kind"] == "place"]) == 50
    assert generate_places(seed=8, n=50) != a
    lat0, lon0, lat1, lon1 = gaz.bounds
    for p in a:
        assert p["source"] == "generated"
        assert lat0 - 0.002 < p["lat"] < lat1 + 0.002 and lon0 - 0.002 < p["lon"] < lon1 + 0.002
        # every generated name parses back as a place or community
        parsed = parse_address(p["name"])
        assert p["name"] in (parsed.place, parsed.community), (p["name"], parsed)


def test_sound_key_merges_southern_homophones() -> None:
    assert sound_key("深兰大道") == sound_key("深南大道")
    assert sound_key("桥香路") == sound_key("侨香路")
    assert sound_key("红荔路") != sound_key("香梅路")


def test_add_entries_imported(gaz: Gazetteer) -> None:
    g = Gazetteer.from_graphml(GRAPH, places=False)
    n = g.add_entries(
        [
            {"name": "测试标准地址大厦", "kind": "place", "lat": 22.535, "lon": 114.02, "source": "imported"},
            {
                "name": "侨香路200号",
                "kind": "house_number",
                "lat": 22.548,
                "lon": 114.004,
                "road": "侨香路",
                "house_number": "200",
            },
            {"name": "bad", "kind": "nonsense", "lat": 0, "lon": 0},
        ]
    )
    assert n == 2
    r = Geocoder(g).geocode("侨香路200号")
    assert r.best.kind == "house_number" and not r.best.estimate
    assert haversine_m(r.best.lat, r.best.lon, 22.548, 114.004) < 1
    assert Geocoder(g).geocode("测试标准地址大厦").best.source == "imported"


# ---- geocoding ---------------------------------------------------------------------------------------

INTERSECTIONS = [
    ("红荔路和香梅路交叉口", ("红荔路", "香梅路")),
    ("深南大道与香梅路路口", ("深南大道", "香梅路")),
    ("深南大道香蜜湖路口", ("深南大道", "香蜜湖路")),
    ("泰然四路和泰然九路交叉口", ("泰然四路", "泰然九路")),
    ("我在红荔路和香梅路路口这边被人抢了手机", ("红荔路", "香梅路")),
    ("福田區紅荔路與香梅路交叉口", ("红荔路", "香梅路")),  # traditional characters
    ("深兰大道和香密湖路路口", ("深南大道", "香蜜湖路")),  # homophone + wrong character
    ("红荔路和香眉路", ("红荔路", "香梅路")),  # 眉 for 梅, typed by ear
    ("侨香路与农林路交叉口", ("侨香路", "农林路")),
    ("有人在景田路红荔路路口打架", ("景田路", "红荔路")),
]


def test_streets_that_do_not_meet(geo: Geocoder) -> None:
    # 农林路 and 农园路 are parallel here (no shared node): closest approach, flagged, low confidence.
    b = geo.geocode("农林路与农园路交叉口").best
    assert b.kind == "intersection" and b.estimate and b.confidence < 0.3
    assert "closest approach" in b.note


@pytest.mark.parametrize(("text", "pair"), INTERSECTIONS)
def test_intersection_at_shared_node(geo: Geocoder, shared_nodes: dict, text: str, pair: tuple[str, str]) -> None:
    r = geo.geocode(text)
    b = r.best
    assert b is not None and b.kind == "intersection", r.as_dict()
    nodes = shared_nodes.get(frozenset(pair)) or []
    # 深南大道 crosses some streets only through its 辅路: accept its side road's nodes too.
    for a, c in (pair, pair[::-1]):
        nodes += shared_nodes.get(frozenset((a + "辅路", c)), [])
    assert nodes, f"data check: {pair} share no node"
    assert _min_dist(b.lat, b.lon, nodes) < 50
    assert b.confidence >= 0.6


def test_full_address_with_house_number_is_an_estimate(geo: Geocoder, gaz: Gazetteer) -> None:
    r = geo.geocode("广东省深圳市福田区香蜜湖街道侨香路3号")
    b = r.best
    assert b.kind == "house_number" and b.estimate
    assert 0.3 < b.confidence < 0.85
    assert r.parsed.adcode == "440304"
    assert gaz.nearest_on_road("侨香路", b.lat, b.lon)[2] < 20  # on the street
    assert b.matched["road"]["how"] == "exact" and "interpolated" in b.matched["house_number"]["how"]


def test_known_house_number_is_exact(geo: Geocoder, gaz: Gazetteer) -> None:
    e = next(e for e in gaz.entries if e.kind == "house_number")
    r = geo.geocode(f"福田区{e.name}")
    assert not r.best.estimate and haversine_m(r.best.lat, r.best.lon, e.lat, e.lon) < 1
    assert r.best.confidence > 0.85 and r.best.precision_m <= 30


def test_generated_place_with_building_unit_room(geo: Geocoder, gaz: Gazetteer) -> None:
    place = next(
        e
        for e in gaz.entries
        if e.kind == "place" and e.props.get("category") == "住宅小区" and len(e.props.get("buildings") or []) >= 3
    )
    r = geo.geocode(f"{place.name}3栋2单元501")
    b = r.best
    assert b.kind == "place" and b.entry_id == place.id
    assert (b.lat, b.lon) == (place.lat, place.lon)
    assert b.matched["building"]["how"] == "exact" and b.confidence >= 0.8
    assert r.parsed.unit == "2" and r.parsed.room == "501"


def test_metro_station_nearby(geo: Geocoder) -> None:
    r = geo.geocode("车公庙地铁站附近")
    assert r.best.name == "车公庙地铁站" and r.best.matched["relation"]["how"] == "widened"


def test_road_only_and_near(geo: Geocoder, gaz: Gazetteer) -> None:
    r = geo.geocode("深南大道")
    assert r.best.kind == "road" and r.best.precision_m > 1000 and r.best.confidence < 0.7
    near = (22.5392, 114.0230)  # caller's cell position near 车公庙
    rn = geo.geocode("深南大道", near=near)
    assert haversine_m(rn.best.lat, rn.best.lon, *near) < 100
    assert rn.best.precision_m < r.best.precision_m


def test_relation_shifts_point(geo: Geocoder) -> None:
    a = geo.geocode("红荔路和香梅路交叉口").best
    b = geo.geocode("红荔路和香梅路交叉口往东100米").best
    assert 90 < haversine_m(a.lat, a.lon, b.lat, b.lon) < 110 and b.lon > a.lon


def test_other_city_is_district_level_only(geo: Geocoder) -> None:
    r = geo.geocode("北京市朝阳区建国路88号")
    assert r.best.kind == "district" and r.best.adcode == "110105"
    assert r.best.confidence < 0.3 and r.best.precision_m >= 1000
    assert all(c.kind == "district" for c in r.candidates)
    assert abs(r.best.lat - 39.92) < 0.05 and abs(r.best.lon - 116.44) < 0.05


def test_home_district_only(geo: Geocoder) -> None:
    r = geo.geocode("福田区")
    assert r.best.kind == "district" and r.best.adcode == "440304" and r.best.confidence < 0.3


@pytest.mark.parametrize("text", ["asdfgh", "今天天气很好", "喂喂喂你好", "😀", "", "1234"])
def test_nonsense(geo: Geocoder, text: str) -> None:
    r = geo.geocode(text)
    assert r.best is None or r.best.confidence < 0.3, r.as_dict()


def test_near_breaks_ties(geo: Geocoder, gaz: Gazetteer) -> None:
    # A street-only answer follows the caller's position along the street.
    r_far = geo.geocode("深南大道", near=(22.536, 114.002))
    r_near = geo.geocode("深南大道", near=(22.542, 114.038))
    assert r_far.best.lon < r_near.best.lon


def test_as_dict_is_json_ready(geo: Geocoder) -> None:
    import json

    d = geo.geocode("我在红荔路和香梅路路口这边被人抢了手机").as_dict()
    json.dumps(d, ensure_ascii=False)
    assert d["best"]["kind"] == "intersection" and d["crs"] == "wgs84"


def test_accuracy(geo: Geocoder, gaz: Gazetteer, shared_nodes: dict) -> None:
    """A labelled set: intersections (true shared nodes), generated places and 门牌, streets."""
    cases: list[tuple[str, list[tuple[float, float]], float]] = []
    for text, pair in INTERSECTIONS:
        nodes = list(shared_nodes.get(frozenset(pair), []))
        for a, c in (pair, pair[::-1]):
            nodes += shared_nodes.get(frozenset((a + "辅路", c)), [])
        cases.append((text, nodes, 50.0))
    places = [e for e in gaz.entries if e.kind == "place"][::15]
    cases += [(f"{p.name}附近", [(p.lat, p.lon)], 5.0) for p in places]
    houses = [e for e in gaz.entries if e.kind == "house_number"][::25]
    cases += [(f"深圳市福田区{h.name}", [(h.lat, h.lon)], 5.0) for h in houses]
    for name in ("红荔路", "侨香路", "农林路", "泰然九路", "景田路"):
        road = gaz.road(name)
        # every point along the street's polylines, every ~1 m (the answer must lie on the street)
        pts = [
            (a[0] + (b[0] - a[0]) * f / 100, a[1] + (b[1] - a[1]) * f / 100)
            for pl in road.geometry
            for a, b in itertools.pairwise(pl)
            for f in range(101)
        ]
        cases.append((name, pts, 10.0))
    times: list[float] = []
    for _ in range(3):
        for text, _truth, _tol in cases:
            t0 = time.perf_counter()
            geo.geocode(text)
            times.append((time.perf_counter() - t0) * 1000)
    misses = []
    for text, truth, tol in cases:
        b = geo.geocode(text).best
        if b is None or _min_dist(b.lat, b.lon, truth) > tol:
            misses.append((text, b.as_dict() if b else None))
    hits = len(cases) - len(misses)
    times.sort()
    p50, p99 = statistics.median(times), times[math.ceil(0.99 * len(times)) - 1]
    print(f"\naccuracy {hits}/{len(cases)}; geocode p50 {p50:.2f} ms p99 {p99:.2f} ms; misses {misses}")
    assert hits / len(cases) >= 0.9


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.one_of(st.text(max_size=60), st.text(alphabet="深南大道红荔路香梅和与口号栋小区花园附近东100米區", max_size=30)),
    st.one_of(st.none(), st.tuples(st.floats(allow_nan=True), st.floats(allow_infinity=True))),
)
def test_geocode_never_raises(geo: Geocoder, text: str, near: tuple[float, float] | None) -> None:
    r = geo.geocode(text, near=near)
    d = r.as_dict()
    for c in r.candidates:
        assert 0.0 <= c.confidence <= 1.0 and c.precision_m > 0
    assert isinstance(d, dict)


def test_absurd_caller_position_is_ignored(geo: Geocoder) -> None:
    # Found by hypothesis: a position far off the Earth made the nearest-point search index past the end.
    r = geo.geocode("大路", near=(0.0, 1.305456540611452e149))
    assert all(c.distance_to_near_m is None for c in r.candidates)
