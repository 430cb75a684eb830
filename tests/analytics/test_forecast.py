"""警情热点与预测 on the platform's own incidents: the methods, their backtest, and GET /analytics/hotspots."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import incident_body, make_world
from zhihui.analytics import forecast
from zhihui.api.app import create_app

HOT = (22.5405, 114.0553)  # a block of Futian that keeps reporting
START = date(2026, 3, 2)


def _utc(d: date, hour: float) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC) - timedelta(hours=8) + timedelta(hours=hour)


def _history(seed: int = 7, weeks: int = 10) -> list[tuple[float, float, datetime]]:
    rng = random.Random(seed)
    rows = []
    for day in range(weeks * 7):
        d = START - timedelta(days=weeks * 7 - day)
        for _ in range(3):  # the hot block, scattered within ~60 m
            lat, lon = HOT[0] + rng.uniform(-5e-4, 5e-4), HOT[1] + rng.uniform(-5e-4, 5e-4)
            rows.append((lat, lon, _utc(d, rng.uniform(0, 24))))
        # background over ~5 km
        rows.append((22.52 + rng.uniform(0, 0.05), 114.02 + rng.uniform(0, 0.06), _utc(d, rng.uniform(0, 24))))
    return rows


@pytest.mark.parametrize("method", forecast.METHODS)
def test_each_method_finds_the_hot_block_and_scores_itself(method: str) -> None:
    out = forecast.forecast(forecast.frame(_history()), START, method=method, coverage=0.01)
    top = out.cells[0]
    assert abs(top["lat"] - HOT[0]) < 0.002 and abs(top["lon"] - HOT[1]) < 0.002
    assert top["rank"] == 1 and top["recent_28d"] >= 28 * 3 * 0.5
    assert [c["rank"] for c in out.cells] == list(range(1, len(out.cells) + 1))
    assert all(a["score"] >= b["score"] for a, b in zip(out.cells, out.cells[1:], strict=False))
    bt = out.backtest
    # 3 of every 4 incidents are in the hot block: at 1 % coverage the backtest must see most of them.
    assert bt["events"] == 28 and bt["hit_rate"] >= 0.6 and bt["pai"] > 30
    ring = top["ring"]
    assert len(ring) == 5 and ring[0] == ring[-1]
    # A 150 m cell is about 0.00146° of latitude tall.
    assert max(p[1] for p in ring) - min(p[1] for p in ring) == pytest.approx(150 / 111_000, rel=0.05)


def test_only_the_past_is_used() -> None:
    rows = _history()
    future = [(22.56, 114.07, _utc(START + timedelta(days=1), 12))] * 200  # a burst after START
    a = forecast.forecast(forecast.frame(rows), START)
    b = forecast.forecast(forecast.frame(rows + future), START)
    assert a.cells == b.cells and a.backtest == b.backtest


def test_no_data_and_bad_arguments() -> None:
    out = forecast.forecast(forecast.frame([]), START)
    assert out.cells == [] and out.geojson()["features"] == [] and out.backtest["hit_rate"] is None
    with pytest.raises(ValueError, match="method"):
        forecast.forecast(forecast.frame(_history()), START, method="magic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="coverage"):
        forecast.forecast(forecast.frame(_history()), START, coverage=0)


def test_beijing_day_boundaries() -> None:
    # 23:30 Beijing on 1 March is 15:30 UTC: it is 1 March's incident, not 2 March's.
    day, hour = forecast.local_day_hour([_utc(date(2026, 3, 1), 23.5)])
    assert int(day[0]) == (date(2026, 3, 1) - date(1970, 1, 1)).days and int(hour[0]) == 23


@pytest.fixture
async def sb(settings: Any) -> Any:
    app = create_app(replace(settings, sandbox=True, sandbox_start=_utc(START - timedelta(days=21), 8)),
                     background=False)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
            yield c, await make_world(app, c)


async def test_hotspots_api(sb: Any) -> None:
    c, w = sb
    rng = random.Random(3)
    n = 0
    for day in range(21):
        d = START - timedelta(days=21 - day)
        r = await c.put("/api/v1/sandbox/clock", json={"now": _utc(d, 10).isoformat()}, headers=w.headers["admin"])
        assert r.status_code == 200, r.text
        spots = [HOT, (22.53 + rng.uniform(0, 0.03), 114.03 + rng.uniform(0, 0.04))]
        for i, (lat, lon) in enumerate(spots):
            body = incident_body(lat=lat + rng.uniform(-3e-4, 3e-4), lon=lon + rng.uniform(-3e-4, 3e-4),
                                 category_code="0201" if i == 0 else "04", caller_phone=f"1390000{n:04d}")
            r = await c.post("/api/v1/incidents", json=body,
                             headers={**w.headers["call_taker"], "Idempotency-Key": f"hotspot-test-{n}"})
            assert r.status_code == 201, r.text
            n += 1
    r = await c.put("/api/v1/sandbox/clock", json={"now": _utc(START, 9).isoformat()}, headers=w.headers["admin"])
    params = {"method": "kde", "coverage": "0.02"}
    r = await c.get("/api/v1/analytics/hotspots", params=params, headers=w.headers["analyst"])
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["type"] == "FeatureCollection" and out["start"] == START.isoformat() and out["method"] == "kde"
    top = out["features"][0]
    assert top["geometry"]["type"] == "Polygon" and top["properties"]["rank"] == 1
    assert abs(top["properties"]["lat"] - HOT[0]) < 0.002 and abs(top["properties"]["lon"] - HOT[1]) < 0.002
    assert out["n_events_used"] == 42 and out["backtest"]["events"] == 14
    # Category filter: the traffic incidents (04) are scattered, so the hot block is not their top cell.
    r = await c.get("/api/v1/analytics/hotspots", params={**params, "category": "04"}, headers=w.headers["leader"])
    assert r.status_code == 200 and r.json()["n_events_used"] == 21
    top04 = r.json()["features"][0]["properties"]
    assert not (abs(top04["lat"] - HOT[0]) < 0.001 and abs(top04["lon"] - HOT[1]) < 0.001)
    # Roles and validation.
    r = await c.get("/api/v1/analytics/hotspots", headers=w.headers["call_taker"])
    assert r.status_code == 403
    r = await c.get("/api/v1/analytics/hotspots", params={"method": "magic"}, headers=w.headers["analyst"])
    assert r.status_code == 422 and "method" in r.text
    r = await c.get("/api/v1/analytics/hotspots", params={"coverage": "2"}, headers=w.headers["analyst"])
    assert r.status_code == 422 and "coverage" in r.text
