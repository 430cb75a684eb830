"""智能接警 through the HTTP API: /intake/analyze, 12345 hand-offs, merge keeps callers, un-merge."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import World, incident_body

API = "/api/v1"
FIRE_POINT = {"lat": 22.5405, "lon": 114.0553}


async def create(client: httpx.AsyncClient, world: World, **overrides: Any) -> dict[str, Any]:
    r = await client.post(f"{API}/incidents", json=incident_body(**overrides), headers=world.headers["call_taker"])
    assert r.status_code == 201, r.text
    return r.json()


async def analyze(client: httpx.AsyncClient, world: World, **body: Any) -> dict[str, Any]:
    r = await client.post(f"{API}/intake/analyze", json=body, headers=world.headers["call_taker"])
    assert r.status_code == 200, r.text
    return r.json()


async def test_analyze_a_fire_call(client: httpx.AsyncClient, world: World) -> None:
    first = await create(client, world, category_code="0501", description="居民楼三楼起火，有浓烟",
                         caller_phone="13510000001", **FIRE_POINT)
    out = await analyze(client, world, text="我對面那棟樓着火了，好大的煙，三樓窗戶都是火", phone="+86 135 1000 0001",
                        lat=FIRE_POINT["lat"] + 0.0003, lon=FIRE_POINT["lon"])
    assert out["text"]["was_traditional"] and "着火" in out["text"]["text"]
    assert out["phone"]["valid"] and out["phone"]["city"].startswith("深圳")
    cls = out["classification"]
    assert cls["top_category"] == "05" and cls["urgent"]
    assert out["category_code"].startswith("05")
    assert out["diversion"]["divert"] is False
    assert [d["id"] for d in out["duplicates"]] == [first["id"]]
    assert out["duplicates"][0]["score"] >= 0.6 and out["duplicates"][0]["distance_m"] < 50
    codes = {f["code"] for f in out["risk"]}
    assert "repeat_caller" in codes and "repeat_place" in codes
    assert out["key_persons"]["checked"] is False
    assert set(out["timings_ms"]) >= {"normalise", "address", "classify", "duplicates", "risk"}


async def test_analyze_address_and_entities(client: httpx.AsyncClient, world: World) -> None:
    text = "我在深南大道和香蜜湖路路口，一辆粤B12345的车撞了人就跑了，我身份证11010519491231002X"
    out = await analyze(client, world, text=text, phone="0755-83001234")
    assert out["phone"]["valid"] and out["phone"]["kind"] == "landline"
    assert out["entities"]["plates"][0]["number"] == "粤B12345"
    assert out["entities"]["resident_ids"][0]["valid"] is True
    assert out["address"]["source"] == "text"
    geo = out["address"]["geocode"]
    assert geo["best"] is not None and geo["best"]["kind"] == "intersection"
    assert out["point"]["source"] == "geocode"
    assert out["classification"]["top_category"] == "04"


async def test_analyze_non_police_matter(client: httpx.AsyncClient, world: World) -> None:
    out = await analyze(client, world, text="我们小区从早上开始停水，到现在还没来水，问问什么时候恢复")
    assert out["diversion"]["divert"] is True and out["diversion"]["department"] == "水务集团"


async def test_analyze_bad_input(client: httpx.AsyncClient, world: World) -> None:
    h = world.headers["call_taker"]
    r = await client.post(f"{API}/intake/analyze", json={"text": "火" * 2001}, headers=h)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "text"
    r = await client.post(f"{API}/intake/analyze", json={"text": "x", "lat": 22.5}, headers=h)
    assert r.status_code == 422
    r = await client.post(f"{API}/intake/analyze", json={"text": "x", "category_code": "99"}, headers=h)
    assert r.status_code == 422 and "category_code" in r.json()["detail"][0]["field"]
    out = await analyze(client, world, text="😀😀🔥", phone="12345678901234")
    assert {p["code"] for p in out["problems"]} >= {"empty", "invalid_phone"}
    assert out["classification"] is None and out["duplicates"] == []
    out = await analyze(client, world, text="Help! 有人 fighting 在 Coco Park 门口 🙏 " * 40)
    assert out["classification"] is not None
    r = await client.post(f"{API}/intake/analyze", json={"text": "x"}, headers=world.headers["officer"])
    assert r.status_code == 403


async def test_divert_handoff_lifecycle_and_kpi(client: httpx.AsyncClient, world: World) -> None:
    h = world.headers["call_taker"]
    inc = await create(client, world, category_code="090601", description="小区停水一天了")
    await create(client, world, category_code="0201")  # a police matter: not in the non-police base
    r = await client.post(f"{API}/incidents/{inc['id']}/divert", json={"note": "转12345，水务处理"}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "diverted"
    detail = (await client.get(f"{API}/incidents/{inc['id']}", headers=h)).json()
    [ho] = detail["handoffs"]
    assert ho["status"] == "sent" and ho["department"] == "水务集团" and ho["rule_id"] == "utility_water"
    r = await client.post(f"{API}/handoffs/{ho['id']}/close", headers=h)
    assert r.status_code == 409 and r.json()["state"] == "sent"
    r = await client.post(f"{API}/handoffs/{ho['id']}/accept", json={"external_ref": "GD20261124000123"}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "accepted"
    answer = {"result": "resolved", "text": "水务已抢修，18时恢复供水"}
    r = await client.post(f"{API}/handoffs/{ho['id']}/answer", json=answer, headers=world.headers["admin"])
    assert r.status_code == 200 and r.json()["result_label"] == "已解决"
    r = await client.post(f"{API}/handoffs/{ho['id']}/answer", json={"result": "bogus", "text": "x"}, headers=h)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "result"
    r = await client.post(f"{API}/handoffs/{ho['id']}/close", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "closed"
    detail = (await client.get(f"{API}/incidents/{inc['id']}", headers=h)).json()
    types = [e["type"] for e in detail["events"]]
    assert types[-4:] == ["handoff.sent", "handoff.accepted", "handoff.answered", "handoff.closed"]
    kpi = (await client.get(f"{API}/intake/kpi/diversion", headers=world.headers["leader"])).json()
    assert kpi["calls"] == 2 and kpi["non_police_calls"] == 1 and kpi["diversion_share"] == 1.0
    assert kpi["handoffs"]["closed"] == 1
    r = await client.get(f"{API}/intake/kpi/diversion?since=2026-11-01T00:00:00", headers=world.headers["leader"])
    assert r.status_code == 422 and r.json()["field"] == "since"


async def test_handoff_returned_reopens_incident(client: httpx.AsyncClient, world: World) -> None:
    h = world.headers["call_taker"]
    inc = await create(client, world, category_code="020803", description="商铺音响太吵")
    await client.post(f"{API}/incidents/{inc['id']}/divert", json={"note": "转12345"}, headers=h)
    [ho] = (await client.get(f"{API}/handoffs?incident_id={inc['id']}", headers=h)).json()
    r = await client.post(f"{API}/handoffs/{ho['id']}/return", json={"reason": "现场有人持械，属警务事项"}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "returned"
    detail = (await client.get(f"{API}/incidents/{inc['id']}", headers=h)).json()
    assert detail["status"] == "received"
    r = await client.post(f"{API}/incidents/{inc['id']}/dispatch", json={"unit_ids": [world.officer_unit]},
                          headers=world.headers["dispatcher"])
    assert r.status_code == 201, r.text


async def test_merge_keeps_every_caller_and_unmerge(client: httpx.AsyncClient, world: World) -> None:
    h = world.headers["call_taker"]
    first = await create(client, world, recording_ref="REC-0001", caller_phone="13800000001")
    second = await create(client, world, recording_ref="REC-0002", caller_phone="13800000002", caller_name="李女士",
                          description="商场门口好多人在打架", lat=FIRE_POINT["lat"] + 0.0004, lon=FIRE_POINT["lon"])
    dups = (await client.get(f"{API}/incidents/{second['id']}/duplicates", headers=h)).json()
    assert [d["id"] for d in dups] == [first["id"]]
    r = await client.post(f"{API}/incidents/{second['id']}/merge", json={"into_id": first["id"]}, headers=h)
    assert r.status_code == 200
    detail = (await client.get(f"{API}/incidents/{first['id']}", headers=h)).json()
    assert [c["recording_ref"] for c in detail["callers"]] == ["REC-0001", "REC-0002"]
    assert detail["callers"][1]["caller_name"] == "李女士" and detail["callers"][1]["merged"] is True
    merged_in = [e for e in detail["events"] if e["type"] == "incident.merged_in"]
    assert merged_in[0]["data"]["recording_ref"] == "REC-0002"

    r = await client.post(f"{API}/incidents/{first['id']}/unmerge", json={"reason": "x"}, headers=h)
    assert r.status_code == 409 and r.json()["code"] == "not_merged"
    r = await client.post(f"{API}/incidents/{second['id']}/unmerge", json={"reason": "核实为两起不同警情"}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "received" and r.json()["merged_into_id"] is None
    detail = (await client.get(f"{API}/incidents/{first['id']}", headers=h)).json()
    assert len(detail["callers"]) == 1
    assert detail["events"][-1]["type"] == "incident.merged_out"


async def test_review_regressions(client: httpx.AsyncClient, world: World) -> None:
    h = world.headers["call_taker"]
    # Someone trapped in a lift during a power cut: not a 12345 matter.
    out = await analyze(client, world, text="停电了，电梯里关着人出不来")
    assert out["diversion"]["divert"] is False
    assert any(f["code"] == "danger_cue" for f in out["risk"])
    # A landline typed differently at intake and at analysis is the same caller.
    await create(client, world, caller_phone="(0755)8300 1234", category_code="0208", description="楼上吵")
    out = await analyze(client, world, text="楼上又在吵", phone="0755-83001234")
    assert any(f["code"] == "repeat_caller" for f in out["risk"])
    r = await client.post(f"{API}/intake/analyze", json={"text": "有人打架", "incident_id": 10**20}, headers=h)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "incident_id"
    r = await client.post(f"{API}/incidents/{(await create(client, world))['id']}/divert",
                          json={"note": "x", "rule_id": "nope"}, headers=h)
    assert r.status_code == 422 and r.json()["field"] == "rule_id"


async def test_merge_chain_keeps_callers_and_unmerge_stamps(client: httpx.AsyncClient, world: World) -> None:
    h = world.headers["call_taker"]
    a = await create(client, world, recording_ref="REC-A")
    b = await create(client, world, recording_ref="REC-B")
    c = await create(client, world, recording_ref="REC-C")
    for src, dst in ((c, a), (a, b)):  # C into A, then A into B
        r = await client.post(f"{API}/incidents/{src['id']}/merge", json={"into_id": dst["id"]}, headers=h)
        assert r.status_code == 200, r.text
    detail = (await client.get(f"{API}/incidents/{b['id']}", headers=h)).json()
    assert sorted(x["recording_ref"] for x in detail["callers"]) == ["REC-A", "REC-B", "REC-C"]

    # A dispatched call merged away, whose unit arrives meanwhile, comes back as on scene with times.
    p = await create(client, world)
    r = await client.post(f"{API}/incidents/{p['id']}/dispatch", json={"unit_ids": [world.officer_unit]},
                          headers=world.headers["dispatcher"])
    [instr] = r.json()
    await client.post(f"{API}/incidents/{p['id']}/merge", json={"into_id": b["id"]}, headers=h)
    officer = world.headers["officer"]
    await client.post(f"{API}/instructions/{instr['id']}/acknowledge", headers=officer)
    for status in ("en_route", "on_scene"):
        r = await client.post(f"{API}/instructions/{instr['id']}/status", json={"status": status}, headers=officer)
        assert r.status_code == 200, r.text
    r = await client.post(f"{API}/incidents/{p['id']}/unmerge", json={"reason": "不是同一起"}, headers=h)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["status"] == "on_scene" and out["dispatched_at"] and out["on_scene_at"]
