"""辖区 assignment at intake, the jurisdictions layer, and cameras near a point, through the API."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.test_incident_loop import create_incident
from tests.conftest import World
from zhihui.core.orgs import Org, forget_jurisdictions

API = "/api/v1"
STATION_A = {"type": "Polygon", "coordinates": [[[114.00, 22.50], [114.05, 22.50], [114.05, 22.56],
                                                   [114.00, 22.56], [114.00, 22.50]]]}
STATION_B = {"type": "Polygon", "coordinates": [[[114.05, 22.50], [114.10, 22.50], [114.10, 22.56],
                                                   [114.05, 22.56], [114.05, 22.50]]]}


async def _stations(app: Any) -> tuple[int, int]:
    async with app.state.db.tx() as session:
        a = Org(code="440304510000", name="A派出所", kind="station", lat=22.53, lon=114.02, boundary=STATION_A)
        b = Org(code="440304520000", name="B派出所", kind="station", lat=22.53, lon=114.08)
        session.add_all([a, b])
        await session.flush()
        ids = (a.id, b.id)
    forget_jurisdictions(app.state.db)
    return ids


async def test_intake_assigns_jurisdiction(app: Any, client: httpx.AsyncClient, world: World) -> None:
    a, b = await _stations(app)
    inc = await create_incident(client, world, lat=22.53, lon=114.03)
    assert inc["jurisdiction_org_id"] == a
    # B has no boundary yet: a point there has no station until one is loaded through the API.
    assert (await create_incident(client, world, lat=22.53, lon=114.07))["jurisdiction_org_id"] is None
    r = await client.put(f"{API}/geo/jurisdictions/{b}", json={"boundary": STATION_B}, headers=world.headers["admin"])
    assert r.status_code == 200, r.text
    assert (await create_incident(client, world, lat=22.53, lon=114.07))["jurisdiction_org_id"] == b
    assert (await create_incident(client, world, lat=22.60, lon=114.07))["jurisdiction_org_id"] is None
    layer = (await client.get(f"{API}/geo/jurisdictions", headers=world.headers["dispatcher"])).json()
    assert layer["type"] == "FeatureCollection"
    assert sorted(f["properties"]["org_id"] for f in layer["features"]) == [a, b]


async def test_bad_boundary_is_422(app: Any, client: httpx.AsyncClient, world: World) -> None:
    a, _ = await _stations(app)
    h = world.headers["admin"]
    for bad in ({"type": "Point", "coordinates": [114.0, 22.5]}, {"type": "Polygon", "coordinates": "x"},
                {"type": "Polygon", "coordinates": [[[114, 22], [115, 23], [114, 23], [115, 22], [114, 22]]]}):
        r = await client.put(f"{API}/geo/jurisdictions/{a}", json={"boundary": bad}, headers=h)
        assert r.status_code == 422 and r.json()["field"] == "boundary", r.text
    r = await client.put(f"{API}/geo/jurisdictions/99999", json={"boundary": STATION_A}, headers=h)
    assert r.status_code == 404


async def test_cameras_near(client: httpx.AsyncClient, world: World) -> None:
    h = world.headers["admin"]
    for code, lat, lon in [("C1", 22.5405, 114.0553), ("C2", 22.5420, 114.0553), ("C3", 22.5600, 114.0553)]:
        r = await client.post(f"{API}/geo/cameras", json={"code": code, "name": f"深南大道{code}", "lat": lat,
                                                          "lon": lon}, headers=h)
        assert r.status_code == 201
    d = world.headers["dispatcher"]
    got = (await client.get(f"{API}/geo/cameras", params={"near": "22.5400,114.0553", "radius": 300},
                            headers=d)).json()
    assert [c["code"] for c in got] == ["C1", "C2"]  # nearest first; C3 is 2.2 km away
    assert got[0]["distance_m"] < got[1]["distance_m"] < 300
    r = await client.get(f"{API}/geo/cameras", params={"near": "north"}, headers=d)
    assert r.status_code == 422 and r.json()["field"] == "near"
    r = await client.get(f"{API}/geo/cameras", params={"near": "22.54,114.05", "radius": 99999}, headers=d)
    assert r.status_code == 422
