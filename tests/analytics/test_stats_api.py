"""警情统计 and 处警时效 KPIs from the platform's own timelines, on a sandbox clock so every duration is exact."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import openpyxl
import pytest

from tests.conftest import World, incident_body, make_world
from zhihui.api.app import create_app

BJ_DAY = datetime(2026, 3, 2, 0, 0, tzinfo=UTC) - timedelta(hours=8)  # 2026-03-02 00:00 Beijing time
START = BJ_DAY - timedelta(days=365)  # the sandbox starts a year earlier, for 同比


@pytest.fixture
async def sb(settings: Any) -> Any:
    app = create_app(replace(settings, sandbox=True, sandbox_start=START), background=False)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
            yield c, await make_world(app, c)


async def _at(c: httpx.AsyncClient, w: World, at: datetime) -> None:
    r = await c.put("/api/v1/sandbox/clock", json={"now": at.isoformat()}, headers=w.headers["admin"])
    assert r.status_code == 200, r.text


async def _call(c: httpx.AsyncClient, w: World, key: str, **body: Any) -> dict[str, Any]:
    r = await c.post("/api/v1/incidents", json=incident_body(**body),
                     headers={**w.headers["call_taker"], "Idempotency-Key": f"stats-test-{key}"})
    assert r.status_code == 201, r.text
    return r.json()


async def _world_of_calls(c: httpx.AsyncClient, w: World) -> None:
    h = w.headers
    # A year earlier (同比) and the day before (环比): one 治安 call each.
    await _call(c, w, "yoy", category_code="0201")
    await _at(c, w, BJ_DAY - timedelta(hours=3))
    await _call(c, w, "mom", category_code="0201")
    # The day itself, 09:00 Beijing: a fight dispatched after 60 s, signed 30 s later, on scene 300 s later.
    t0 = BJ_DAY + timedelta(hours=9)
    await _at(c, w, t0)
    fight = await _call(c, w, "a", category_code="0201")
    await _at(c, w, t0 + timedelta(seconds=60))
    (order,) = (await c.post(f"/api/v1/incidents/{fight['id']}/dispatch", json={"unit_ids": [w.units["福田巡01"]]},
                             headers=h["dispatcher"])).json()
    await _at(c, w, t0 + timedelta(seconds=90))
    assert (await c.post(f"/api/v1/instructions/{order['id']}/acknowledge", headers=h["officer"])).status_code == 200
    for secs, status in ((100, "en_route"), (390, "on_scene"), (900, "handled")):
        await _at(c, w, t0 + timedelta(seconds=secs))
        r = await c.post(f"/api/v1/instructions/{order['id']}/status", json={"status": status}, headers=h["officer"])
        assert r.status_code == 200, r.text
    r = await c.post(f"/api/v1/instructions/{order['id']}/feedback",
                     json={"result_code": "mediated", "text": "双方已调解"}, headers=h["officer"])
    assert r.status_code == 200, r.text
    await _at(c, w, t0 + timedelta(seconds=1200))
    r = await c.post(f"/api/v1/incidents/{fight['id']}/close", json={"result": "调解结案"}, headers=h["commander"])
    assert r.status_code == 200, r.text
    # 21:00: a crash (dispatched after 120 s, never signed: overdue) and shop noise diverted to 12345.
    t1 = BJ_DAY + timedelta(hours=21)
    await _at(c, w, t1)
    crash = await _call(c, w, "b", category_code="04", caller_phone="13900139000")
    await _at(c, w, t1 + timedelta(seconds=120))
    r = await c.post(f"/api/v1/incidents/{crash['id']}/dispatch", json={"unit_ids": [w.units["福田巡02"]]},
                     headers=h["dispatcher"])
    assert r.status_code == 201, r.text
    noise = await _call(c, w, "c", category_code="020803", caller_phone="13700137000",
                        description="楼下商铺音响太吵")
    r = await c.post(f"/api/v1/incidents/{noise['id']}/divert", json={"note": "转12345"}, headers=h["call_taker"])
    assert r.status_code == 200, r.text
    # A repeat caller merged into the crash is not an incident of its own.
    again = await _call(c, w, "d", category_code="04", caller_phone="13600136000")
    r = await c.post(f"/api/v1/incidents/{again['id']}/merge", json={"into_id": crash["id"]}, headers=h["call_taker"])
    assert r.status_code == 200, r.text
    await _at(c, w, BJ_DAY + timedelta(days=1, hours=3))  # the sign-off deadline has long passed


async def test_statistics_with_mom_and_yoy(sb: Any) -> None:
    c, w = sb
    await _world_of_calls(c, w)
    day = {"since": BJ_DAY.isoformat(), "until": (BJ_DAY + timedelta(days=1)).isoformat()}
    r = await c.get("/api/v1/analytics/stats", params={**day, "by": "category"}, headers=w.headers["leader"])
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["total"] == 3 and out["previous_total"] == 1 and out["year_before_total"] == 1
    assert out["mom_change"] == 2.0 and out["yoy_change"] == 2.0
    by_key = {g["key"]: g for g in out["groups"]}
    assert by_key["02"]["count"] == 2 and by_key["02"]["previous"] == 1 and by_key["02"]["mom_change"] == 1.0
    assert by_key["04"]["count"] == 1 and by_key["04"]["year_before"] == 0 and by_key["04"]["yoy_change"] is None
    assert by_key["02"]["label"] == "治安"
    r = await c.get("/api/v1/analytics/stats", params={**day, "by": "category", "police_only": "true"},
                    headers=w.headers["analyst"])
    assert r.json()["total"] == 2
    r = await c.get("/api/v1/analytics/stats", params={**day, "by": "hour"}, headers=w.headers["leader"])
    assert [(g["key"], g["count"]) for g in r.json()["groups"]] == [("09", 1), ("21", 2)]
    r = await c.get("/api/v1/analytics/stats", params={**day, "by": "category", "format": "csv"},
                    headers=w.headers["leader"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("key,label,count") and any(line.startswith("02,治安,2") for line in lines)
    r = await c.get("/api/v1/analytics/stats", params={**day, "by": "category", "format": "xlsx"},
                    headers=w.headers["leader"])
    assert r.status_code == 200 and "spreadsheetml" in r.headers["content-type"]
    assert 'filename="stats-category.xlsx"' in r.headers["content-disposition"]
    sheet = openpyxl.load_workbook(io.BytesIO(r.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:3] == ("key", "label", "count") and ("02", "治安", 2) in [row[:3] for row in rows[1:]]


async def test_kpis_from_the_timelines(sb: Any) -> None:
    c, w = sb
    await _world_of_calls(c, w)
    day = {"since": BJ_DAY.isoformat(), "until": (BJ_DAY + timedelta(days=1)).isoformat()}
    r = await c.get("/api/v1/analytics/kpis", params=day, headers=w.headers["leader"])
    assert r.status_code == 200, r.text
    (g,) = r.json()["groups"]
    assert g["answer_to_dispatch"] == {"n": 2, "p50_s": 90.0, "p90_s": 114.0}  # 60 s and 120 s
    assert g["dispatch_to_sign"] == {"n": 1, "p50_s": 30.0, "p90_s": 30.0}
    assert g["sign_to_arrival"] == {"n": 1, "p50_s": 300.0, "p90_s": 300.0}
    assert g["received_to_arrival"]["p50_s"] == 390.0
    assert g["orders"] == 2 and g["sign_overdue"] == 1 and g["feedback_on_time_rate"] == 1.0
    assert g["incidents"] == 3 and g["closure_rate"] == 0.5 and g["diversion_share"] == pytest.approx(1 / 3, abs=1e-4)
    r = await c.get("/api/v1/analytics/kpis", params={**day, "by": "shift"}, headers=w.headers["leader"])
    shifts = {g["group"]: g for g in r.json()["groups"]}
    assert shifts["day"]["answer_to_dispatch"]["p50_s"] == 60.0 and shifts["night"]["sign_overdue"] == 1
    r = await c.get("/api/v1/analytics/kpis", params={**day, "by": "unit"}, headers=w.headers["leader"])
    assert {g["group"] for g in r.json()["groups"]} == {"福田巡01", "福田巡02"}


async def test_analytics_access_and_bad_input(sb: Any) -> None:
    c, w = sb
    r = await c.get("/api/v1/analytics/stats", headers=w.headers["officer"])
    assert r.status_code == 403
    r = await c.get("/api/v1/analytics/stats", params={"by": "planet"}, headers=w.headers["leader"])
    assert r.status_code == 422 and "by" in r.text
    r = await c.get("/api/v1/analytics/kpis", params={"since": "2026-03-02T00:00:00"}, headers=w.headers["leader"])
    assert r.status_code == 422 and "since" in r.text
    r = await c.get("/api/v1/analytics/kpis", params={"since": "2026-03-02T00:00:00+08:00",
                                                     "until": "2026-03-01T00:00:00+08:00"}, headers=w.headers["leader"])
    assert r.status_code == 422 and "until" in r.text
    two_years = {"since": "2024-01-01T00:00:00+08:00", "until": "2026-03-01T00:00:00+08:00"}
    r = await c.get("/api/v1/analytics/stats", params=two_years, headers=w.headers["leader"])
    assert r.status_code == 422 and "since" in r.text
    r = await c.get("/api/v1/analytics/stats", headers=w.headers["leader"])  # default: yesterday
    assert r.status_code == 200 and r.json()["total"] == 0


async def test_four_colour_warnings_over_the_platforms_incidents(client: httpx.AsyncClient, world: World) -> None:
    """Twelve quiet weeks of one fight a week, then nine in a week: the week is graded red or orange,
    explained with its numbers, and a countermeasure names the peak hours."""
    week = datetime(2026, 3, 2, tzinfo=UTC) - timedelta(hours=8)  # Monday 00:00 Beijing time
    n = 0
    for k in range(1, 13):
        n += 1
        at = week - timedelta(weeks=k) + timedelta(days=2, hours=21)  # Wednesdays, 21:00 Beijing
        r = await client.post("/api/v1/incidents", json=incident_body(category_code="0201", received_at=at.isoformat(),
                                                                      caller_phone=f"1380000{n:04d}"),
                              headers={**world.headers["call_taker"], "Idempotency-Key": f"warn-test-{n}"})
        assert r.status_code == 201, r.text
    for k in range(9):
        n += 1
        at = week + timedelta(days=k % 5, hours=13, minutes=k)
        r = await client.post("/api/v1/incidents", json=incident_body(category_code="0201", received_at=at.isoformat(),
                                                                      caller_phone=f"1380000{n:04d}"),
                              headers={**world.headers["call_taker"], "Idempotency-Key": f"warn-test-{n}"})
        assert r.status_code == 201, r.text
    r = await client.get("/api/v1/analytics/warnings", params={"week": (week + timedelta(days=3)).isoformat()},
                         headers=world.headers["leader"])
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["week_start"].startswith("2026-03-01T16:00")
    (w,) = [w for w in out["warnings"] if w["category"] == "治安"]
    assert w["observed"] == 9 and w["level"] in ("orange", "red") and w["ratio"] > 3
    assert "9" in w["reason_zh"] and w["p_value"] < 0.01
    assert out["summary"]["by_level"][w["level"]] == 1
    # The four-hour patrol window holding every earlier fight (21:00), the earliest such window.
    assert any("治安" in c and "18–22 时" in c for c in out["countermeasures"]), out["countermeasures"]
    r = await client.get("/api/v1/analytics/warnings", params={"week": "2026-03-02T00:00:00"},
                         headers=world.headers["leader"])
    assert r.status_code == 422 and "week" in r.text


async def test_warnings_on_a_young_installation_say_so(sb: Any) -> None:
    """Two weeks of history is too little for a baseline: an explained empty answer, never a 500."""
    c, w = sb
    await _at(c, w, BJ_DAY - timedelta(days=10))
    await _call(c, w, "young-1", category_code="0201")
    await _at(c, w, BJ_DAY - timedelta(days=3))
    await _call(c, w, "young-2", category_code="0201")
    await _at(c, w, BJ_DAY + timedelta(days=1))
    r = await c.get("/api/v1/analytics/warnings", headers=w.headers["analyst"])
    assert r.status_code == 200, r.text
    assert r.json()["warnings"] == [] and "历史数据不足" in r.json()["note"]
