"""AVL: positions kept as a time-ordered track, batches, and GCJ-02/BD-09 input stored as WGS-84."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.api.test_incident_loop import create_incident
from tests.conftest import World
from zhihui.geo.coords import haversine_m, wgs84_to_bd09, wgs84_to_gcj02

API = "/api/v1"
WGS = (22.5405, 114.0553)  # 深南大道, Futian


async def test_batch_positions_form_a_track(client: httpx.AsyncClient, world: World) -> None:
    h = world.headers["dispatcher"]
    u1, u2 = world.units["福田巡02"], world.units["福田巡03"]
    fixes = [
        {"unit_id": u1, "lat": 22.5410, "lon": 114.0500, "at": "2026-11-23T09:00:10+08:00", "speed_kmh": 32.5},
        {"unit_id": u1, "lat": 22.5400, "lon": 114.0490, "at": "2026-11-23T09:00:00+08:00"},  # late arrival
        {"unit_id": u2, "lat": 22.5300, "lon": 114.0400, "at": "2026-11-23T09:00:05+08:00", "heading": 90},
    ]
    r = await client.post(f"{API}/units/positions", json={"positions": fixes}, headers=h)
    assert r.status_code == 202 and r.json() == {"accepted": 3, "units": 2}
    track = (await client.get(f"{API}/units/{u1}/track", headers=h)).json()
    assert [(p["lat"], p["lon"]) for p in track] == [(22.5400, 114.0490), (22.5410, 114.0500)]  # time order
    assert track[1]["speed_kmh"] == 32.5
    # The unit sits at its newest fix, not at the one that arrived last.
    unit = (await client.get(f"{API}/units/{u1}", headers=h)).json()
    assert (unit["lat"], unit["lon"]) == (22.5410, 114.0500)
    part = (await client.get(f"{API}/units/{u1}/track", params={"since": "2026-11-23T09:00:05+08:00"},
                             headers=h)).json()
    assert len(part) == 1
    # An officer reports only for their own unit; a bad fix names its field.
    r = await client.post(f"{API}/units/positions", json={"positions": fixes}, headers=world.headers["officer"])
    assert r.status_code == 403
    r = await client.post(f"{API}/units/positions", json={"positions": [{**fixes[0], "lat": 91}]}, headers=h)
    assert r.status_code == 422 and "positions.0.lat" in r.json()["detail"][0]["field"]
    r = await client.post(f"{API}/units/positions", json={"positions": []}, headers=h)
    assert r.status_code == 422


@pytest.mark.parametrize("crs", ["gcj02", "bd09"])
async def test_chinese_map_coordinates_are_stored_as_wgs84(client: httpx.AsyncClient, world: World,
                                                           crs: str) -> None:
    shifted = wgs84_to_gcj02(*WGS) if crs == "gcj02" else wgs84_to_bd09(*WGS)
    assert haversine_m(*shifted, *WGS) > 200  # the offset is real (hundreds of metres in Shenzhen)
    inc = await create_incident(client, world, lat=shifted[0], lon=shifted[1], crs=crs)
    assert haversine_m(inc["lat"], inc["lon"], *WGS) < 0.01
    r = await client.put(f"{API}/units/{world.officer_unit}/position",
                         json={"lat": shifted[0], "lon": shifted[1], "crs": crs}, headers=world.headers["officer"])
    assert r.status_code == 200
    assert haversine_m(r.json()["lat"], r.json()["lon"], *WGS) < 0.01


async def test_unknown_crs_is_422(client: httpx.AsyncClient, world: World) -> None:
    r = await client.post(f"{API}/incidents", json={"category_code": "02", "description": "x", "lat": 22.54,
                                                   "lon": 114.05, "crs": "mars"}, headers=world.headers["call_taker"])
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "crs"


async def test_a_fix_from_a_clock_running_ahead_does_not_pin_the_unit(client: httpx.AsyncClient,
                                                                       world: World) -> None:
    """A phone whose clock is an hour fast: its fix is stamped on arrival, so the next honest fix still
    moves the unit."""
    h = world.headers["dispatcher"]
    u = world.units["福田巡02"]
    ahead = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    r = await client.put(f"{API}/units/{u}/position", json={"lat": 22.5410, "lon": 114.0500, "at": ahead}, headers=h)
    assert r.status_code == 200
    assert datetime.fromisoformat(r.json()["position_at"]) <= datetime.now(UTC)
    r = await client.put(f"{API}/units/{u}/position", json={"lat": 22.5420, "lon": 114.0510}, headers=h)
    assert (r.json()["lat"], r.json()["lon"]) == (22.5420, 114.0510)
