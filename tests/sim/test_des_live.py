"""The discrete-event simulator drives a live sandbox server over HTTP, in simulated time."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from zhihui.core.clock import SHANGHAI
from zhihui.dispatch.recommend import default_graph_path
from zhihui.geo.roads import load_graphml
from zhihui.sim.callgen import generate_calls
from zhihui.sim.seed import DEMO_PASSWORD
from zhihui.sim.study import run_one

GRAPH = default_graph_path()
pytestmark = pytest.mark.skipif(GRAPH is None or not GRAPH.exists(),
                                reason="../shared/data/shenzhen_futian_drive.graphml is missing")
# 19:00 in Beijing: the evening peak, and the foot patrols' shift ends at 20:00 inside the window.
START = datetime(2026, 3, 6, 19, 0, tzinfo=SHANGHAI)
HOURS = 2.0


@pytest.fixture(scope="module")
def graph() -> Any:
    return load_graphml(GRAPH)


async def test_a_simulated_evening_through_the_api(db_url: str, graph: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = generate_calls(seed=5, start=START, hours=HOURS, calls_per_day=400)
    seen: dict[str, Any] = {}
    import zhihui.sim.study as study

    real_read = study.read_timeline

    async def keep_base(base: str, org_names: dict[int, str], *a: Any, **kw: Any) -> Any:
        # Read the server's own records while it is still up, as an auditor would.
        async with httpx.AsyncClient(base_url=base + "/api/v1", timeout=30) as c:
            tok = (await c.post("/auth/token", data={"username": "admin", "password": DEMO_PASSWORD})).json()
            h = {"Authorization": f"Bearer {tok['access_token']}"}
            seen["incidents"] = (await c.get("/incidents", params={"limit": 1000}, headers=h)).json()
            seen["units"] = (await c.get("/units", headers=h)).json()
            seen["tracks"] = {u["id"]: (await c.get(f"/units/{u['id']}/track", headers=h)).json()
                              for u in seen["units"]}
            seen["clock"] = (await c.get("/sandbox/clock", headers=h)).json()
        return await real_read(base, org_names, *a, **kw)

    monkeypatch.setattr(study, "read_timeline", keep_base)
    run = await run_one(calls, graph, policy="road", units_per_station=3, start=START, hours=HOURS, seed=5,
                        url=db_url)

    # Every call went to the server, at its simulated time to the microsecond.
    first_callers = {c.event_id: c for c in calls if c.caller_index == 0}
    by_phone = {c.body["caller_phone"]: c for c in calls}
    assert len(seen["incidents"]) == len(calls)
    for i in seen["incidents"]:
        call = by_phone[i["caller_phone"]]
        assert datetime.fromisoformat(i["received_at"]) == call.at
    # Repeat callers were merged into the first caller's incident; non-police calls went to 12345.
    statuses = {i["status"] for i in seen["incidents"]}
    assert "merged" in statuses or all(c.caller_index == 0 for c in calls)
    assert sum(i["status"] == "diverted" for i in seen["incidents"]) == sum(
        1 for c in first_callers.values() if not c.police)
    # The clock ended at the end of the window.
    assert datetime.fromisoformat(seen["clock"]["now"]) >= START + timedelta(hours=HOURS)

    # The study's figures come from the server's timeline and are consistent.
    incidents = run["incidents"]
    arrived = [i for i in incidents if i["arrival_s"] is not None]
    assert len(incidents) >= 20 and len(arrived) >= 0.8 * len(incidents)
    for i in arrived:
        assert 0 < i["dispatch_s"] < i["arrival_s"] < (HOURS + 3) * 3600
        assert i["drive_s"] == pytest.approx(i["arrival_s"] - i["dispatch_s"])
    assert all(i["jurisdiction"] for i in incidents)  # every call lies in a station's 辖区

    # Units drove along roads (several fixes per trip) and the foot patrols went off at 20:00.
    moved = [t for t in seen["tracks"].values() if len(t) >= 5]
    assert len(moved) >= 5
    foot = [u for u in seen["units"] if u["type"] == "foot"]
    assert foot and all(u["status"] == "off_duty" for u in foot)
    util = [u["busy_s"] / u["on_duty_s"] for u in run["units"] if u["on_duty_s"] > 0]
    assert max(util) > 0.2 and all(0 <= x <= 1.0 + 1e-9 for x in util)
    assert run["stats"]["feedback"] >= 0.5 * len(arrived)
