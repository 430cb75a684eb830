"""The intelligence loop end to end: key persons on the lists, an activity file uploaded, batch collision
on the batch, each new hit a live 核查指令 to the station responsible for the place, signed and answered
there; runs deduplicate; the tactics answer over the same data; the twice-daily schedule."""

from __future__ import annotations

import asyncio
import csv
import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select, update

from tests.conftest import PASSWORD, World
from tests.intel.test_ingest import PLACES
from zhihui.api.app import create_app
from zhihui.core.auth import Actor, Role, create_user
from zhihui.core.orgs import Org, forget_jurisdictions
from zhihui.intel import persons, service
from zhihui.intel.models import CollisionRun, KeyPerson
from zhihui.sim.population import generate_population, write_population

AREA = {"type": "Polygon", "coordinates": [[[114.0, 22.5], [114.07, 22.5], [114.07, 22.56], [114.0, 22.56],
                                            [114.0, 22.5]]]}


# Two days ending two hours ago: hits on records this recent become orders (older ones are 历史比中, see
# below), and none lies in the future (ingest quarantines those).
START = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=50)
# The population is generated from a fixed start, then moved to START: which stays fall inside two days (and so
# which have a companion) depends on the hour the days begin, and a run at the wrong hour had none.
_GEN_START = datetime(2026, 11, 28, 16, tzinfo=UTC)


def _population() -> Any:
    pop = generate_population(PLACES, seed=7, n_persons=300, days=2, start=_GEN_START)
    shift = START - _GEN_START

    def moved(a: Any) -> Any:
        detail = dict(a.detail)
        if detail.get("checkout"):
            detail["checkout"] = (date.fromisoformat(detail["checkout"]) + timedelta(days=shift.days)).isoformat()
        return replace(a, at=a.at + shift, detail=detail)

    pop.activities = [moved(a) for a in pop.activities]
    return pop


async def _setup(app: Any, client: httpx.AsyncClient, tmp_path: Path) -> tuple[int, dict[str, str], Path, list]:
    pop = _population()
    write_population(pop, tmp_path)
    async with app.state.db.tx() as session:
        org = Org(code="440304520000", name="测试派出所", kind="station", boundary=AREA, lat=22.53, lon=114.03)
        session.add(org)
        await session.flush()
        await create_user(session, username="cs-mj", password=PASSWORD, role=Role.OFFICER, org_id=org.id)
        n = await persons.import_sim_persons(session, Actor(None, "test", "analyst"), tmp_path / "persons.csv")
        org_id = org.id
    forget_jurisdictions(app.state.db)
    assert n > 0
    r = await client.post("/api/v1/auth/token", data={"username": "cs-mj", "password": PASSWORD})
    return org_id, {"Authorization": f"Bearer {r.json()['access_token']}"}, tmp_path / "activities.csv", pop.persons


async def test_upload_collide_instruct_answer(app: Any, client: httpx.AsyncClient, world: World,
                                              tmp_path: Path) -> None:
    h = world.headers
    org_id, station, activities, people = await _setup(app, client, tmp_path)
    tagged = {p.id_number for p in people if p.tags}
    with activities.open(encoding="utf-8") as fh:
        seen = {r["id_number"] for r in csv.DictReader(fh) if r["id_number"]}
    expected_people = tagged & seen  # listed persons who left an ID-registered record
    assert expected_people, "the generated population must put some listed persons in hotels or cafés"
    with activities.open("rb") as fh:
        r = await client.post("/api/v1/intel/ingest", files={"file": ("activities.csv", fh, "text/csv")},
                              data={"mapping": "sim_activities"}, headers=h["analyst"])
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["rows_quarantined"] == 0 and out["rows_ok"] == out["rows_in"] > 0
    col = out["collision"]
    assert col["hits"] > 0 and col["new_hits"] == col["hits"] and col["instructions"] > 0
    r = await client.get("/api/v1/intel/hits", params={"purpose": "比对碰撞结果核查"}, headers=h["analyst"])
    hits = r.json()
    assert len(hits) == col["hits"]
    assert all(x["org_id"] == org_id and x["status"] == "instructed" and x["instruction_id"] for x in hits)
    assert all(x["rule_name"] for x in hits)
    # Every listed person with an ID-registered record is hit on the exact key (the plate rule adds others).
    async with app.state.db.read() as session:
        listed = dict((await session.execute(select(KeyPerson.id, KeyPerson.id_number))).all())
    hit_ids = {listed[x["person_id"]] for x in hits if x["match_type"] == "exact_id"}
    # Only rules whose list × source fits fire (e.g. 盗窃前科 in a hotel is not a rule), so a subset of them.
    assert hit_ids and hit_ids <= expected_people
    # The station sees the orders, signs one and answers it within the deadline.
    orders = (await client.get("/api/v1/instructions", params={"kind": "verify"}, headers=station)).json()
    warnings = (await client.get("/api/v1/instructions", params={"kind": "warning"}, headers=station)).json()
    assert orders and len(orders) + len(warnings) == col["instructions"]  # 预警: the plate rule only informs
    first = orders[-1]
    assert first["org_id"] == org_id and "比对碰撞" in first["content"]
    assert (await client.post(f"/api/v1/instructions/{first['id']}/acknowledge", headers=station)).status_code == 200
    r = await client.post(f"/api/v1/instructions/{first['id']}/feedback",
                          json={"result_code": "verified_present", "text": "已到场核查，人员在住"}, headers=station)
    assert r.status_code == 200 and r.json()["status"] == "feedback"
    # Uploading the same file again is recognised; a manual run finds the same hits and sends nothing new.
    with activities.open("rb") as fh:
        again = (await client.post("/api/v1/intel/ingest", files={"file": ("activities.csv", fh, "text/csv")},
                                   data={"mapping": "sim_activities"}, headers=h["analyst"])).json()
    assert again["already_ingested"] and "collision" not in again
    r = await client.post("/api/v1/intel/collisions/run", json={}, headers=h["analyst"])
    assert r.status_code == 201, r.text
    assert r.json()["hits"] == col["hits"] and r.json()["new_hits"] == 0 and r.json()["instructions"] == 0
    runs = (await client.get("/api/v1/intel/collisions/runs", headers=h["leader"])).json()
    assert [x["trigger"] for x in runs] == ["manual", "ingest"]
    # Tactics over the same data: one hit person's trajectory, and their home region's activity.
    hit = next(x for x in hits if x["match_type"] == "exact_id")
    person = (await client.get(f"/api/v1/intel/persons/{hit['person_id']}", params={"purpose": "轨迹研判"},
                               headers=h["analyst"])).json()
    r = await client.get("/api/v1/intel/trajectory", params={"purpose": "轨迹研判", "id_number": person["id_number"]},
                         headers=h["analyst"])
    assert r.status_code == 200, r.text
    pts = r.json()["points"]
    assert pts and all(p["id_number"] == person["id_number"] for p in pts)
    assert [p["at"] for p in pts] == sorted(p["at"] for p in pts)
    r = await client.get("/api/v1/intel/origin", params={
        "purpose": "高危地区人员检索", "prefixes": person["id_number"][:4],
        "since": (START - timedelta(days=1)).isoformat(), "until": (START + timedelta(days=4)).isoformat()},
        headers=h["analyst"])
    assert r.status_code == 200 and r.json()["rows"], r.text
    # Co-presence around two of the person's own records (as if they were two cases): they are found.
    cases = [{"case_id": f"c{i}", "at": p["at"], "lat": p["lat"], "lon": p["lon"]} for i, p in enumerate(pts[:2])]
    if len(cases) == 2:
        r = await client.post("/api/v1/intel/co-presence", json={"purpose": "串并研判", "cases": cases,
                                                                 "dt_minutes": 30, "dd_m": 200, "k": 2},
                              headers=h["analyst"])
        assert r.status_code == 200, r.text
        assert person["id_number"] in {x["entity"] for x in r.json()["results"]}
    # Bad input names the field; a call-taker may not run the tactics.
    r = await client.get("/api/v1/intel/trajectory", params={"purpose": "轨迹研判", "plate": "xx"},
                         headers=h["analyst"])
    assert r.status_code == 422 and r.json()["field"] == "plate"
    r = await client.post("/api/v1/intel/collisions/run", json={}, headers=h["call_taker"])
    assert r.status_code == 403
    r = await client.get("/api/v1/intel/trajectory", params={
        "purpose": "轨迹研判", "id_number": person["id_number"], "since": "2026-02-01T00:00:00+08:00",
        "until": "2026-01-01T00:00:00+08:00"}, headers=h["analyst"])
    assert r.status_code == 422 and r.json()["field"] == "until"
    # The client never sees server paths; the quarantine (none here) downloads as CSV.
    assert "paths" not in out
    r = await client.get(f"/api/v1/intel/batches/{out['batch_id']}/quarantine.csv", headers=h["analyst"])
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    r = await client.get("/api/v1/intel/batches/nope/quarantine.csv", headers=h["analyst"])
    assert r.status_code == 404


async def test_the_twice_daily_schedule(app: Any, client: httpx.AsyncClient, world: World, tmp_path: Path) -> None:
    assert service.last_slot(datetime(2026, 3, 2, 1, 0, tzinfo=UTC), ("08:00", "20:00")) == \
        datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # 09:00 Beijing → the 08:00 slot
    assert service.last_slot(datetime(2026, 3, 1, 23, 0, tzinfo=UTC), ("08:00", "20:00")) == \
        datetime(2026, 3, 1, 12, 0, tzinfo=UTC)  # 07:00 Beijing → yesterday's 20:00
    settings = app.state.settings
    assert await service.scheduled_collision(app.state.db, settings) is None  # no lists, no data: no run
    _org_id, _station, activities, _people = await _setup(app, client, tmp_path)
    assert await service.scheduled_collision(app.state.db, settings) is None  # lists, but no data yet
    with activities.open("rb") as fh:
        r = await client.post("/api/v1/intel/ingest", files={"file": ("activities.csv", fh, "text/csv")},
                              data={"mapping": "sim_activities", "collide": "false"}, headers=world.headers["analyst"])
    assert r.status_code == 201, r.text
    if app.state.db.dialect == "postgresql":  # another worker holds the slot: this one skips it
        from sqlalchemy import text

        async with app.state.db.engine.connect() as other:
            await other.execute(text(f"SELECT pg_advisory_lock({service.SCHEDULE_LOCK})"))
            assert await service.scheduled_collision(app.state.db, settings) is None
            await other.execute(text(f"SELECT pg_advisory_unlock({service.SCHEDULE_LOCK})"))
    # Two timers at once in one process: one runs the slot, the other skips it.
    both = await asyncio.gather(service.scheduled_collision(app.state.db, settings),
                                service.scheduled_collision(app.state.db, settings))
    assert sorted(x is None for x in both) == [False, True]
    # the scheduled run reads all activity: it built the key index first, and the index covers every file
    from zhihui.intel import keyindex

    st = keyindex.status(service.activity_dir(settings))
    assert st["built"] and st["files"] > 0 and st["files_outside"] == 0, st
    async with app.state.db.tx() as session:  # make that run a manual one: the app's own timer must run the slot
        await session.execute(update(CollisionRun).where(CollisionRun.trigger == "schedule").values(trigger="manual"))
    # The app's own timer (background on) runs the slot that is due, once, and its hits become orders.
    live = create_app(settings, background=True)
    async with live.router.lifespan_context(live):
        for _ in range(600):
            async with app.state.db.read() as session:
                runs = (await session.execute(select(CollisionRun).where(CollisionRun.trigger == "schedule")
                                              .where(CollisionRun.finished_at.is_not(None)))).scalars().all()
            if runs:
                break
            await asyncio.sleep(0.1)
    assert len(runs) == 1 and runs[0].hits > 0 and runs[0].new_hits == 0  # the hits are known from the first run
    assert await service.scheduled_collision(app.state.db, settings) is None  # once per slot


async def test_one_order_per_record_however_many_rules_hit_it(app: Any, client: httpx.AsyncClient, world: World,
                                                              tmp_path: Path) -> None:
    """A fugitive's car at a checkpoint meets 在逃人员全量比对 and the plate rule: one urgent 核查指令, not two;
    another listed person's car meets only the plate rule, which informs: a 预警指令."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from zhihui.intel import schema
    from zhihui.intel.persons import PersonIn, create_person

    async with app.state.db.tx() as session:
        org = Org(code="440304530000", name="卡口派出所", kind="station")
        session.add(org)
        await session.flush()
        await create_person(session, Actor(None, "t", "analyst"), PersonIn(
            name="李四", id_number="440304199001011233", category="在逃", plates=["粤B99999"]))
        await create_person(session, Actor(None, "t", "analyst"), PersonIn(
            name="王五", id_number="110101198001010010", category="吸毒人员", plates=["粤B88888"]))
        org_id = org.id
    now = datetime.now(UTC).replace(microsecond=0)
    at = now - timedelta(hours=2)
    # cp-old: the fugitive's car a month ago, older than FUGITIVE_ANY's within_hours (a week).
    rows = [{"record_id": f"cp-{i}", "source": "checkpoint_pass", "batch_id": "b1", "at": t, "plate": plate,
             "venue_code": "KK01", "venue_name": "深南大道卡口", "lat": 22.54, "lon": 114.05,
             "org_code": "440304530000"}
            for i, plate, t in ((0, "粤B99999", at), (1, "粤B88888", at), (2, "粤B00000", at),
                                ("old", "粤B99999", now - timedelta(days=30)))]
    table = pa.Table.from_pylist([{f.name: r.get(f.name) for f in schema.ACTIVITY} for r in rows],
                                 schema=schema.ACTIVITY)
    path = tmp_path / "cp.parquet"
    pq.write_table(table, path)
    out = await service.run_collision(app.state.db, app.state.settings, Actor(None, "t", "analyst"),
                                      activity=[path])
    r = await client.get("/api/v1/intel/hits", params={"purpose": "卡口比中核查"}, headers=world.headers["analyst"])
    by_record: dict[str, list[dict]] = {}
    for h in r.json():
        by_record.setdefault(h["record_id"], []).append(h)
    # A month-old sighting is kept for the analyst (历史比中) and sends no order.
    old = by_record.pop("cp-old")
    assert old and all(h["status"] == "historical" and h["instruction_id"] is None for h in old)
    assert out.historical == len(old) and out.new_hits == out.hits
    fugitive = by_record["cp-0"]
    assert {h["rule_code"] for h in fugitive} >= {"FUGITIVE_ANY", "KEY_PLATE_CHECKPOINT"}
    assert len({h["instruction_id"] for h in fugitive}) == 1 and "cp-2" not in by_record
    assert out.instructions == len({h["instruction_id"] for hs in by_record.values() for h in hs})
    order = (await client.get(f"/api/v1/instructions/{fugitive[0]['instruction_id']}",
                              headers=world.headers["analyst"])).json()
    assert order["urgent"] and order["org_id"] == org_id and "在逃人员全量比对" in order["content"]
    assert order["kind"] == "verify"
    # A drug user's car at the same checkpoint only meets the plate rule, which informs: a 预警指令.
    (user_hit,) = by_record["cp-1"]
    warning = (await client.get(f"/api/v1/instructions/{user_hit['instruction_id']}",
                                headers=world.headers["analyst"])).json()
    assert warning["kind"] == "warning" and not warning["urgent"] and "签收知悉" in warning["content"]


async def test_relation_graph_over_the_ingested_activity(app: Any, client: httpx.AsyncClient, world: World,
                                                         tmp_path: Path) -> None:
    """关系人员倒查: companions registered in one room become co-stay relations; paths and sightings follow."""
    h = world.headers
    _org_id, _station, activities, _people = await _setup(app, client, tmp_path)
    with activities.open("rb") as fh:
        r = await client.post("/api/v1/intel/ingest", files={"file": ("activities.csv", fh, "text/csv")},
                              data={"mapping": "sim_activities", "collide": "false"}, headers=h["analyst"])
    assert r.status_code == 201 and "collision" not in r.json(), r.text
    with activities.open(encoding="utf-8") as fh:
        pair = next((r["id_number"], json.loads(r["detail"])["with"]) for r in csv.DictReader(fh)
                    if r["kind"] == "hotel_checkin" and json.loads(r["detail"]).get("with"))
    a, b = pair
    q = {"purpose": "关系人员倒查研判"}
    r = await client.get("/api/v1/intel/graph/neighbourhood", params={**q, "person": a, "k": 1}, headers=h["analyst"])
    assert r.status_code == 200, r.text
    g = r.json()
    assert g["center"] == a and b in {n["id"] for n in g["nodes"]}
    assert any(e["kind"] == "co_stay" for e in g["edges"])
    # The co-stay's evidence reads back as the two check-ins of one room.
    stay = next(e for e in g["edges"] if e["kind"] == "co_stay")
    r = await client.get("/api/v1/intel/records", params={**q, "ids": ",".join(stay["evidence"])}, headers=h["analyst"])
    assert r.status_code == 200, r.text
    recs = r.json()["records"]
    assert len(recs) == len(stay["evidence"]) and not r.json()["missing"]
    assert {x["source"] for x in recs} == {"hotel_checkin"} and len({(x["venue_code"], x["room"]) for x in recs}) == 1
    r = await client.get("/api/v1/intel/records", params={**q, "ids": ",".join(f"r{i}" for i in range(101))},
                         headers=h["analyst"])
    assert r.status_code == 422 and r.json()["field"] == "ids"
    r = await client.get("/api/v1/intel/graph/path", params={**q, "a": a, "b": b}, headers=h["analyst"])
    assert r.status_code == 200 and r.json()["found"] and r.json()["nodes"][0] == a and r.json()["nodes"][-1] == b
    assert r.json()["steps"][0][0]["kind"] == "co_stay"
    r = await client.get("/api/v1/intel/graph/associates-seen", params={**q, "person": a, "days": 365},
                         headers=h["analyst"])
    assert r.status_code == 200, r.text
    seen = r.json()["sightings"]
    assert seen and any(s["key"] == b for s in seen)
    assert [s["at"] for s in seen] == sorted((s["at"] for s in seen), reverse=True)
    r = await client.get("/api/v1/intel/graph/neighbourhood", params={**q, "person": "nobody"}, headers=h["analyst"])
    assert r.status_code == 422 and r.json()["field"] == "person"
    # A readable ID with no relation at all: an empty answer, not an error.
    loner = "11010519491231002X"
    r = await client.get("/api/v1/intel/graph/neighbourhood", params={**q, "person": loner}, headers=h["analyst"])
    assert r.status_code == 200 and r.json()["total"] == 0 and r.json()["nodes"][0]["id"] == loner, r.text
    r = await client.get("/api/v1/intel/graph/path", params={**q, "a": a, "b": loner}, headers=h["analyst"])
    assert r.status_code == 200 and r.json()["found"] is False
    r = await client.get("/api/v1/intel/graph/associates-seen", params={**q, "person": loner}, headers=h["analyst"])
    assert r.status_code == 200 and r.json()["sightings"] == []
    r = await client.get("/api/v1/intel/graph/neighbourhood", params={**q, "person": a, "kinds": "magic"},
                         headers=h["analyst"])
    assert r.status_code == 422 and r.json()["field"] == "kinds"


async def test_recorded_relations_in_the_graph(app: Any, client: httpx.AsyncClient, world: World) -> None:
    """亲属/同案 from files: recorded by an analyst, drawn in the graph (no activity needed), a duplicate refused,
    withdrawn with a reason (the graph forgets it, the record stays); bad input names the field."""
    h = world.headers
    father, son, partner = "11010519491231002X", "110105197501010018", "440304198001010017"
    q = {"purpose": "亲属关系研判"}
    r = await client.get("/api/v1/intel/graph/neighbourhood", params={**q, "person": son}, headers=h["analyst"])
    assert r.status_code == 422 and r.json()["field"] == "activity"  # nothing at all to draw yet
    r = await client.post("/api/v1/intel/relations", json={"a": son, "b": father, "kind": "family", "detail": "父子",
                                                           "source": "户籍信息"}, headers=h["analyst"])
    assert r.status_code == 201, r.text
    fam = r.json()
    assert (fam["a"], fam["b"]) == tuple(sorted((son, father)))
    r = await client.post("/api/v1/intel/relations", json={"a": son, "b": partner, "kind": "co_offending",
                                                           "detail": "（2024）粤0304刑初123号"}, headers=h["analyst"])
    assert r.status_code == 201, r.text
    r = await client.post("/api/v1/intel/relations", json={"a": father, "b": son, "kind": "family"},
                          headers=h["analyst"])
    assert r.status_code == 409, r.text
    for body, field in (({"a": son, "b": son, "kind": "family"}, "b"),
                        ({"a": "nobody", "b": son, "kind": "family"}, "a"),
                        ({"a": son, "b": father, "kind": "co_stay"}, "kind")):
        r = await client.post("/api/v1/intel/relations", json=body, headers=h["analyst"])
        assert r.status_code == 422, r.text
        assert (r.json().get("field") or r.json()["detail"][0]["field"]) == field
    r = await client.post("/api/v1/intel/relations", json={"a": son, "b": father, "kind": "family"},
                          headers=h["leader"])
    assert r.status_code == 403  # leaders read, analysts record
    r = await client.get("/api/v1/intel/graph/neighbourhood", params={**q, "person": father, "k": 2},
                         headers=h["analyst"])
    assert r.status_code == 200, r.text
    g = r.json()
    assert {n["id"]: n["hops"] for n in g["nodes"]} == {father: 0, son: 1, partner: 2}
    assert {e["kind"] for e in g["edges"]} == {"family", "co_offending"}
    assert any("父子" in x for e in g["edges"] for x in e["evidence"])
    r = await client.get("/api/v1/intel/relations", params={**q, "person": son}, headers=h["leader"])
    assert r.status_code == 200 and len(r.json()) == 2
    r = await client.post(f"/api/v1/intel/relations/{fam['id']}/withdraw", json={"reason": "户籍核实非亲属"},
                          headers=h["analyst"])
    assert r.status_code == 200 and r.json()["withdrawn_at"], r.text
    r = await client.get("/api/v1/intel/graph/neighbourhood", params={**q, "person": son}, headers=h["analyst"])
    assert {n["id"] for n in r.json()["nodes"]} == {son, partner}
    r = await client.get("/api/v1/intel/relations", params={**q, "person": son, "withdrawn": "true"},
                         headers=h["analyst"])
    assert [x["withdrawn_reason"] for x in r.json()] == ["户籍核实非亲属", None]
    # Recorded again after the withdrawal: active once more.
    r = await client.post("/api/v1/intel/relations", json={"a": son, "b": father, "kind": "family", "detail": "父子"},
                          headers=h["analyst"])
    assert r.status_code == 201 and r.json()["id"] == fam["id"] and r.json()["withdrawn_at"] is None
