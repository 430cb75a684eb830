"""The live demo: the real server on a socket plus the simulated command centre, compressed in time."""

from __future__ import annotations

import logging
import os
import random
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.conftest import _pg_admin, pg_url
from zhihui.core.config import load_settings, sqlite_url
from zhihui.core.store import Database
from zhihui.dispatch.models import Unit
from zhihui.geo.coords import haversine_m
from zhihui.incidents.categories import Category, CategoryTree, categories
from zhihui.incidents.models import Incident
from zhihui.instructions.models import Instruction
from zhihui.sim.demo import LAT_RANGE, LON_RANGE, DemoCity, Simulator, run_async

RUN_SECONDS = 25
RESTART_SECONDS = 15


def test_demo_city_makes_valid_calls() -> None:
    tree = categories()
    city = DemoCity(tree, random.Random(3))
    calls = [city.call() for _ in range(400)]
    streets = tuple(city.street_names())
    assert streets
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
    def node(code: str, units: tuple[str, ...]) -> Category:
        return Category(code=code, name=code, en=code, level=2, urgent=False, police=True, units=units,
                        parent=code[:-2] or None)

    # A small tree of its own, so the rule is tested whatever the shipped category data says.
    tree = CategoryTree({c.code: c for c in (node("05", ("fire",)), node("0501", ()), node("09", ()))})
    sim = Simulator("http://unused", 1.0, seed=1, tree=tree)
    assert sim.wanted_types("0501") == ("fire",)  # inherited from the parent category
    incident = {"category_code": "0501", "lat": 22.54, "lon": 114.05}
    patrol_close = {"id": 1, "type": "patrol", "lat": 22.5401, "lon": 114.0501}
    fire_far = {"id": 2, "type": "fire", "lat": 22.55, "lon": 114.06}
    fire_near = {"id": 3, "type": "fire", "lat": 22.545, "lon": 114.055}
    # A suitable type beats a closer patrol car; among suitable units the nearest wins.
    assert sim.choose_unit(incident, [patrol_close, fire_far, fire_near]) == fire_near
    # No suitable type free: the nearest patrol car goes.
    incident = {"category_code": "0901", "lat": 22.531, "lon": 114.041}
    patrol_near = {"id": 5, "type": "patrol", "lat": 22.53, "lon": 114.04}
    patrol_far = {"id": 6, "type": "patrol", "lat": 22.55, "lon": 114.08}
    foot_here = {"id": 4, "type": "foot", "lat": 22.531, "lon": 114.041}
    assert sim.choose_unit(incident, [foot_here, patrol_far, patrol_near]) == patrol_near
    # No car at all: a foot patrol goes, but only to what is within walking range.
    foot_near = {"id": 7, "type": "foot", "lat": 22.535, "lon": 114.041}
    foot_far = {"id": 8, "type": "foot", "lat": 22.555, "lon": 114.085}
    assert haversine_m(22.535, 114.041, 22.531, 114.041) < 1000
    assert sim.choose_unit(incident, [foot_far, foot_near]) == foot_near
    assert sim.choose_unit(incident, [foot_far]) is None
    assert sim.choose_unit(incident, []) is None


async def test_demo_runs_the_whole_incident_loop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 caplog: pytest.LogCaptureFixture, backend: str) -> None:
    monkeypatch.setenv("ZHIHUI_SECRET_FILE", str(tmp_path / "secret.key"))
    monkeypatch.delenv("ZHIHUI_SECRET_KEY", raising=False)
    if backend == "postgresql":
        # The same many-actor loop on the production store (a fresh, empty database).
        name = f"zhihui_demo_{os.getpid()}"
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}"')
        await _pg_admin(f'CREATE DATABASE "{name}"')
        url = pg_url(name)
    else:
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
            async def count(stmt: Any) -> int:
                return int((await session.execute(stmt)).scalar_one())

            created = await count(select(func.count()).select_from(Incident))
            dispatched = await count(select(func.count()).where(Incident.dispatched_at.is_not(None)))
            signed = await count(select(func.count()).where(Instruction.signed_at.is_not(None)))
            feedback = await count(select(func.count()).where(Instruction.feedback_at.is_not(None),
                                                              Instruction.result_code.is_not(None)))
            closed = await count(select(func.count()).where(Incident.status == "closed"))
            diverted = await count(select(func.count()).where(Incident.status == "diverted"))
            moved = await count(select(func.count()).where(Unit.position_at.is_not(None)))
            by_call_taker = await count(select(func.count()).where(Incident.seat == "JJ-01"))
            open_stmt = select(Instruction.id).where(Instruction.status.not_in(["feedback", "cancelled"]))
            left_open = set((await session.execute(open_stmt)).scalars())
    finally:
        await db.dispose()

    assert created >= 10, created
    assert by_call_taker == created  # every call came through the call taker's seat over HTTP
    assert dispatched >= 1 and signed >= 1 and feedback >= 1 and closed >= 1, (dispatched, signed, feedback,
                                                                               closed)
    assert diverted >= 1
    assert moved >= 1  # units reported positions while driving to the scene
    assert _errors(caplog) == []
    summary = next(r.getMessage() for r in caplog.records if "demo summary" in r.getMessage())
    analysed = re.search(r"analysed=(\d+)", summary)
    assert analysed and int(analysed.group(1)) >= created  # the call taker ran 智能接警 on every call

    # A restart on the same database (what `zhihui demo` does after Ctrl-C): seeding is skipped and
    # the crews finish the orders the first run left half-done. No new calls this time.
    caplog.clear()
    rc = await run_async(settings, "127.0.0.1", 0, rate_per_min=0, minutes=RESTART_SECONDS / 60, speed=100,
                         seed=2027, log_config=None, show_banner=False)
    assert rc == 0
    db = Database(url)
    try:
        async with db.read() as session:
            incidents_after = (await session.execute(select(func.count()).select_from(Incident))).scalar_one()
            finished = (await session.execute(select(func.count()).where(
                Instruction.id.in_(left_open), Instruction.status == "feedback"))).scalar_one()
    finally:
        await db.dispose()
    assert incidents_after == created
    if left_open:
        assert finished >= 1, left_open
    if backend == "postgresql":
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    assert any("already present" in r.getMessage() for r in caplog.records)
    assert _errors(caplog) == []


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [f"{r.name}: {r.getMessage()}" for r in caplog.records if r.levelno >= logging.ERROR]
