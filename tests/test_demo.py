"""The live demo: the real server on a socket plus the simulated command centre, compressed in time."""

from __future__ import annotations

import logging
import random
import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from zhihui.core.config import load_settings, sqlite_url
from zhihui.core.store import Database
from zhihui.dispatch.models import Unit
from zhihui.incidents.categories import categories
from zhihui.incidents.models import Incident
from zhihui.instructions.models import Instruction
from zhihui.sim.demo import LAT_RANGE, LON_RANGE, STREETS, DemoCity, Simulator, distance_m, run_async

RUN_SECONDS = 25


def test_demo_city_makes_valid_calls() -> None:
    tree = categories()
    city = DemoCity(tree, random.Random(3))
    calls = [city.call() for _ in range(400)]
    streets = tuple(s.name for s in STREETS)
    for call in calls:
        body = call.body
        assert re.fullmatch(r"1[3-9]\d{9}", body["caller_phone"])
        assert LAT_RANGE[0] <= body["lat"] <= LAT_RANGE[1] and LON_RANGE[0] <= body["lon"] <= LON_RANGE[1]
        assert re.fullmatch(r"深圳市福田区(" + "|".join(streets) + r")\d+号", body["address"])
        assert body["category_code"] in tree and body["description"]
        assert len(call.idempotency_key) >= 8
    police = sum(1 for c in calls if c.category.police)
    # Mostly police matters, some to divert (when the tree has any non-police category).
    assert police > 0.7 * len(calls)
    if any(not c.police for c in tree.nodes.values()):
        assert police < len(calls)


def test_dispatcher_picks_nearest_suitable_unit_else_patrol() -> None:
    sim = Simulator("http://unused", 1.0, seed=1)
    incident = {"category_code": "05", "lat": 22.54, "lon": 114.05}
    free = [
        {"id": 1, "type": "patrol", "lat": 22.5401, "lon": 114.0501},
        {"id": 2, "type": "fire", "lat": 22.55, "lon": 114.06},
        {"id": 3, "type": "foot", "lat": 22.54, "lon": 114.05},
    ]
    wanted = sim.wanted_types("05")
    chosen = sim.choose_unit(incident, free)
    assert chosen is not None and chosen["type"] in wanted
    # Among suitable types, the nearest wins.
    suitable = [u for u in free if u["type"] in wanted]
    assert chosen == min(suitable, key=lambda u: distance_m(u["lat"], u["lon"], 22.54, 114.05))
    # No suitable type free: the nearest patrol car goes.
    only_other = [{"id": 4, "type": "foot", "lat": 22.54, "lon": 114.05},
                  {"id": 5, "type": "patrol", "lat": 22.53, "lon": 114.04},
                  {"id": 6, "type": "patrol", "lat": 22.55, "lon": 114.08}]
    incident = {"category_code": "0901", "lat": 22.531, "lon": 114.041}
    if "foot" not in sim.wanted_types("0901"):
        assert sim.choose_unit(incident, only_other)["id"] == 5  # type: ignore[index]
    assert sim.choose_unit(incident, []) is None


async def test_demo_runs_the_whole_incident_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("ZHIHUI_SECRET_FILE", str(tmp_path / "secret.key"))
    monkeypatch.delenv("ZHIHUI_SECRET_KEY", raising=False)
    url = sqlite_url(tmp_path / "var" / "demo.db")  # the folder does not exist yet: the demo makes it
    settings = load_settings(database_url=url)
    caplog.set_level(logging.INFO)

    # 90 calls a minute for 25 s, human delays compressed 100×: dozens of calls, each going
    # through sign, drive, on scene, feedback and close within a few seconds.
    rc = await run_async(settings, "127.0.0.1", 0, rate_per_min=90, minutes=RUN_SECONDS / 60, speed=100,
                         seed=2026, log_config=None, show_banner=False)
    assert rc == 0

    db = Database(url)
    try:
        async with db.read() as session:
            async def count(stmt: object) -> int:
                return int((await session.execute(stmt)).scalar_one())  # type: ignore[call-overload]

            created = await count(select(func.count()).select_from(Incident))
            dispatched = await count(select(func.count()).where(Incident.dispatched_at.is_not(None)))
            signed = await count(select(func.count()).where(Instruction.signed_at.is_not(None)))
            feedback = await count(select(func.count()).where(Instruction.feedback_at.is_not(None),
                                                              Instruction.result_code.is_not(None)))
            closed = await count(select(func.count()).where(Incident.status == "closed"))
            diverted = await count(select(func.count()).where(Incident.status == "diverted"))
            moved = await count(select(func.count()).where(Unit.position_at.is_not(None)))
            by_call_taker = await count(select(func.count()).where(Incident.seat == "JJ-01"))
    finally:
        await db.dispose()

    assert created >= 10, created
    assert by_call_taker == created  # every call came through the call taker's seat over HTTP
    assert dispatched >= 1 and signed >= 1 and feedback >= 1 and closed >= 1, (dispatched, signed, feedback,
                                                                               closed)
    assert diverted >= 1
    assert moved >= 1  # units reported positions while driving to the scene
    errors = [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == []
    assert any("demo summary" in r.getMessage() for r in caplog.records)
