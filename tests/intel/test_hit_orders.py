"""Hits that got no order: a record too old for one (历史比中) and a place no station covers (无责任单位). The
analyst sends a 核查指令 for either to a chosen station (研判下发); the station signs and answers it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.parquet as pq

from tests.conftest import PASSWORD, World
from zhihui.core.audit import AuditRecord
from zhihui.core.auth import Actor, Role, create_user
from zhihui.core.orgs import Org
from zhihui.intel import schema, service
from zhihui.intel.persons import PersonIn, create_person


async def test_analyst_sends_an_order_for_a_hit_that_got_none(app: Any, client: httpx.AsyncClient, world: World,
                                                              tmp_path: Path) -> None:
    h = world.headers
    async with app.state.db.tx() as session:
        org = Org(code="440304540000", name="莲花派出所", kind="station")
        session.add(org)
        await session.flush()
        await create_user(session, username="lh-mj", password=PASSWORD, role=Role.OFFICER, org_id=org.id)
        await create_person(session, Actor(None, "t", "analyst"), PersonIn(
            name="李四", id_number="440304199001011233", category="在逃", plates=["粤B99999"]))
        org_id = org.id
    now = datetime.now(UTC).replace(microsecond=0)
    base = {"source": "checkpoint_pass", "batch_id": "b1", "plate": "粤B99999", "venue_code": "KK01",
            "venue_name": "莲花路卡口", "lat": 22.55, "lon": 114.06}
    rows = [{**base, "record_id": "old", "at": now - timedelta(days=20), "org_code": "440304540000"},
            {**base, "record_id": "nowhere", "at": now - timedelta(hours=1), "org_code": None}]
    table = pa.Table.from_pylist([{f.name: r.get(f.name) for f in schema.ACTIVITY} for r in rows],
                                 schema=schema.ACTIVITY)
    pq.write_table(table, tmp_path / "cp.parquet")
    out = await service.run_collision(app.state.db, app.state.settings, Actor(None, "t", "analyst"),
                                      activity=[tmp_path / "cp.parquet"])
    assert out.instructions == 0 and out.historical > 0
    hits = (await client.get("/api/v1/intel/hits", params={"purpose": "比中研判复核"}, headers=h["analyst"])).json()
    by_record = {x["record_id"]: x for x in hits if x["rule_code"] == "FUGITIVE_ANY"}
    old, nowhere = by_record["old"], by_record["nowhere"]
    assert old["status"] == "historical" and nowhere["status"] == "no_station"
    assert old["instruction_id"] is None and nowhere["instruction_id"] is None

    url = "/api/v1/intel/hits/{}/instruct"
    r = await client.post(url.format(old["id"]), json={"org_id": org_id, "note": "疑仍在辖区落脚，请走访旅馆"},
                          headers=h["analyst"])
    assert r.status_code == 201, r.text
    sent = r.json()
    assert sent["status"] == "instructed" and sent["instruction_id"] and sent["org_id"] == org_id
    r = await client.post(url.format(nowhere["id"]), json={"org_id": org_id, "feedback_minutes": 120},
                          headers=h["analyst"])
    assert r.status_code == 201 and r.json()["org_id"] == org_id, r.text
    placed = r.json()
    # Once only; a station that does not exist, a hit that does not exist, a desk that may not: refused.
    r = await client.post(url.format(old["id"]), json={"org_id": org_id}, headers=h["analyst"])
    assert r.status_code == 409, r.text
    r = await client.post(url.format(nowhere["id"] + 1000), json={"org_id": org_id}, headers=h["analyst"])
    assert r.status_code == 404
    fresh = next(x for x in hits if x["instruction_id"] is None and x["id"] not in (old["id"], nowhere["id"]))
    r = await client.post(url.format(fresh["id"]), json={"org_id": 999999}, headers=h["analyst"])
    assert r.status_code == 422 and r.json()["field"] == "org_id"
    r = await client.post(url.format(fresh["id"]), json={"org_id": org_id}, headers=h["call_taker"])
    assert r.status_code == 403

    # The station sees both orders, signs and answers the one about the old sighting.
    tok = await client.post("/api/v1/auth/token", data={"username": "lh-mj", "password": PASSWORD})
    station = {"Authorization": f"Bearer {tok.json()['access_token']}"}
    orders = (await client.get("/api/v1/instructions", params={"kind": "verify"}, headers=station)).json()
    mine = {o["id"]: o for o in orders}
    order = mine[sent["instruction_id"]]
    assert "研判下发" in order["content"] and "莲花路卡口" in order["content"] and "请走访旅馆" in order["content"]
    assert order["urgent"]  # the fugitive rule is urgent
    other = mine[placed["instruction_id"]]
    given = datetime.fromisoformat(other["feedback_deadline"]) - datetime.fromisoformat(other["issued_at"])
    assert abs(given - timedelta(minutes=120)) < timedelta(seconds=5)
    assert (await client.post(f"/api/v1/instructions/{order['id']}/acknowledge", headers=station)).status_code == 200
    r = await client.post(f"/api/v1/instructions/{order['id']}/feedback",
                          json={"result_code": "verified_absent", "text": "旅馆走访未见其人"}, headers=station)
    assert r.status_code == 200 and r.json()["status"] == "feedback", r.text
    async with app.state.db.read() as session:
        from sqlalchemy import select

        acts = [a for (a,) in (await session.execute(select(AuditRecord.action))).all()]
    assert acts.count("collision.instruct") == 2
