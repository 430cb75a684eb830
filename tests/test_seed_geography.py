"""The demo city lies on the real road graph: units and cameras on its streets, jurisdictions tiling
it, and callers' addresses that the project's own geocoder puts where the caller is."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from shapely.geometry import box, shape
from sqlalchemy import select

from zhihui.core.config import sqlite_url
from zhihui.core.orgs import Org
from zhihui.core.store import Database
from zhihui.dispatch.models import Unit
from zhihui.dispatch.recommend import RoadNetwork, default_graph_path, recommend
from zhihui.geo.coords import haversine_m
from zhihui.geo.geocode import geocode
from zhihui.geo.places import Camera
from zhihui.geo.roads import load_graphml
from zhihui.incidents.categories import categories
from zhihui.incidents.models import Incident
from zhihui.sim.demo import LAT_RANGE, LON_RANGE, DemoCity, prepare_database
from zhihui.sim.seed import DEMO_BOUNDS

GRAPH = default_graph_path()
pytestmark = pytest.mark.skipif(GRAPH is None or not GRAPH.exists(),
                                reason="../shared/data/shenzhen_futian_drive.graphml is missing")


def inside(lat: float, lon: float) -> bool:
    return LAT_RANGE[0] <= lat <= LAT_RANGE[1] and LON_RANGE[0] <= lon <= LON_RANGE[1]


async def test_seeded_units_cameras_and_areas_lie_on_the_graph(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "seed.db")
    await prepare_database(url)
    db = Database(url)
    try:
        async with db.read() as session:
            units = list((await session.execute(select(Unit))).scalars())
            cameras = list((await session.execute(select(Camera))).scalars())
            stations = list((await session.execute(select(Org).where(Org.kind == "station"))).scalars())
    finally:
        await db.dispose()
    graph = load_graphml(GRAPH)  # drivable roads only
    assert len(units) >= 20 and len(cameras) >= 40 and len(stations) >= 4
    for u in units:
        assert inside(u.lat, u.lon), (u.call_sign, u.lat, u.lon)
        assert graph.snap(u.lat, u.lon).distance_m < 1.0, u.call_sign  # placed on the street itself
    for c in cameras:
        assert inside(c.lat, c.lon), c.name
        assert graph.snap(c.lat, c.lon).distance_m < 30.0, c.name
    # The provisional 辖区 tile the area: no gaps, no overlaps.
    cells = [shape(s.boundary) for s in stations]
    area = box(*DEMO_BOUNDS)
    assert abs(sum(c.area for c in cells) - area.area) < 1e-9
    for i, a in enumerate(cells):
        for b in cells[i + 1:]:
            assert a.intersection(b).area < 1e-12


def test_callers_addresses_geocode_to_where_they_are() -> None:
    city = DemoCity(categories(), random.Random(11))
    n, near = 200, 0
    for _ in range(n):
        address, lat, lon = city.location()
        assert inside(lat, lon)
        best = geocode(address).best
        if best is not None and haversine_m(best.lat, best.lon, lat, lon) <= 300:
            near += 1
    assert near >= 0.9 * n, f"only {near}/{n} addresses geocode within 300 m of the caller"


def test_a_demo_call_is_routed_by_road() -> None:
    city = DemoCity(categories(), random.Random(5))
    network = RoadNetwork(load_graphml(GRAPH), str(GRAPH))
    _, lat, lon = city.location()
    incident = Incident(category_code="0201", lat=lat, lon=lon, status="received")
    unit = Unit(id=1, call_sign="t", type="patrol", status="available", lat=22.5440, lon=114.0300)
    method, recs = recommend(network, incident, [unit], k=1, with_routes=False)
    assert method == "road" and recs[0].eta_s is not None and recs[0].eta_s > 0
