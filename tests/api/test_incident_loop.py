"""The core loop through the HTTP API: 接警 → 派警 → 签收 → 到场 → 反馈 → 结案."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import World, incident_body

API = "/api/v1"


async def create_incident(client: httpx.AsyncClient, world: World, **overrides: Any) -> dict[str, Any]:
    r = await client.post(f"{API}/incidents", json=incident_body(**overrides), headers=world.headers["call_taker"])
    assert r.status_code == 201, r.text
    return r.json()


async def test_full_loop_with_timeline(client: httpx.AsyncClient, world: World) -> None:
    inc = await create_incident(client, world)
    assert inc["status"] == "received"
    assert inc["number"].startswith("J440304000000")
    assert len(inc["number"]) == 1 + 12 + 8 + 5
    assert inc["category_label"] == "治安"

    unit_id = world.officer_unit
    r = await client.post(f"{API}/incidents/{inc['id']}/dispatch", json={"unit_ids": [unit_id]},
                          headers=world.headers["dispatcher"])
    assert r.status_code == 201, r.text
    [instr] = r.json()
    assert instr["status"] == "sent" and instr["unit_id"] == unit_id and instr["kind"] == "dispatch"

    unit = (await client.get(f"{API}/units/{unit_id}", headers=world.headers["dispatcher"])).json()
    assert unit["status"] == "assigned"

    officer = world.headers["officer"]
    r = await client.post(f"{API}/instructions/{instr['id']}/acknowledge", headers=officer)
    assert r.status_code == 200 and r.json()["status"] == "signed"
    for status in ("en_route", "on_scene"):
        r = await client.post(f"{API}/instructions/{instr['id']}/status", json={"status": status}, headers=officer)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == status
    detail = (await client.get(f"{API}/incidents/{inc['id']}", headers=officer)).json()
    assert detail["status"] == "on_scene"
    r = await client.post(f"{API}/instructions/{instr['id']}/feedback",
                          json={"result_code": "mediated", "text": "双方已调解，无人受伤"}, headers=officer)
    assert r.status_code == 200 and r.json()["status"] == "feedback"

    unit = (await client.get(f"{API}/units/{unit_id}", headers=officer)).json()
    assert unit["status"] == "available"
    r = await client.post(f"{API}/incidents/{inc['id']}/close", json={"result": "调解结案"},
                          headers=world.headers["commander"])
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "closed" and r.json()["closed_at"]

    detail = (await client.get(f"{API}/incidents/{inc['id']}", headers=world.headers["leader"])).json()
    types = [e["type"] for e in detail["events"]]
    for expected in ("incident.created", "instruction.sent", "incident.dispatched", "instruction.signed",
                     "instruction.en_route", "instruction.on_scene", "incident.on_scene",
                     "instruction.feedback", "incident.handled", "incident.closed"):
        assert expected in types, (expected, types)
    assert types.index("incident.created") < types.index("instruction.signed") < types.index("incident.closed")
    by_type = {e["type"]: e for e in detail["events"]}
    assert by_type["incident.created"]["user"] == "call_taker"
    assert by_type["incident.created"]["seat"] == "call_taker-seat-01"
    assert by_type["instruction.signed"]["user"] == "officer"
    assert by_type["incident.closed"]["user"] == "commander"
    assert detail["instructions"][0]["result_code"] == "mediated"


async def test_illegal_transitions_are_409_naming_the_state(client: httpx.AsyncClient, world: World) -> None:
    inc = await create_incident(client, world)
    r = await client.post(f"{API}/incidents/{inc['id']}/close", json={"result": "x"},
                          headers=world.headers["commander"])
    assert r.status_code == 409
    assert r.json()["state"] == "received"

    [instr] = (await client.post(f"{API}/incidents/{inc['id']}/dispatch", json={"unit_ids": [world.officer_unit]},
                                 headers=world.headers["dispatcher"])).json()
    # Feedback before signing.
    r = await client.post(f"{API}/instructions/{instr['id']}/feedback", json={"result_code": "resolved", "text": "x"},
                          headers=world.headers["officer"])
    assert r.status_code == 409 and r.json()["state"] == "sent" and r.json()["code"] == "not_signed"
    # A busy unit cannot be sent again.
    other = await create_incident(client, world, description="另一起警情")
    r = await client.post(f"{API}/incidents/{other['id']}/dispatch", json={"unit_ids": [world.officer_unit]},
                          headers=world.headers["dispatcher"])
    assert r.status_code == 409 and r.json()["state"] == "assigned"
    # Closing with an open instruction.
    await client.post(f"{API}/instructions/{instr['id']}/acknowledge", headers=world.headers["officer"])
    r = await client.post(f"{API}/incidents/{inc['id']}/close", json={"result": "x"},
                          headers=world.headers["commander"])
    assert r.status_code == 409 and r.json()["state"] == "dispatched"
    # Signing twice.
    r = await client.post(f"{API}/instructions/{instr['id']}/acknowledge", headers=world.headers["officer"])
    assert r.status_code == 409 and r.json()["state"] == "signed"


async def test_roles_are_enforced(client: httpx.AsyncClient, world: World) -> None:
    r = await client.post(f"{API}/incidents", json=incident_body(), headers=world.headers["officer"])
    assert r.status_code == 403
    inc = await create_incident(client, world)
    r = await client.post(f"{API}/incidents/{inc['id']}/dispatch", json={"unit_ids": [world.officer_unit]},
                          headers=world.headers["call_taker"])
    assert r.status_code == 403
    other_unit = world.units["福田巡02"]
    [instr] = (await client.post(f"{API}/incidents/{inc['id']}/dispatch", json={"unit_ids": [other_unit]},
                                 headers=world.headers["dispatcher"])).json()
    # The officer belongs to another unit.
    r = await client.post(f"{API}/instructions/{instr['id']}/acknowledge", headers=world.headers["officer"])
    assert r.status_code == 403
    # The dispatcher may sign on the unit's behalf (代签收); the timeline records who did it.
    r = await client.post(f"{API}/instructions/{instr['id']}/acknowledge", headers=world.headers["dispatcher"])
    assert r.status_code == 200
    r = await client.get(f"{API}/incidents", headers={})
    assert r.status_code == 401
    r = await client.get(f"{API}/incidents", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401


async def test_idempotency_key(client: httpx.AsyncClient, world: World) -> None:
    headers = {**world.headers["call_taker"], "Idempotency-Key": "call-0001-abcdef"}
    r1 = await client.post(f"{API}/incidents", json=incident_body(), headers=headers)
    r2 = await client.post(f"{API}/incidents", json=incident_body(), headers=headers)
    assert r1.status_code == 201 and r2.status_code == 201
    assert r1.json()["id"] == r2.json()["id"] and r1.json()["number"] == r2.json()["number"]
    assert r2.headers.get("Idempotent-Replayed") == "true"
    r3 = await client.post(f"{API}/incidents", json=incident_body(description="不同的内容"), headers=headers)
    assert r3.status_code == 422
    assert r3.json()["field"] == "Idempotency-Key"
    listed = (await client.get(f"{API}/incidents", headers=world.headers["dispatcher"])).json()
    assert len(listed) == 1


async def test_bad_input_is_422_naming_the_field(client: httpx.AsyncClient, world: World) -> None:
    h = world.headers["call_taker"]
    cases = {
        "caller_phone": incident_body(caller_phone="12345x"),
        "lat": incident_body(lat="north"),
        "category_code": incident_body(category_code="99"),
        "surprise": {**incident_body(), "surprise": 1},
        "description": incident_body(description=""),
    }
    for field, body in cases.items():
        r = await client.post(f"{API}/incidents", json=body, headers=h)
        assert r.status_code == 422, (field, r.text)
        fields = [e["field"] for e in r.json()["detail"]]
        assert any(field in f for f in fields), (field, fields)
    # Outside China (Paris) is rejected with a message that says so.
    r = await client.post(f"{API}/incidents", json=incident_body(lat=48.85, lon=2.35), headers=h)
    assert r.status_code == 422 and "outside China" in r.text
    r = await client.post(f"{API}/incidents", content=b"{not json", headers={**h, "content-type": "application/json"})
    assert r.status_code == 422
    r = await client.get(f"{API}/incidents?since=yesterday", headers=h)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "since"
    r = await client.get(f"{API}/incidents/999999", headers=h)
    assert r.status_code == 404
    r = await client.post(f"{API}/incidents/1/dispatch", json={"unit_ids": []}, headers=world.headers["dispatcher"])
    assert r.status_code == 422
    r = await client.put(f"{API}/units/{world.officer_unit}/position", json={"lat": 51.5, "lon": -0.12},
                         headers=world.headers["dispatcher"])
    assert r.status_code == 422


async def test_phone_normalised(client: httpx.AsyncClient, world: World) -> None:
    inc = await create_incident(client, world, caller_phone="+86 138 0013 8000")
    assert inc["caller_phone"] == "13800138000"
    inc = await create_incident(client, world, caller_phone="0755-83451234")
    assert inc["caller_phone"] == "0755-83451234"


async def test_list_filters(client: httpx.AsyncClient, world: World) -> None:
    a = await create_incident(client, world, category_code="01")
    b = await create_incident(client, world, category_code="05")
    h = world.headers["dispatcher"]
    await client.post(f"{API}/incidents/{b['id']}/dispatch", json={"unit_ids": [world.units['福田巡02']]}, headers=h)
    ids = lambda r: {i["id"] for i in r.json()}  # noqa: E731
    assert ids(await client.get(f"{API}/incidents?status=received", headers=h)) == {a["id"]}
    assert ids(await client.get(f"{API}/incidents?status=dispatched", headers=h)) == {b["id"]}
    assert ids(await client.get(f"{API}/incidents?category=05", headers=h)) == {b["id"]}
    assert ids(await client.get(f"{API}/incidents?since=2099-01-01T00:00:00%2B08:00", headers=h)) == set()
    assert ids(await client.get(f"{API}/incidents?since=2020-01-01T00:00:00%2B08:00", headers=h)) == {a["id"], b["id"]}


async def test_several_units_cancel_and_merge(client: httpx.AsyncClient, world: World) -> None:
    inc = await create_incident(client, world, category_code="05")
    h = world.headers["dispatcher"]
    u1, u2 = world.units["福田巡02"], world.units["福田巡03"]
    r = await client.post(f"{API}/incidents/{inc['id']}/dispatch", json={"unit_ids": [u1, u2]}, headers=h)
    assert r.status_code == 201
    i1, i2 = r.json()
    assert i1["batch_id"] == i2["batch_id"]
    # Withdraw one order; the unit is free again.
    r = await client.post(f"{API}/instructions/{i2['id']}/cancel", json={"reason": "警力已足够"}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert (await client.get(f"{API}/units/{i2['unit_id']}", headers=h)).json()["status"] == "available"
    # A second caller for the same event is merged into the first.
    dup = await create_incident(client, world, category_code="05", caller_phone="13900139000")
    r = await client.post(f"{API}/incidents/{dup['id']}/merge", json={"into_id": inc["id"]}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "merged" and r.json()["merged_into_id"] == inc["id"]
    detail = (await client.get(f"{API}/incidents/{inc['id']}", headers=h)).json()
    merged = [e for e in detail["events"] if e["type"] == "incident.merged_in"]
    assert merged and merged[0]["data"]["caller_phone"] == "13900139000"
    # A non-police matter goes to 12345.
    other = await create_incident(client, world, category_code="09", description="楼下商铺音响太吵")
    r = await client.post(f"{API}/incidents/{other['id']}/divert", json={"note": "转12345热线处理"},
                          headers=world.headers["call_taker"])
    assert r.status_code == 200 and r.json()["status"] == "diverted"
    r = await client.post(f"{API}/incidents/{other['id']}/dispatch", json={"unit_ids": [u2]}, headers=h)
    assert r.status_code == 409 and r.json()["state"] == "diverted"


async def test_control_characters_are_rejected_not_500(client: httpx.AsyncClient, world: World) -> None:
    h = world.headers["call_taker"]
    r = await client.post(f"{API}/incidents", json=incident_body(description="有人\x00打架"), headers=h)
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "description"
    r = await client.post(f"{API}/incidents", json=incident_body(address="深南大道\x00"), headers=h)
    assert r.status_code == 422
    # Ordinary line breaks and tabs in a description are fine.
    r = await client.post(f"{API}/incidents", json=incident_body(description="第一行\n第二行\t完"), headers=h)
    assert r.status_code == 201


async def test_incident_numbers_recover_when_the_day_sequence_is_dropped(app: Any, client: httpx.AsyncClient,
                                                                         world: World) -> None:
    from sqlalchemy import text

    first = await create_incident(client, world)
    db = app.state.db
    if db.dialect == "postgresql":
        async with db.tx() as session:
            names = (await session.execute(text(
                "SELECT relname FROM pg_class WHERE relkind = 'S' AND relname LIKE 'incident_seq_%'"))).scalars()
            for name in list(names):
                await session.execute(text(f"DROP SEQUENCE {name}"))
    second = await create_incident(client, world)
    assert int(second["number"][-5:]) == int(first["number"][-5:]) + 1  # continues, never reissues
    assert second["number"][:-5] == first["number"][:-5]  # same centre, same day


async def test_day_sequence_beyond_five_digits_is_not_truncated(app: Any, client: httpx.AsyncClient,
                                                                world: World) -> None:
    from sqlalchemy import text

    first = await create_incident(client, world)
    db = app.state.db
    async with db.tx() as session:
        if db.dialect == "postgresql":
            name = "incident_seq_" + first["number"][1:13] + "_" + first["number"][13:21]
            await session.execute(text(f"SELECT setval('{name}', 99999)"))
        else:
            await session.execute(text("UPDATE counters SET value = 99999"))
    second = await create_incident(client, world)
    assert second["number"] == first["number"][:-5] + "100000"
