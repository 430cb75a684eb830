"""辅助指挥 through the API: road-nearest units on the real Futian network, and dispatch in one call."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.test_incident_loop import create_incident
from tests.conftest import World
from zhihui.dispatch.models import Unit
from zhihui.dispatch.recommend import default_graph_path

API = "/api/v1"
pytestmark = pytest.mark.skipif(default_graph_path() is None,
                                reason="../shared/data/shenzhen_futian_drive.graphml is not available")

# 深南大道 is divided: the incident is on the eastbound carriageway; unit A is across the median (nearer in
# a straight line), unit B a few metres further back on the same carriageway.
INCIDENT = (22.539784, 114.026183)
ACROSS_MEDIAN = (22.540065, 114.026129)
SAME_SIDE = (22.539724, 114.025831)


async def _place_units(app: Any, world: World) -> tuple[int, int]:
    async with app.state.db.tx() as session:
        a = Unit(call_sign="深南巡A", name="A", type="patrol", status="available", lat=ACROSS_MEDIAN[0],
                 lon=ACROSS_MEDIAN[1])
        b = Unit(call_sign="深南巡B", name="B", type="patrol", status="available", lat=SAME_SIDE[0],
                 lon=SAME_SIDE[1])
        session.add_all([a, b])
        await session.flush()
        return a.id, b.id


async def test_road_nearest_beats_straight_line(app: Any, client: httpx.AsyncClient, world: World) -> None:
    a, b = await _place_units(app, world)
    inc = await create_incident(client, world, lat=INCIDENT[0], lon=INCIDENT[1], category_code="02")
    r = await client.get(f"{API}/incidents/{inc['id']}/recommendations", params={"k": 3},
                         headers=world.headers["dispatcher"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["method"] == "road" and body["types"] == ["patrol"]
    units = body["units"]
    assert [u["unit_id"] for u in units[:2]] == [b, a]
    first, second = units[0], units[1]
    assert first["straight_line_m"] > second["straight_line_m"]  # A is nearer as the crow flies...
    assert first["eta_s"] < 10 < 120 < second["eta_s"]  # ...but must turn round at 福田立交
    assert "福田立交" in second["streets"] and len(second["route"]) > 2
    assert all(u["status"] == "ok" for u in units)
    # Only available units of the wanted type are offered.
    r = await client.get(f"{API}/incidents/{inc['id']}/recommendations", params={"type": "fire"},
                         headers=world.headers["dispatcher"])
    assert r.json()["units"] == []


async def test_dispatch_the_recommended_unit_in_one_call(app: Any, client: httpx.AsyncClient, world: World) -> None:
    _a, b = await _place_units(app, world)
    inc = await create_incident(client, world, lat=INCIDENT[0], lon=INCIDENT[1], category_code="02")
    r = await client.post(f"{API}/incidents/{inc['id']}/dispatch", json={"recommended": 1},
                          headers=world.headers["dispatcher"])
    assert r.status_code == 201, r.text
    [instr] = r.json()
    assert instr["unit_id"] == b and instr["unit_call_sign"] == "深南巡B"
    # B is busy now: the next recommendation no longer offers it.
    r = await client.get(f"{API}/incidents/{inc['id']}/recommendations", headers=world.headers["dispatcher"])
    assert b not in [u["unit_id"] for u in r.json()["units"]]


async def test_recommendation_errors(client: httpx.AsyncClient, world: World) -> None:
    h = world.headers["dispatcher"]
    no_place = await create_incident(client, world, lat=None, lon=None)
    r = await client.get(f"{API}/incidents/{no_place['id']}/recommendations", headers=h)
    assert r.status_code == 409 and r.json()["code"] == "no_location"
    r = await client.post(f"{API}/incidents/{no_place['id']}/dispatch", json={"unit_ids": [1], "recommended": 1},
                          headers=h)
    assert r.status_code == 422
    r = await client.get(f"{API}/incidents/{no_place['id']}/recommendations", params={"type": "tank"}, headers=h)
    assert r.status_code == 422
    r = await client.get(f"{API}/incidents/{no_place['id']}/recommendations", headers=world.headers["officer"])
    assert r.status_code == 403


async def test_incident_outside_the_road_graph_falls_back_to_straight_line(
        app: Any, client: httpx.AsyncClient, world: World) -> None:
    await _place_units(app, world)
    # 2.7 km from the nearest road of the Futian extract: a road ETA from there would be fiction.
    inc = await create_incident(client, world, lat=22.52846, lon=114.065035)
    r = await client.get(f"{API}/incidents/{inc['id']}/recommendations", headers=world.headers["dispatcher"])
    body = r.json()
    assert body["method"] == "straight_line"
    dists = [u["straight_line_m"] for u in body["units"]]
    assert dists == sorted(dists) and all(u["eta_s"] is None for u in body["units"])
