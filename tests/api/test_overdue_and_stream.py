"""Deadlines, escalation, 警情清零, and the live event stream with catch-up."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx

from tests.api.test_incident_loop import create_incident
from tests.conftest import World
from zhihui.core.clock import utcnow
from zhihui.incidents import service as incidents
from zhihui.instructions.service import scan_overdue

API = "/api/v1"


async def test_overdue_sign_and_feedback_escalate(app: Any, client: httpx.AsyncClient, world: World) -> None:
    inc = await create_incident(client, world, urgent=True)
    h = world.headers["dispatcher"]
    [instr] = (await client.post(f"{API}/incidents/{inc['id']}/dispatch", json={"unit_ids": [world.officer_unit]},
                                 headers=h)).json()
    assert instr["urgent"] is True
    sign_deadline = instr["sign_deadline"]
    db = app.state.db
    async with db.tx() as session:
        assert await scan_overdue(session, utcnow()) == 0  # nothing late yet
    async with db.tx() as session:
        # Urgent sign-off is 60 s by default: 61 s later it is overdue.
        assert await scan_overdue(session, utcnow() + timedelta(seconds=61)) == 1
    async with db.tx() as session:
        assert await scan_overdue(session, utcnow() + timedelta(seconds=62)) == 0  # escalates once
    got = (await client.get(f"{API}/instructions/{instr['id']}", headers=h)).json()
    assert got["sign_overdue"] is True and got["escalation_level"] == 1 and got["sign_deadline"] == sign_deadline
    overdue = (await client.get(f"{API}/instructions?overdue=true", headers=h)).json()
    assert [i["id"] for i in overdue] == [instr["id"]]
    backlog = (await client.get(f"{API}/incidents/backlog", headers=world.headers["commander"])).json()
    assert [i["id"] for i in backlog] == [inc["id"]]

    await client.post(f"{API}/instructions/{instr['id']}/acknowledge", headers=world.headers["officer"])
    async with db.tx() as session:
        assert await scan_overdue(session, utcnow() + timedelta(hours=1)) == 1  # feedback (30 min urgent)
    detail = (await client.get(f"{API}/incidents/{inc['id']}", headers=h)).json()
    esc = [e for e in detail["events"] if e["type"].endswith("_overdue")]
    assert [e["type"] for e in esc] == ["instruction.sign_overdue", "instruction.feedback_overdue"]
    assert [e["data"]["escalate_to"] for e in esc] == ["dispatcher", "commander"]
    assert esc[0]["user"] == "system"


async def test_backlog_lists_incidents_past_closing_deadline(app: Any, client: httpx.AsyncClient,
                                                             world: World) -> None:
    old = await create_incident(client, world, received_at="2026-01-01T08:00:00+08:00")
    fresh = await create_incident(client, world)
    closed_ok = await create_incident(client, world, received_at="2026-01-01T09:00:00+08:00")
    h = world.headers["call_taker"]
    await client.post(f"{API}/incidents/{closed_ok['id']}/cancel", json={"reason": "报警人称误报"}, headers=h)
    backlog = (await client.get(f"{API}/incidents/backlog", headers=world.headers["leader"])).json()
    ids = [i["id"] for i in backlog]
    assert old["id"] in ids and fresh["id"] not in ids and closed_ok["id"] not in ids
    async with app.state.db.read() as session:
        assert [i.id for i in await incidents.backlog(session, utcnow() + timedelta(days=2))] == [
            old["id"], fresh["id"]]


async def _read_events(client: httpx.AsyncClient, headers: dict[str, str], params: dict[str, Any],
                       want: int, wait_s: float = 10.0) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []

    async def consume() -> None:
        async with client.stream("GET", f"{API}/events", headers=headers, params=params) as r:
            assert r.status_code == 200
            current: dict[str, Any] = {}
            async for line in r.aiter_lines():
                if line.startswith("id: "):
                    current["id"] = int(line[4:])
                elif line.startswith("data: "):
                    current["data"] = json.loads(line[6:])
                elif line == "" and current:
                    if "id" in current:
                        got.append(current["data"])
                    current = {}
                    if len(got) >= want:
                        return

    await asyncio.wait_for(consume(), wait_s)
    return got


async def test_stream_catch_up_and_live(live_client: httpx.AsyncClient, world: World) -> None:
    client = live_client
    h = world.headers["dispatcher"]
    first = await create_incident(client, world)
    second = await create_incident(client, world)
    # Reconnecting after the first event replays everything after it, in order.
    events = await _read_events(client, h, {"after": 0}, want=2)
    assert [e["type"] for e in events] == ["incident.created", "incident.created"]
    assert [e["incident_id"] for e in events] == [first["id"], second["id"]]
    last_id = events[0]["id"]
    replay = await _read_events(client, {**h, "Last-Event-ID": str(last_id)}, {}, want=1)
    assert replay[0]["incident_id"] == second["id"]

    # Live: an event committed while the stream is open arrives.
    async def later() -> None:
        await asyncio.sleep(0.3)
        await client.post(f"{API}/incidents/{second['id']}/dispatch", json={"unit_ids": [world.officer_unit]},
                          headers=h)

    task = asyncio.create_task(later())
    live = await _read_events(client, h, {"access_token": h["Authorization"][7:]}, want=1)
    await task
    assert live[0]["type"] == "instruction.sent" and live[0]["incident_id"] == second["id"]


async def test_positions_stream_live_without_ids(live_client: httpx.AsyncClient, world: World) -> None:
    h = world.headers["dispatcher"]
    unit = world.officer_unit

    async def move() -> None:
        await asyncio.sleep(0.3)
        r = await live_client.put(f"{API}/units/{unit}/position", json={"lat": 22.5412, "lon": 114.0561},
                                  headers=world.headers["officer"])
        assert r.status_code == 200

    async def first_position() -> str:
        async with live_client.stream("GET", f"{API}/events", headers=h) as r:
            block: list[str] = []
            async for line in r.aiter_lines():
                if line:
                    block.append(line)
                    continue
                if any(b == "event: unit.position" for b in block):
                    return "\n".join(block)
                block = []
        raise AssertionError("stream ended")

    task = asyncio.create_task(move())
    frame = await asyncio.wait_for(first_position(), 10)
    await task
    assert not frame.startswith("id:")  # positions are not replayable events
    data = json.loads(frame.split("data: ", 1)[1])
    assert data["unit_id"] == unit and data["lat"] == 22.5412
    got = (await live_client.get(f"{API}/units/{unit}", headers=h)).json()
    assert (got["lat"], got["lon"]) == (22.5412, 114.0561)
