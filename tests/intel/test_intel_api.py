"""/intel: key persons and leads through the API; audited look-ups; a lead's 核查指令 signed and answered
by the station it went to."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from tests.conftest import PASSWORD, World
from zhihui.core.audit import AuditRecord
from zhihui.core.auth import Role, create_user
from zhihui.core.orgs import Org

ZHANG = {"name": "章三", "id_number": "440304199001011233", "category": "在逃", "control_level": "一级",
         "phones": ["+86 138-0013-8001"], "plates": ["粤b·12345"], "addresses": ["深圳市福田区福华路1号"]}


async def _station(app: Any, client: httpx.AsyncClient) -> tuple[int, dict[str, str]]:
    """A 派出所 and one of its officers (no unit: answers for the station), logged in."""
    async with app.state.db.tx() as session:
        org = Org(code="440304510000", name="福田派出所", kind="station")
        session.add(org)
        await session.flush()
        await create_user(session, username="fts-mj", password=PASSWORD, role=Role.OFFICER, org_id=org.id)
        org_id = org.id
    r = await client.post("/api/v1/auth/token", data={"username": "fts-mj", "password": PASSWORD})
    assert r.status_code == 200, r.text
    return org_id, {"Authorization": f"Bearer {r.json()['access_token']}"}


async def test_key_persons_are_normalised_and_every_look_up_is_audited(app: Any, client: httpx.AsyncClient,
                                                                       world: World) -> None:
    h = world.headers
    org_id, _ = await _station(app, client)
    r = await client.post("/api/v1/intel/persons", json={**ZHANG, "org_id": org_id}, headers=h["analyst"])
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["phones"] == ["13800138001"] and p["plates"] == ["粤B12345"]
    assert p["birth_date"] == "1990-01-01" and p["sex"] == "M" and p["hukou_code"] == "440304"
    assert p["org_name"] == "福田派出所"
    # The same person on the same list twice is refused, naming the field.
    r = await client.post("/api/v1/intel/persons", json=ZHANG, headers=h["analyst"])
    assert r.status_code == 422 and r.json()["field"] == "id_number"
    # A wrong check digit, an unreadable phone and an unknown category each name their field.
    for patch, field in (({"id_number": "440304199001011234"}, "id_number"),
                         ({"phones": ["12"], "category": "吸毒人员"}, "phones.0"), ({"category": "好人"}, "category")):
        r = await client.post("/api/v1/intel/persons", json={**ZHANG, **patch}, headers=h["analyst"])
        assert r.status_code == 422, r.text
        assert field in r.text
    # Look-ups need a purpose, and are logged with it.
    r = await client.get(f"/api/v1/intel/persons/{p['id']}", headers=h["analyst"])
    assert r.status_code == 422 and "purpose" in r.text
    r = await client.get(f"/api/v1/intel/persons/{p['id']}", params={"purpose": "核查在逃人员线索"},
                         headers=h["commander"])
    assert r.status_code == 200 and r.json()["name"] == "章三"
    # Search is pinyin-aware (张三 finds 章三) and by phone or plate.
    for q in ("张三", "13800138001", "粤B12345", "440304199001011233"):
        r = await client.get("/api/v1/intel/persons", params={"purpose": "日常研判比对", "q": q}, headers=h["analyst"])
        assert r.status_code == 200 and [x["id"] for x in r.json()] == [p["id"]], q
    r = await client.get("/api/v1/intel/persons/99999", params={"purpose": "核查在逃人员线索"}, headers=h["analyst"])
    assert r.status_code == 404
    r = await client.get("/api/v1/intel/persons", params={"purpose": "日常研判比对"}, headers=h["call_taker"])
    assert r.status_code == 403
    async with app.state.db.read() as session:
        rows = list((await session.execute(select(AuditRecord).where(AuditRecord.action.in_(
            ("person.view", "person.search"))).order_by(AuditRecord.id))).scalars())
    views = [x for x in rows if x.action == "person.view"]
    assert [(x.username, x.detail["purpose"], x.outcome) for x in views] == [
        ("commander", "核查在逃人员线索", "success"), ("analyst", "核查在逃人员线索", "not_found")]
    searches = [x for x in rows if x.action == "person.search"]
    assert len(searches) == 4 and all(x.detail["returned"] == [p["id"]] for x in searches)
    # Archiving (撤管) takes the person off the active list.
    r = await client.patch(f"/api/v1/intel/persons/{p['id']}", json={"status": "archived"}, headers=h["analyst"])
    assert r.status_code == 200 and r.json()["status"] == "archived"
    r = await client.get("/api/v1/intel/persons", params={"purpose": "日常研判比对", "q": "张三"}, headers=h["analyst"])
    assert r.json() == []


async def test_a_lead_becomes_a_verification_order_the_station_answers(app: Any, client: httpx.AsyncClient,
                                                                      world: World) -> None:
    h = world.headers
    org_id, station = await _station(app, client)
    person = (await client.post("/api/v1/intel/persons", json=ZHANG, headers=h["analyst"])).json()
    r = await client.post("/api/v1/intel/leads", json={
        "source": "群众举报", "credibility": "B", "title": "疑似在逃人员出没", "content": "有群众称在福华路见到章三",
        "person_ids": [person["id"]], "places": [{"name": "福华路", "lat": 22.54, "lon": 114.05}]},
        headers=h["analyst"])
    assert r.status_code == 201, r.text
    lead = r.json()
    r = await client.post("/api/v1/intel/leads", json={"source": "群众举报", "title": "x线索", "content": "内容",
                                                       "person_ids": [424242]}, headers=h["analyst"])
    assert r.status_code == 422 and r.json()["field"] == "person_ids.0"
    r = await client.post(f"/api/v1/intel/leads/{lead['id']}/verify", json={"org_id": org_id}, headers=h["analyst"])
    assert r.status_code == 201, r.text
    order = r.json()["instruction"]
    assert r.json()["lead"]["status"] == "verifying" and order["kind"] == "verify" and order["org_id"] == org_id
    assert order["unit_id"] is None and "疑似在逃人员出没" in order["content"]
    # The station's officer sees it, signs it and answers it; an officer of another unit may not.
    mine = (await client.get("/api/v1/instructions", headers=station)).json()
    assert [o["id"] for o in mine] == [order["id"]]
    r = await client.post(f"/api/v1/instructions/{order['id']}/acknowledge", headers=h["officer"])
    assert r.status_code == 403
    r = await client.post(f"/api/v1/instructions/{order['id']}/acknowledge", headers=station)
    assert r.status_code == 200 and r.json()["status"] == "signed"
    r = await client.post(f"/api/v1/instructions/{order['id']}/feedback",
                          json={"result_code": "verified_absent", "text": "到场核查，未见该人"}, headers=station)
    assert r.status_code == 200 and r.json()["status"] == "feedback"
    r = await client.post(f"/api/v1/intel/leads/{lead['id']}/status", json={"status": "dismissed", "note": "未见"},
                          headers=h["analyst"])
    assert r.status_code == 200 and r.json()["status"] == "dismissed"
