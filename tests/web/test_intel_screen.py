"""情报研判 (/intel) in a real browser, as the demo bureau's analyst: a look-up without 查询事由 is refused, a key
person is recorded (a bad phone named next to its field first), an activity file is uploaded with the
sim_activities mapping (its bad row quarantined with the reason) and collided at once, the new hits and their
核查指令 are listed, the person's trajectory comes back in time order on the map, a lead goes to a station as
a 核查指令, and the page switches to English."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.sync_api import Page, expect

from tests.web.client import PASSWORD, get, log_in, record_call, token
from tests.web.test_accessibility import violations

# The live server writes ingested activity under intel_dir: a directory of this module's own, not ./var/intel.
PURPOSE = "线索核查：测试在逃人员"
# The screen counts collision runs: the twice-daily timer (tested in tests/intel) must not add one mid-test.
LIVE_SETTINGS = {"collision_times": ()}


def id_number(body17: str) -> str:
    """An 18-character resident ID with its GB 11643-1999 check digit."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body17 + "10X98765432"[sum(int(c) * w for c, w in zip(body17, weights, strict=True)) % 11]


# Born 1990-03-07, registered in 长沙市芙蓉区 (430102): a 高危地区 search for "43" finds the person's records.
PERSON_ID = id_number("43010219900307123")
NOW = datetime.now(UTC).replace(microsecond=0)
HOTEL_AT = NOW - timedelta(days=2, hours=3)
CAFE_AT = NOW - timedelta(days=1, hours=1)


def activities_csv() -> bytes:
    """Three rows in the simulator's layout: the person in a hotel, then an internet café, and one row whose
    latitude (999) cannot be right."""
    rows = [
        {"kind": "internet_cafe", "at": CAFE_AT.isoformat(), "person_id": "p1", "id_number": PERSON_ID, "plate": "",
         "venue_code": "NB-T-001", "venue_name": "测试星空网吧", "lat": 22.5400, "lon": 114.0300,
         "detail": json.dumps({"seat": "A12"}, ensure_ascii=False)},
        {"kind": "hotel_checkin", "at": HOTEL_AT.isoformat(), "person_id": "p1", "id_number": PERSON_ID, "plate": "",
         "venue_code": "HT-T-001", "venue_name": "测试福华宾馆", "lat": 22.5350, "lon": 114.0200,
         "detail": json.dumps({"room": "302"}, ensure_ascii=False)},
        {"kind": "hotel_checkin", "at": (NOW - timedelta(hours=5)).isoformat(), "person_id": "p2",
         "id_number": id_number("44030419850101002"), "plate": "", "venue_code": "HT-T-002",
         "venue_name": "坐标错误宾馆", "lat": 999, "lon": 114.03, "detail": json.dumps({"room": "101"})},
    ]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def sign_in(page: Page, base: str, username: str) -> None:
    page.goto(base + "/intel")
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()


def test_analyst_desk(live_server: Any, new_page: Any, shot: Any) -> None:
    base = live_server.url
    page = new_page(1280, 900)
    looked_up: list[str] = []
    page.on("request", lambda r: looked_up.append(r.url) if "/api/v1/intel/persons?" in r.url else None)
    sign_in(page, base, "yanpan")
    expect(page.get_by_test_id("tab-persons")).to_have_attribute("aria-selected", "true")

    # No 查询事由, no look-up: the page says so and sends nothing.
    page.get_by_test_id("person-q").fill("张")
    page.get_by_test_id("person-search").click()
    expect(page.get_by_test_id("purpose-error")).to_contain_text("请先填写查询事由")
    expect(page.get_by_test_id("purpose")).to_be_focused()
    expect(page.get_by_test_id("person-results")).to_have_count(0)
    page.get_by_test_id("purpose").fill("查询")  # too short (the server asks for 4 characters)
    page.get_by_test_id("person-search").click()
    expect(page.get_by_test_id("purpose-error")).to_be_visible()
    assert looked_up == []
    page.get_by_test_id("purpose").fill(PURPOSE)
    expect(page.get_by_test_id("purpose-error")).to_have_count(0)

    # A key person: a phone the server cannot read is named beside its field, then the record goes in.
    page.get_by_test_id("person-name").fill("李测试")
    page.get_by_test_id("person-id_number").fill(PERSON_ID)
    page.get_by_test_id("person-category").select_option("在逃")
    page.get_by_test_id("person-control_level").select_option("一级")
    page.get_by_test_id("person-phones").fill("1380013800")  # one digit short
    page.get_by_test_id("person-org_id").select_option(label="香蜜湖派出所")
    page.get_by_test_id("person-submit").click()
    expect(page.get_by_test_id("field-error-phones")).to_contain_text("手机号")
    expect(page.get_by_test_id("person-phones")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_test_id("person-created")).to_have_count(0)
    page.get_by_test_id("person-phones").fill("13800138000")
    expect(page.get_by_test_id("field-error-phones")).to_have_count(0)
    page.get_by_test_id("person-submit").click()
    expect(page.get_by_test_id("person-created")).to_contain_text("李测试")
    detail = page.get_by_test_id("person-detail")
    expect(detail).to_contain_text("1990-03-07")  # from the ID
    expect(detail).to_contain_text("香蜜湖派出所")
    # Found again by the ID, with the purpose sent along.
    page.get_by_test_id("person-q").fill(PERSON_ID)
    page.get_by_test_id("person-search").click()
    expect(page.locator("[data-testid=person-row]")).to_have_count(1)
    expect(page.locator("[data-testid=person-row]")).to_contain_text("李测试")
    assert looked_up and all("purpose=" in u for u in looked_up)
    shot(page, "17-intel-persons")

    # 数据导入: counts, the quarantine reason, and the batch's collision.
    page.get_by_test_id("tab-ingest").click()
    expect(page.get_by_test_id("ingest-mapping").locator("option[value=sim_activities]")).to_have_count(1)
    page.get_by_test_id("ingest-file").set_input_files(
        {"name": "activities.csv", "mimeType": "text/csv", "buffer": activities_csv()})
    page.get_by_test_id("ingest-mapping").select_option("sim_activities")
    page.get_by_test_id("ingest-submit").click()
    result = page.get_by_test_id("ingest-result")
    expect(result.get_by_test_id("count-in")).to_have_text("3", timeout=60_000)
    expect(result.get_by_test_id("count-ok")).to_have_text("2")
    expect(result.get_by_test_id("count-quarantined")).to_have_text("1")
    reason = result.locator("[data-testid=reason-row][data-reason=bad_coordinate]")
    expect(reason).to_contain_text("经纬度无效或超出范围")
    expect(reason).to_contain_text("1")
    expect(result.get_by_test_id("ingest-collision")).to_contain_text(re.compile(r"新增 [1-9]"))
    expect(page.locator("[data-testid=batch-row]").first).to_contain_text("activities.csv")

    # 比中预警: the person's hits, newest activity first, each with its 核查指令 to the place's station.
    page.get_by_test_id("tab-hits").click()
    rows = page.locator("[data-testid=hit-row]")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("李测试")
    expect(rows.first).to_contain_text("测试星空网吧")
    expect(rows.first).to_contain_text("在逃人员全量比对")
    expect(rows.first).to_contain_text("身份证号一致")
    expect(rows.nth(1)).to_contain_text("测试福华宾馆")
    expect(rows.first.get_by_test_id("order-status")).to_contain_text(re.compile(r"核查指令#\d+ · 待签收"))
    order_id = int(rows.first.get_by_test_id("order-status").get_attribute("data-order-id") or 0)
    tok = token(base, "yanpan")
    order = get(base, f"/instructions/{order_id}", tok)
    assert order["kind"] == "verify" and "李测试" in order["content"] and order["status"] == "sent"
    # A manual run over everything finds the same two and sends nothing new.
    page.get_by_test_id("run-collision").click()
    expect(page.get_by_test_id("run-summary")).to_contain_text("比中 2 条，新增 0 条，下发核查指令 0 条")
    expect(page.locator("[data-testid=run-row]")).to_have_count(2)

    # 轨迹 from the person's record: hotel, then café, in time order, drawn on the map.
    page.get_by_test_id("tab-persons").click()
    page.get_by_test_id("person-open").first.click()
    page.get_by_test_id("person-trajectory").click()
    expect(page.get_by_test_id("tab-trajectory")).to_have_attribute("aria-selected", "true")
    points = page.locator("[data-testid=track-row]")
    expect(points).to_have_count(2)
    expect(points.first).to_contain_text("测试福华宾馆")
    expect(points.first).to_contain_text("302")
    expect(points.nth(1)).to_contain_text("测试星空网吧")
    stamps = [points.nth(i).get_attribute("data-at") or "" for i in range(2)]
    assert stamps == sorted(stamps) and stamps[0].startswith(HOTEL_AT.strftime("%Y-%m-%dT%H:%M"))
    # Shown in Beijing time: 8 hours ahead of the UTC instant.
    expect(points.first).to_contain_text((HOTEL_AT + timedelta(hours=8)).strftime("%H:%M"))
    expect(page.get_by_test_id("track-map")).to_have_attribute("data-points", "2")
    expect(page.locator("[data-testid=track-map] canvas").first).to_be_attached()
    shot(page, "17-intel-trajectory")
    # A plate the server cannot read is named beside the field.
    page.get_by_test_id("track-key").select_option("plate")
    page.get_by_test_id("track-value").fill("xx")
    page.get_by_test_id("track-submit").click()
    expect(page.get_by_test_id("field-error-value")).to_contain_text("plate")
    expect(page.get_by_test_id("track")).to_have_count(0)  # no stale points under a failed look-up

    # 高危地区: the 43 (湖南) prefix finds the person's two days of activity.
    page.get_by_test_id("tab-origin").click()
    page.get_by_test_id("origin-list").select_option("DEMO_THEFT")  # a 高危地区名单 fills in its codes
    expect(page.get_by_test_id("origin-prefixes")).to_have_value("43,4505")
    page.get_by_test_id("origin-prefixes").fill("43")
    page.get_by_test_id("origin-since").fill((NOW - timedelta(days=6)).strftime("%Y-%m-%d"))
    page.get_by_test_id("origin-submit").click()
    expect(page.locator("[data-testid=origin-row]")).to_have_count(2)
    expect(page.get_by_test_id("origin")).to_contain_text("测试福华宾馆")
    expect(page.get_by_test_id("origin")).to_contain_text("湖南省")  # the code's region, named

    # 线索 → 核查指令 to a station.
    page.get_by_test_id("tab-leads").click()
    page.get_by_test_id("lead-source").select_option("群众举报")
    page.get_by_test_id("lead-title").fill("网吧内疑似在逃人员")
    page.get_by_test_id("lead-content").fill("群众反映测试星空网吧A区有一男子与通缉照片相似")
    page.get_by_test_id("lead-submit").click()
    expect(page.get_by_test_id("lead-created")).to_be_visible()
    lead = page.locator("[data-testid=lead-row]", has_text="网吧内疑似在逃人员")
    lead.get_by_test_id("lead-verify").click()
    page.get_by_test_id("verify-org").select_option(label="景田派出所")
    page.get_by_test_id("verify-minutes").fill("30")
    page.get_by_test_id("verify-submit").click()
    expect(page.get_by_test_id("verify-sent")).to_contain_text("景田派出所")
    expect(lead.get_by_test_id("lead-status")).to_have_value("verifying")
    expect(lead.get_by_test_id("order-status")).to_contain_text("待签收")
    lead_id = int(lead.get_attribute("data-lead-id") or 0)
    sent = next(x for x in get(base, "/intel/leads", tok) if x["id"] == lead_id)
    verify = get(base, f"/instructions/{sent['instruction_id']}", tok)
    assert verify["kind"] == "verify" and "30分钟" in verify["content"]

    page.get_by_test_id("tab-hits").click()
    expect(rows).to_have_count(2)
    shot(page, "17-intel")

    # English: tabs, headings and the words of the data, not the data itself.
    page.get_by_test_id("lang-switch").click()
    expect(page.get_by_test_id("tab-hits")).to_have_text("Hits")
    expect(page.get_by_test_id("purpose").locator("xpath=preceding-sibling::label")).to_have_text("Purpose of look-up")
    expect(rows.first.get_by_test_id("order-status")).to_contain_text("Verification order #")
    expect(rows.first).to_contain_text("Fugitive")
    page.get_by_test_id("tab-trajectory").click()
    page.get_by_test_id("track-key").select_option("id_number")
    page.get_by_test_id("track-value").fill(PERSON_ID)
    page.get_by_test_id("track-submit").click()
    expect(page.get_by_test_id("track")).to_contain_text("Track points in time order (2)")
    expect(page.locator("[data-testid=track-row]").first).to_contain_text("Hotel check-in")
    page.get_by_test_id("lang-switch").click()
    expect(page.get_by_test_id("tab-hits")).to_have_text("比中预警")


COMPANION_ID = id_number("44030419880512003")
THIRD_ID = id_number("45010219920101004")
FATHER_ID = id_number("43010219600101003")


def companions_csv() -> bytes:
    """The person shared room 302 with a companion two nights ago; the companion shared another hotel's room
    with a third person last week and was in an internet café an hour ago."""
    def row(kind: str, at: datetime, pid: str, idn: str, code: str, name: str, detail: dict) -> dict:
        return {"kind": kind, "at": at.isoformat(), "person_id": pid, "id_number": idn, "plate": "", "venue_code": code,
                "venue_name": name, "lat": 22.5350, "lon": 114.0200, "detail": json.dumps(detail, ensure_ascii=False)}
    # A hotel night runs from 06:00 Beijing (a check-in before 06:00 counts for the night before): the
    # companions check in at 22:00 Beijing of the person's night, whatever the time the test runs.
    local = HOTEL_AT + timedelta(hours=8)
    night = local.date() - timedelta(days=1 if local.hour < 6 else 0)
    same_night = datetime(night.year, night.month, night.day, 14, 0, tzinfo=UTC)  # 22:00 Beijing
    week_ago = (NOW - timedelta(days=6)).replace(hour=13, minute=0, second=0)  # 21:00 Beijing
    rows = [
        row("hotel_checkin", same_night, "p3", COMPANION_ID, "HT-T-001", "测试福华宾馆",
            {"room": "302"}),
        row("hotel_checkin", week_ago, "p3", COMPANION_ID, "HT-T-003", "测试莲花旅店", {"room": "8"}),
        row("hotel_checkin", week_ago + timedelta(minutes=10), "p4", THIRD_ID, "HT-T-003", "测试莲花旅店",
            {"room": "8"}),
        row("internet_cafe", NOW - timedelta(hours=1), "p3", COMPANION_ID, "NB-T-002", "测试极速网咖", {"seat": "B3"}),
    ]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def test_relations_and_series(live_server: Any, new_page: Any, shot: Any) -> None:
    """关系倒查 on the graph drawn from co-stays (runs after the desk test: the person is on the list), the chain
    to a second-hop associate, the associates' recent records; then 串并案 over three look-alike burglaries."""
    import httpx

    base = live_server.url
    tok = token(base, "yanpan")
    r = httpx.post(f"{base}/api/v1/intel/ingest", headers={"Authorization": f"Bearer {tok}"},
                   files={"file": ("companions.csv", companions_csv(), "text/csv")},
                   data={"mapping": "sim_activities", "collide": "false"}, timeout=60)
    assert r.status_code == 201 and r.json()["rows_ok"] == 4, r.text
    page = new_page(1280, 900)
    sign_in(page, base, "yanpan")
    page.get_by_test_id("tab-relations").click()
    page.get_by_test_id("rel-person").fill(PERSON_ID)
    page.get_by_test_id("rel-submit").click()
    expect(page.get_by_test_id("purpose-error")).to_be_visible()  # a person look-up needs its 查询事由
    page.get_by_test_id("purpose").fill(PURPOSE)
    page.get_by_test_id("rel-submit").click()
    graph = page.get_by_test_id("rel-graph")
    expect(graph).to_have_attribute("data-nodes", "3")
    expect(page.locator(f"[data-testid=rel-node][data-id='{THIRD_ID}']")).to_have_attribute("data-hops", "2")
    expect(page.locator("[data-testid=rel-edge][data-kind=co_stay]")).to_have_count(2)
    expect(page.get_by_test_id("rel-result")).to_contain_text("李测试")  # the centre is a key person
    # Selecting the companion keeps only the companion's relations in the table.
    page.locator(f"[data-testid=rel-node][data-id='{COMPANION_ID}']").click()
    expect(page.locator("[data-testid=rel-edge]")).to_have_count(2)
    page.locator(f"[data-testid=rel-node][data-id='{THIRD_ID}']").click()
    expect(page.locator("[data-testid=rel-edge]")).to_have_count(1)
    # The co-stay's evidence opens as the two check-ins: the hotel, the room, the night.
    page.locator("[data-testid=rel-edge]").first.get_by_test_id("evidence-open").click()
    ev = page.get_by_test_id("evidence-records")
    expect(ev.locator("li")).to_have_count(2)
    expect(ev).to_contain_text("测试莲花旅店")
    expect(ev).to_contain_text(THIRD_ID)
    shot(page, "18-intel-relations")
    # The chain to the third person goes through the companion.
    page.get_by_test_id("rel-other").fill(THIRD_ID)
    page.get_by_test_id("rel-path").click()
    steps = page.locator("[data-testid=chain-step]")
    expect(steps).to_have_count(2)
    expect(steps.first).to_contain_text(COMPANION_ID)
    expect(steps.first).to_contain_text("同住")
    page.get_by_test_id("rel-other").fill("123")
    page.get_by_test_id("rel-path").click()
    expect(page.get_by_test_id("field-error-b")).to_be_visible()
    # Associates seen in the last 2 days: the companion's café record an hour ago, newest first.
    page.get_by_test_id("rel-days").fill("2")
    page.get_by_test_id("rel-seen").click()
    seen = page.locator("[data-testid=sighting-row]")
    expect(seen.first).to_contain_text("测试极速网咖")
    expect(seen.first).to_have_attribute("data-key", COMPANION_ID)
    # 登记关系: the person's father from the 户籍 file joins the graph as a 亲属 relation.
    page.get_by_test_id("rel-record").locator("summary").click()
    page.get_by_test_id("rel-record-b").fill(FATHER_ID)
    page.get_by_test_id("rel-record-kind").select_option("family")
    page.get_by_test_id("rel-record-detail").fill("父子")
    page.get_by_test_id("rel-record-submit").click()
    expect(page.get_by_test_id("rel-recorded")).to_be_visible()
    expect(graph).to_have_attribute("data-nodes", "4")
    page.locator(f"[data-testid=rel-node][data-id='{FATHER_ID}']").click()
    expect(page.locator("[data-testid=rel-edge][data-kind=family]")).to_contain_text("父子")
    page.get_by_test_id("rel-record-b").fill(FATHER_ID)
    page.get_by_test_id("rel-record-submit").click()  # the same relation again is refused, with the reason
    expect(page.get_by_test_id("rel-record-error")).to_contain_text("already recorded")
    # Unknown person: named beside the field.
    page.get_by_test_id("rel-person").fill("nobody")
    page.get_by_test_id("rel-submit").click()
    expect(page.get_by_test_id("field-error-person")).to_be_visible()

    # 串并案: three 入室盗窃 a few hundred metres apart with the same MO, one far away with another MO.
    body = {"category_code": "010501", "caller_phone": "13900000011", "address": "深圳市福田区景田北路1号"}
    first = record_call(base, {**body, "lat": 22.5405, "lon": 114.0553,
                               "description": "报警人称家中被撬锁入室，卧室抽屉内现金和金首饰被盗，门锁有明显撬痕"})
    twin = record_call(base, {**body, "lat": 22.5412, "lon": 114.0561,
                              "description": "住户回家发现防盗门锁被撬，家中现金、首饰被盗"})
    other = record_call(base, {**body, "lat": 22.5600, "lon": 114.0900,
                               "description": "报警称阳台窗户未关，有人攀爬阳台入室，笔记本电脑被盗"})
    page.get_by_test_id("tab-series").click()
    page.get_by_test_id("series-incident").fill("abc")
    page.get_by_test_id("series-submit").click()
    expect(page.get_by_test_id("field-error-incident_id")).to_be_visible()
    page.get_by_test_id("series-incident").fill(str(first["id"]))
    page.get_by_test_id("series-submit").click()
    rows = page.locator("[data-testid=series-row]")
    expect(rows.first).to_have_attribute("data-incident", str(twin["id"]), timeout=60_000)
    expect(page.locator(f"[data-testid=series-row][data-incident='{other['id']}']")).to_have_count(1)
    expect(rows.first).to_contain_text("撬锁")
    shot(page, "19-intel-series")
    # The picked suggestion and the incident go to 串并 (co-presence) as cases.
    rows.first.locator("input[type=checkbox]").check()
    page.get_by_test_id("series-copresence").click()
    expect(page.get_by_test_id("tab-copresence")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_test_id("co-incidents")).to_have_value(f"{first['id']},{twin['id']}")
    page.get_by_test_id("co-submit").click()
    expect(page.get_by_test_id("co-presence")).to_contain_text("2起案件")


def test_tabs_keyboard_and_axe(live_server: Any, new_page: Any) -> None:
    """Runs after the desk test (same server): the populated screens pass axe and the tabs follow the arrow keys."""
    base = live_server.url
    page = new_page(1280, 900, bypass_csp=True)
    sign_in(page, base, "yanpan")
    page.get_by_test_id("purpose").fill(PURPOSE)
    page.get_by_test_id("person-search").click()
    expect(page.locator("[data-testid=person-row]").first).to_be_visible()
    assert violations(page) == [], "key persons"
    page.get_by_test_id("tab-persons").focus()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_test_id("tab-hits")).to_be_focused()
    expect(page.get_by_test_id("tab-hits")).to_have_attribute("aria-selected", "true")
    expect(page.locator("[data-testid=hit-row]").first).to_be_visible()
    assert violations(page) == [], "hits"
    page.keyboard.press("End")
    expect(page.get_by_test_id("tab-leads")).to_have_attribute("aria-selected", "true")
    expect(page.locator("[data-testid=lead-row]").first).to_be_visible()
    assert violations(page) == [], "leads"
    page.get_by_test_id("tab-relations").click()
    page.get_by_test_id("rel-person").fill(PERSON_ID)
    page.get_by_test_id("rel-submit").click()
    expect(page.get_by_test_id("rel-graph")).to_have_attribute("data-nodes", "4")
    assert violations(page) == [], "relations"


def test_console_link_and_roles(live_server: Any, new_page: Any) -> None:
    base = live_server.url
    desk = new_page(1280, 720)
    log_in(desk, base, "yanpan")
    expect(desk.get_by_test_id("intel-link")).to_have_attribute("href", "/intel")
    # A leader reads but does not write; a call-taker has no business here.
    lead = new_page(1280, 720)
    sign_in(lead, base, "lingdao")
    expect(lead.get_by_test_id("readonly")).to_be_visible()
    expect(lead.get_by_test_id("person-form")).to_have_count(0)
    expect(lead.get_by_test_id("tab-persons")).to_be_visible()
    taker = new_page(1280, 720)
    sign_in(taker, base, "jiejing")
    expect(taker.get_by_test_id("intel-denied")).to_contain_text("无权使用情报研判")
    taker2 = new_page(1280, 720)
    log_in(taker2, base, "jiejing")
    expect(taker2.get_by_test_id("intel-link")).to_have_count(0)


def test_list_import(live_server: Any, new_page: Any, shot: Any) -> None:
    """重点人员批量导入 on the page: 检查 reports the bad rows by line and adds nobody; 导入 adds the good ones
    (under the chosen station); the same file again adds nobody; the panel passes axe; a leader has no panel."""
    base = live_server.url
    page = new_page(1280, 900, bypass_csp=True)
    sign_in(page, base, "yanpan")
    good, other = id_number("44030519850615002"), id_number("36010219920303451")
    sheet = ("姓名,身份证号,人员类别,管控级别,联系电话\r\n"
             f"导入甲,{good},吸毒人员,二级,13800138011\r\n"
             f"导入乙,{good[:-1]}{'0' if good[-1] != '0' else '1'},在逃,一级,\r\n"  # wrong check digit
             f"导入丙,{other},不明类别,三级,\r\n"
             f"导入丁,{other},前科,3,\r\n").encode("gbk")
    box = page.get_by_test_id("person-import")
    box.get_by_test_id("import-run").click()
    expect(box.get_by_test_id("field-error-import-file")).to_contain_text("请选择文件")
    box.get_by_test_id("import-file").set_input_files({"name": "名单.csv", "mimeType": "text/csv", "buffer": sheet})
    box.get_by_test_id("import-org").select_option(label="香蜜湖派出所")
    box.get_by_test_id("import-check").click()
    result = box.get_by_test_id("import-result")
    expect(result).to_have_attribute("data-dry-run", "true")
    expect(result.get_by_test_id("import-summary")).to_contain_text("可导入 2")
    expect(result.get_by_test_id("import-summary")).to_contain_text("尚未导入")
    rows = result.locator("[data-testid=import-rejected-row]")
    expect(rows).to_have_count(2)
    expect(result.locator("[data-testid=import-rejected-row][data-line='3']")).to_contain_text("身份证号")
    expect(result.locator("[data-testid=import-rejected-row][data-line='3']")).to_contain_text("GB 11643")
    expect(result.locator("[data-testid=import-rejected-row][data-line='4']")).to_contain_text("人员类别")
    assert violations(page) == [], "list import"
    box.get_by_test_id("import-run").click()
    expect(result).to_have_attribute("data-dry-run", "false")
    expect(result.get_by_test_id("import-summary")).to_contain_text("已导入 2")
    shot(page, "22-intel-list-import")
    page.get_by_test_id("purpose").fill(PURPOSE)
    page.get_by_test_id("person-q").fill(good)
    page.get_by_test_id("person-search").click()
    expect(page.locator("[data-testid=person-row]")).to_have_count(1)
    expect(page.locator("[data-testid=person-row]")).to_contain_text("香蜜湖派出所")
    box.get_by_test_id("import-run").click()
    expect(result.get_by_test_id("import-summary")).to_contain_text("已导入 0，已在库 2")
    # 导出名单 of the 吸毒人员 list: an Excel file with the imported person, under the import's headers.
    page.get_by_test_id("person-filter-category").select_option("吸毒人员")
    with page.expect_download() as dl:
        page.get_by_test_id("person-export").click()
    assert dl.value.suggested_filename == "重点人员-吸毒人员.xlsx"
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(dl.value.path().read_bytes()), read_only=True).worksheets[0]  # no suffix on disk
    got = [list(r) for r in ws.iter_rows(values_only=True)]
    assert got[0][:2] == ["姓名", "公民身份号码"] and [r[1] for r in got[1:]] == [good]
    lead = new_page(1280, 720)
    sign_in(lead, base, "lingdao")
    expect(lead.get_by_test_id("readonly")).to_be_visible()
    expect(lead.get_by_test_id("person-import")).to_have_count(0)


def test_order_for_a_past_record(live_server: Any, new_page: Any, shot: Any) -> None:
    """A record too old for an automatic order is a 历史比中; the analyst sends a 核查指令 for it from the hits list
    (研判下发) to a chosen station (runs after the desk test: the person is on the 在逃 list)."""
    import httpx

    base = live_server.url
    tok = token(base, "yanpan")
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["kind", "at", "person_id", "id_number", "plate", "venue_code", "venue_name",
                                        "lat", "lon", "detail"])
    w.writeheader()
    w.writerow({"kind": "internet_cafe", "at": (NOW - timedelta(days=20)).isoformat(), "person_id": "p1",
                "id_number": PERSON_ID, "plate": "", "venue_code": "NB-T-009", "venue_name": "旧日网吧",
                "lat": 22.5400, "lon": 114.0300, "detail": json.dumps({"seat": "B01"})})
    r = httpx.post(f"{base}/api/v1/intel/ingest", headers={"Authorization": f"Bearer {tok}"},
                   files={"file": ("old.csv", buf.getvalue().encode("utf-8"), "text/csv")},
                   data={"mapping": "sim_activities"}, timeout=60)
    assert r.status_code == 201 and r.json()["collision"]["instructions"] == 0, r.text
    assert r.json()["collision"]["historical"] >= 1
    page = new_page(1280, 900)
    sign_in(page, base, "yanpan")
    page.get_by_test_id("purpose").fill(PURPOSE)
    page.get_by_test_id("tab-hits").click()
    page.get_by_test_id("hit-status").select_option("historical")
    page.get_by_test_id("hits-refresh").click()
    row = page.locator("[data-testid=hit-row]", has_text="旧日网吧").first
    expect(row).to_contain_text("历史比中")
    row.get_by_test_id("hit-instruct").click()
    expect(row.get_by_test_id("hit-instruct-org")).not_to_have_value("")  # the place's station, found at ingest
    row.get_by_test_id("hit-instruct-org").select_option("")
    row.get_by_test_id("hit-instruct-send").click()
    expect(row.get_by_test_id("hit-instruct-error")).to_contain_text("请选择责任单位")
    row.get_by_test_id("hit-instruct-org").select_option(label="香蜜湖派出所")
    row.get_by_test_id("hit-instruct-note").fill("请走访该网吧调取登记")
    row.get_by_test_id("hit-instruct-send").click()
    expect(row).to_contain_text("已下发指令")
    expect(row.get_by_test_id("hit-instruct")).to_have_count(0)
    shot(page, "23-intel-hit-order")
    orders = get(base, "/instructions", tok, kind="verify")
    assert any("研判下发" in o["content"] and "请走访该网吧调取登记" in o["content"] for o in orders)
