"""A sandbox server runs on a simulated clock that only the simulator (an admin) moves forward."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import World, incident_body, make_world
from zhihui.api.app import create_app
from zhihui.core import clock

START = datetime(2026, 3, 2, 0, 30, tzinfo=UTC)  # 08:30 in Beijing, long before the wall clock


@pytest.fixture
async def sandbox_app(settings: Any) -> Any:
    application = create_app(replace(settings, sandbox=True, sandbox_start=START), background=False)
    async with application.router.lifespan_context(application):
        yield application
    assert clock.sim_clock() is None, "the wall clock is back after shutdown"


@pytest.fixture
async def sandbox_client(sandbox_app: Any) -> Any:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox_app), base_url="http://test") as c:
        yield c


@pytest.fixture
async def sandbox_world(sandbox_app: Any, sandbox_client: httpx.AsyncClient) -> World:
    return await make_world(sandbox_app, sandbox_client)


async def test_timeline_follows_the_simulated_clock(sandbox_client: httpx.AsyncClient, sandbox_world: World) -> None:
    h = sandbox_world.headers
    r = await sandbox_client.get("/api/v1/sandbox/clock", headers=h["dispatcher"])
    assert r.status_code == 200 and datetime.fromisoformat(r.json()["now"]) == START
    # Tokens were issued in simulated time (long ago by the wall clock) and still work.
    r = await sandbox_client.post("/api/v1/incidents", json=incident_body(), headers={**h["call_taker"],
                                  "Idempotency-Key": "sandbox-1"})
    assert r.status_code == 201, r.text
    incident = r.json()
    assert datetime.fromisoformat(incident["received_at"]) == START
    assert "20260302" in incident["number"]  # numbered by the simulated Beijing day

    later = START + timedelta(minutes=7, seconds=30)
    r = await sandbox_client.put("/api/v1/sandbox/clock", json={"now": later.isoformat()}, headers=h["admin"])
    assert r.status_code == 200, r.text
    r = await sandbox_client.post(f"/api/v1/incidents/{incident['id']}/dispatch",
                                  json={"unit_ids": [sandbox_world.units["福田巡01"]]}, headers=h["dispatcher"])
    assert r.status_code == 201, r.text
    r = await sandbox_client.get(f"/api/v1/incidents/{incident['id']}", headers=h["dispatcher"])
    assert datetime.fromisoformat(r.json()["dispatched_at"]) == later


async def test_clock_moves_forward_only_and_only_for_admins(sandbox_client: httpx.AsyncClient,
                                                            sandbox_world: World) -> None:
    h = sandbox_world.headers
    r = await sandbox_client.put("/api/v1/sandbox/clock", json={"now": (START + timedelta(hours=1)).isoformat()},
                                 headers=h["dispatcher"])
    assert r.status_code == 403
    r = await sandbox_client.put("/api/v1/sandbox/clock", json={"now": (START - timedelta(seconds=1)).isoformat()},
                                 headers=h["admin"])
    assert r.status_code == 409 and r.json()["state"] == START.isoformat()
    r = await sandbox_client.put("/api/v1/sandbox/clock", json={"now": "2026-03-02T09:00:00"}, headers=h["admin"])
    assert r.status_code == 422 and "now" in r.text


async def test_passing_a_deadline_escalates_at_once(sandbox_client: httpx.AsyncClient, sandbox_world: World) -> None:
    h = sandbox_world.headers
    r = await sandbox_client.post("/api/v1/incidents", json=incident_body(), headers={**h["call_taker"],
                                  "Idempotency-Key": "sandbox-2"})
    iid = r.json()["id"]
    r = await sandbox_client.post(f"/api/v1/incidents/{iid}/dispatch",
                                  json={"unit_ids": [sandbox_world.units["福田巡02"]]}, headers=h["dispatcher"])
    assert r.status_code == 201, r.text
    r = await sandbox_client.put("/api/v1/sandbox/clock", json={"now": (START + timedelta(hours=3)).isoformat()},
                                 headers=h["admin"])
    assert r.status_code == 200 and r.json()["escalated"] >= 1
    # Three simulated hours later the logons still hold: tokens age on the wall clock, not the sandbox's.
    r = await sandbox_client.get(f"/api/v1/incidents/{iid}", headers=h["dispatcher"])
    (instr,) = r.json()["instructions"]
    assert instr["sign_overdue"] and instr["feedback_overdue"]


async def test_a_production_server_has_no_clock_route(client: httpx.AsyncClient, world: World) -> None:
    r = await client.put("/api/v1/sandbox/clock", json={"now": "2030-01-01T00:00:00+08:00"},
                         headers=world.headers["admin"])
    assert r.status_code == 404
    assert clock.sim_clock() is None
