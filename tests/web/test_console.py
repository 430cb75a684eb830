"""The command-centre console in a real browser (Debian chromium), end to end.

A call-taker records a call with the keyboard, a dispatcher's screen (open before the call) shows
it live and sends the recommended unit, the officer signs and gives feedback on the phone page in
a second browser context, the dispatcher's screen follows live, and the duty commander closes it.
Screenshots of every screen go to test-artifacts/screens/.
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect

from tests.web.client import TIMEOUT, call, get, log_in, officers, record_call, token


def no_horizontal_overflow(page: Page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"] + 1, f"page is {width}px wide in a {page.viewport_size} viewport"


def test_call_to_close_across_four_screens(live_server: Any, new_page: Any, shot: Any) -> None:
    base = live_server.url
    officer_of = officers(base)

    # The dispatcher's screen is open before the call comes in: the call must arrive live.
    desk = new_page(1280, 720)
    log_in(desk, base, "diaodu")
    expect(desk.get_by_test_id("map").locator(".leaflet-overlay-pane canvas").first).to_be_visible(timeout=TIMEOUT)
    before = desk.get_by_test_id("queue-row").count()

    # 接警: keyboard only. Alt+N opens a new call with the cursor in the phone field.
    taker = new_page(1280, 720)
    log_in(taker, base, "jiejing")
    taker.keyboard.press("Alt+N")
    expect(taker.get_by_test_id("intake-phone")).to_be_focused()
    taker.keyboard.type("13800138000")
    taker.get_by_test_id("intake-description").focus()
    taker.keyboard.type("车公庙地铁站旁边有人抢手机，往香蜜湖方向跑了，嫌疑人穿黑衣服")
    # Live analysis: the caller's number is attributed, the place found, the type suggested.
    expect(taker.get_by_test_id("phone-attribution")).to_contain_text("北京", timeout=TIMEOUT)
    expect(taker.get_by_test_id("address-candidate").first).to_contain_text("车公庙", timeout=TIMEOUT)
    expect(taker.get_by_test_id("type-suggestion").first).to_contain_text("抢", timeout=TIMEOUT)
    taker.keyboard.press("Alt+1")  # take the first suggested type
    taker.keyboard.press("Alt+A")  # and the first address candidate
    expect(taker.get_by_test_id("intake-category")).to_have_value(re.compile(r"^\d{4,6} 刑事/抢"))
    expect(taker.get_by_test_id("intake-point")).to_contain_text("车公庙")
    shot(taker, "01-intake-analysed")
    taker.keyboard.press("Control+Enter")
    expect(taker.get_by_test_id("toast").first).to_contain_text("已接警", timeout=TIMEOUT)
    number = re.search(r"J\d+", taker.get_by_test_id("toast").first.inner_text()).group(0)
    desk_tok = token(base, "diaodu")
    incident = next(i for i in get(base, "/incidents", desk_tok, open_only=True) if i["number"] == number)
    assert incident["caller_phone"] == "13800138000" and incident["category_code"].startswith("010")
    assert 22.51 < incident["lat"] < 22.56 and 113.99 < incident["lon"] < 114.05
    expect(taker.get_by_test_id("intake-description")).to_have_value("")  # ready for the next call
    shot(taker, "02-intake-recorded")

    # 派警: the row arrived on the dispatcher's screen without a reload.
    row = desk.locator(f"[data-testid=queue-row][data-incident-id='{incident['id']}']")
    expect(row).to_be_visible(timeout=TIMEOUT)
    assert desk.get_by_test_id("queue-row").count() == before + 1
    expect(row).to_have_attribute("data-status", "received")
    row.click()
    recs = desk.get_by_test_id("recommendation")
    expect(recs.first).to_be_visible(timeout=TIMEOUT)
    unit_id = int(recs.first.get_attribute("data-unit-id"))
    expected = get(base, f"/incidents/{incident['id']}/recommendations", desk_tok, k=1)["units"][0]
    assert unit_id == expected["unit_id"], "the screen offers the API's best unit first"
    assert expected["eta_s"] is not None, "recommendation by road travel time"
    expect(recs.first).to_contain_text("约")
    expect(desk.locator(".leaflet-overlay-pane path, .leaflet-overlay-pane canvas").first).to_be_visible()
    shot(desk, "03-dispatch-recommended")
    desk.get_by_test_id("dispatch-selected").click()
    instr_row = desk.get_by_test_id("detail-instruction")
    expect(instr_row).to_have_count(1, timeout=TIMEOUT)
    expect(instr_row.get_by_test_id("instruction-status")).to_have_text("待签收")
    instruction_id = int(instr_row.get_attribute("data-instruction-id"))
    expect(row).to_have_attribute("data-status", "dispatched", timeout=TIMEOUT)

    # 民警: the phone page in its own browser context, sharing its position.
    officer = officer_of[unit_id]
    phone = new_page(390, 844, mobile=True, geolocation={"latitude": 22.5330, "longitude": 114.0270})
    log_in(phone, base, officer, "/m")
    card = phone.locator(f"[data-testid=order-card][data-instruction-id='{instruction_id}']")
    expect(card).to_be_visible(timeout=TIMEOUT)
    # The phone shares its position; the unit's marker on the dispatcher's map moves there live.
    marker_at = f"() => {{ const m = window.__zhihuiMap.unitMarkers.get({unit_id}); const p = m && m.getLatLng();" \
                " return p && Math.abs(p.lat - 22.5330) < 1e-6 && Math.abs(p.lng - 114.0270) < 1e-6; }"
    desk.wait_for_function(marker_at, timeout=TIMEOUT)
    shot(phone, "04-phone-order")
    steps = [("btn-ack", "已签收", "signed"), ("btn-en-route", "已出发", "en_route"),
             ("btn-on-scene", "已到场", "on_scene"), ("btn-handled", "处置完毕", "handled")]
    for button, label, status in steps:
        card.get_by_test_id(button).click()
        expect(card.get_by_test_id("order-status")).to_have_text(label, timeout=TIMEOUT)
        # The dispatcher's screen follows every step live.
        expect(instr_row).to_have_attribute("data-status", status, timeout=TIMEOUT)
    card.get_by_test_id("btn-feedback").click()
    phone.get_by_test_id("feedback-code").select_option("arrested")
    phone.get_by_test_id("feedback-text").fill("嫌疑人已抓获，手机已追回")
    shot(phone, "05-phone-feedback")
    phone.get_by_test_id("feedback-submit").click()
    expect(instr_row).to_have_attribute("data-status", "feedback", timeout=TIMEOUT)
    expect(desk.get_by_test_id("instruction-feedback")).to_contain_text("嫌疑人已抓获", timeout=TIMEOUT)
    expect(desk.get_by_test_id("detail-status")).to_have_text("已反馈", timeout=TIMEOUT)
    expect(desk.get_by_test_id("timeline")).to_contain_text("反馈")
    shot(desk, "06-desk-after-feedback")

    # 结案 by the duty commander; the incident leaves every open queue live.
    boss = new_page(1280, 720)
    log_in(boss, base, "zhihui")
    boss_row = boss.locator(f"[data-testid=queue-row][data-incident-id='{incident['id']}']")
    boss_row.click()
    boss.get_by_test_id("close-result").fill("抓获嫌疑人1名，移交刑警大队")
    shot(boss, "07-commander-close")
    boss.get_by_test_id("close-incident").click()
    expect(boss.get_by_test_id("detail-status")).to_have_text("已结案", timeout=TIMEOUT)
    expect(row).to_have_count(0, timeout=TIMEOUT)
    final = get(base, f"/incidents/{incident['id']}", desk_tok)
    assert final["status"] == "closed" and final["close_result"].startswith("抓获")
    assert [i["status"] for i in final["instructions"]] == ["feedback"]
    assert final["instructions"][0]["result_code"] == "arrested"
    assert get(base, f"/units/{unit_id}", desk_tok)["position_at"] is not None, "the phone shared its position"
    shot(desk, "08-desk-closed")


def test_dropped_connection_misses_nothing(live_server: Any, proxy: Any, new_page: Any, shot: Any) -> None:
    """The desk reaches the centre through a link that goes down: calls recorded meanwhile appear
    once it is back, without a reload."""
    page = new_page(1280, 720, also_origin=proxy.url)
    log_in(page, proxy.url, "diaodu")
    proxy.drop()
    expect(page.get_by_test_id("conn-state")).to_have_text("重连中…", timeout=TIMEOUT)
    ids = [record_call(live_server.url, {"category_code": "0201", "description": f"断线期间的警情{k}",
                                         "caller_phone": "13900000000", "address": "深圳市福田区香梅路1号",
                                         "lat": 22.538, "lon": 114.028 + k * 0.002})["id"] for k in range(2)]
    for i in ids:
        expect(page.locator(f"[data-testid=queue-row][data-incident-id='{i}']")).to_have_count(0)
    proxy.restore()
    expect(page.get_by_test_id("conn-state")).to_have_text("实时", timeout=TIMEOUT)
    for i in ids:
        expect(page.locator(f"[data-testid=queue-row][data-incident-id='{i}']")).to_be_visible(timeout=TIMEOUT)
    shot(page, "09-after-reconnect")


def test_english_switch_and_layouts(live_server: Any, new_page: Any, shot: Any) -> None:
    base = live_server.url
    page = new_page(1280, 720)
    log_in(page, base, "zhihui")
    no_horizontal_overflow(page)
    # 热点预测 is a map layer, off until asked for; turning it on asks GET /analytics/hotspots.
    page.locator(".leaflet-control-layers").hover()
    with page.expect_response(lambda r: "/analytics/hotspots" in r.url) as resp:
        page.get_by_label("热点预测").check()
    assert resp.value.status == 200
    page.wait_for_function("() => typeof window.__zhihuiMap.hotspotCount === 'number'")
    page.mouse.move(600, 400)
    page.get_by_test_id("lang-switch").click()
    expect(page.get_by_test_id("tab-intake")).to_have_text("Intake")
    expect(page.get_by_test_id("conn-state")).to_have_text("Live")
    # The header's last control (log out) stays on screen in English too, with the link to /stats.
    expect(page.get_by_test_id("stats-link")).to_have_attribute("href", "/stats")
    box = page.get_by_test_id("logout").bounding_box()
    assert box and box["x"] + box["width"] <= 1280, box
    # …and the overdue counter, the one that matters most, is not clipped by the header's links.
    clip = page.evaluate("""() => { const s = document.querySelector('.top .stats').getBoundingClientRect();
        const o = document.querySelector('[data-testid=stat-overdue]').getBoundingClientRect();
        return s.right - o.right; }""")
    assert clip >= 0, clip
    shot(page, "10-console-english")
    page.get_by_test_id("lang-switch").click()
    expect(page.get_by_test_id("tab-intake")).to_have_text("接警")
    # The 警情清零 view is there for the duty commander.
    page.get_by_test_id("queue-tab-backlog").click()
    expect(page.get_by_test_id("queue-backlog")).to_be_attached()
    narrow = new_page(390, 844, mobile=True)
    log_in(narrow, base, "zhihui")
    no_horizontal_overflow(narrow)
    shot(narrow, "11-console-narrow")


def test_intake_names_the_missing_field(live_server: Any, new_page: Any) -> None:
    page = new_page(1280, 720)
    log_in(page, live_server.url, "jiejing")
    page.get_by_test_id("intake-description").fill("有人吵架")
    page.get_by_test_id("intake-category").fill("不存在的类别")
    page.keyboard.press("Control+Enter")
    expect(page.get_by_test_id("error-category")).to_be_visible()
    expect(page.get_by_test_id("toast")).to_have_count(0)


def test_wall_display_mode(live_server: Any, new_page: Any, shot: Any) -> None:
    """大屏: the map and the queue only, large type, no forms; kept across reloads."""
    page = new_page(1920, 1080)
    log_in(page, live_server.url, "zhihui")
    page.get_by_test_id("wall-switch").click()
    expect(page.get_by_test_id("intake-form")).to_be_hidden()
    expect(page.get_by_test_id("map")).to_be_visible()
    box = page.get_by_test_id("map").bounding_box()
    assert box and box["width"] > 1200, box
    size = page.evaluate("() => getComputedStyle(document.querySelector('[data-testid=console]')).fontSize")
    assert float(size.rstrip("px")) >= 18
    page.reload()
    expect(page.get_by_test_id("console")).to_have_class(re.compile(r"\bwall\b"))
    expect(page.get_by_test_id("conn-state")).to_have_text("实时", timeout=TIMEOUT)
    expect(page.locator(".unit-icon").first).to_be_visible(timeout=TIMEOUT)
    expect(page.locator(".road-label").first).to_be_visible(timeout=TIMEOUT)
    no_horizontal_overflow(page)
    shot(page, "13-wall-display")
    page.get_by_test_id("wall-switch").click()
    expect(page.get_by_test_id("intake-form")).to_be_visible()


def test_keyboard_dispatch_only_from_the_visible_panel(live_server: Any, new_page: Any) -> None:
    """Alt+D sends the ticked units from the incident panel, and does nothing while the intake form
    is on screen (a hidden panel must never send units)."""
    base = live_server.url
    iid = record_call(base, {"category_code": "0602", "description": "老人走失，穿灰色外套",
                             "caller_phone": "13800138003", "address": "深圳市福田区农园路10号",
                             "lat": 22.5450, "lon": 114.0160})["id"]
    page = new_page(1280, 720)
    log_in(page, base, "diaodu")
    row = page.locator(f"[data-testid=queue-row][data-incident-id='{iid}']")
    expect(row).to_be_visible()
    page.keyboard.press("Alt+Q")
    expect(page.locator("[data-testid=queue-row]:focus")).to_have_count(1)
    row.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("recommendation").first).to_be_visible(timeout=TIMEOUT)
    page.keyboard.press("Escape")
    expect(page.get_by_test_id("intake-form")).to_be_visible()
    page.keyboard.press("Alt+D")
    page.wait_for_timeout(1000)
    detail = get(base, f"/incidents/{iid}", token(base, "diaodu"))
    assert detail["instructions"] == [], "Alt+D from the intake form must not dispatch"
    page.get_by_test_id("tab-detail").click()
    expect(page.get_by_test_id("incident-detail")).to_be_visible()
    expect(page.get_by_test_id("dispatch-selected")).to_be_enabled(timeout=TIMEOUT)
    page.keyboard.press("Alt+D")
    expect(page.get_by_test_id("detail-instruction")).to_have_count(1, timeout=TIMEOUT)
    expect(row).to_have_attribute("data-status", "dispatched", timeout=TIMEOUT)


def test_times_are_beijing_time_wherever_the_browser_is(live_server: Any, new_page: Any) -> None:
    """A workstation left on another time zone still shows Asia/Shanghai times (stored UTC)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    page = new_page(1280, 720, timezone="America/New_York")
    log_in(page, live_server.url, "zhihui")
    shown = page.get_by_test_id("clock").inner_text()
    bj = ZoneInfo("Asia/Shanghai")
    now = datetime.now(bj).timestamp()
    near = {datetime.fromtimestamp(now + d, bj).strftime("%Y/%m/%d %H:%M") for d in (-60, 0, 60)}
    assert any(stamp in shown for stamp in near), (shown, near)


def test_each_role_is_offered_only_what_it_may_do(live_server: Any, new_page: Any) -> None:
    """The screen offers what the API would accept: no button that can only answer 403."""
    base = live_server.url
    iid = record_call(base, {"category_code": "0201", "description": "有人打架", "caller_phone": "13800138004",
                             "address": "深圳市福田区香林路5号", "lat": 22.5400, "lon": 114.0180})["id"]

    def open_incident(username: str) -> Page:
        page = new_page(1280, 720)
        log_in(page, base, username)
        page.locator(f"[data-testid=queue-row][data-incident-id='{iid}']").click()
        expect(page.get_by_test_id("incident-detail")).to_be_visible(timeout=TIMEOUT)
        return page

    # The queue filter finds it by a piece of its address and hides it for another.
    probe = new_page(1280, 720)
    log_in(probe, base, "diaodu")
    row = probe.locator(f"[data-testid=queue-row][data-incident-id='{iid}']")
    probe.get_by_test_id("queue-filter").fill("香林路5")
    expect(row).to_be_visible()
    probe.get_by_test_id("queue-filter").fill("不存在的地址")
    expect(row).to_have_count(0)

    taker = open_incident("jiejing")  # records calls, sees the best units, does not dispatch or close
    expect(taker.get_by_test_id("recommendation").first).to_be_visible(timeout=TIMEOUT)
    expect(taker.get_by_test_id("dispatch-selected")).to_have_count(0)
    expect(taker.get_by_test_id("close-form")).to_have_count(0)
    expect(taker.get_by_test_id("queue-tab-backlog")).to_have_count(0)
    leader = open_incident("lingdao")  # reads everything, records nothing
    expect(leader.get_by_test_id("tab-intake")).to_have_count(0)
    expect(leader.get_by_test_id("intake-form")).to_have_count(0)
    expect(leader.get_by_test_id("recommendation").first).to_be_visible(timeout=TIMEOUT)
    expect(leader.get_by_test_id("dispatch-selected")).to_have_count(0)
    expect(leader.get_by_test_id("queue-tab-backlog")).to_have_count(1)
    boss = open_incident("zhihui")  # the duty commander may do all of it
    expect(boss.get_by_test_id("dispatch-selected")).to_have_count(1, timeout=TIMEOUT)
    expect(boss.get_by_test_id("close-form")).to_have_count(1)


def test_desk_records_a_radio_unit_and_withdraws_an_order(live_server: Any, new_page: Any, shot: Any) -> None:
    """A fire engine has no phone: the dispatcher signs and reports for it from the panel, and can
    withdraw a second order with a reason."""
    base = live_server.url
    desk_tok = token(base, "diaodu")
    units = {u["call_sign"]: u["id"] for u in get(base, "/units", desk_tok)}
    iid = record_call(base, {"category_code": "05", "description": "居民楼厨房起火，有浓烟",
                             "caller_phone": "13800138005", "address": "深圳市福田区香林路12号",
                             "lat": 22.5405, "lon": 114.0200}, username="diaodu")["id"]
    sent = call(base, "POST", f"/incidents/{iid}/dispatch", desk_tok,
                json={"unit_ids": [units["福田消防01"], units["车公庙巡01"]]})
    fire, patrol = (next(i["id"] for i in sent if i["unit_id"] == units[c]) for c in ("福田消防01", "车公庙巡01"))

    page = new_page(1280, 720)
    log_in(page, base, "diaodu")
    page.locator(f"[data-testid=queue-row][data-incident-id='{iid}']").click()
    engine = page.locator(f"[data-testid=detail-instruction][data-instruction-id='{fire}']")
    for button, status in (("desk-ack", "signed"), ("desk-step", "en_route"), ("desk-step", "on_scene"),
                           ("desk-step", "handled")):
        engine.get_by_test_id(button).click()
        expect(engine).to_have_attribute("data-status", status, timeout=TIMEOUT)
    engine.get_by_test_id("desk-feedback").click()
    engine.get_by_test_id("desk-feedback-code").select_option("resolved")
    engine.get_by_test_id("desk-text").fill("明火已扑灭，无人员伤亡（电台报）")
    engine.get_by_test_id("desk-submit").click()
    expect(engine).to_have_attribute("data-status", "feedback", timeout=TIMEOUT)
    car = page.locator(f"[data-testid=detail-instruction][data-instruction-id='{patrol}']")
    car.get_by_test_id("desk-cancel").click()
    car.get_by_test_id("desk-text").fill("消防已处置完毕，巡逻车无需到场")
    car.get_by_test_id("desk-submit").click()
    expect(car).to_have_attribute("data-status", "cancelled", timeout=TIMEOUT)
    final = get(base, f"/incidents/{iid}", desk_tok)
    by_id = {i["id"]: i for i in final["instructions"]}
    assert by_id[fire]["result_code"] == "resolved" and by_id[fire]["feedback_text"].startswith("明火已扑灭")
    assert by_id[patrol]["status"] == "cancelled"
    assert final["status"] == "handled", "every live order answered: the incident waits for 结案"
    expect(page.get_by_test_id("detail-status")).to_have_text("已反馈", timeout=TIMEOUT)
    shot(page, "14-desk-radio-unit")
    assert any(e["type"] == "instruction.signed" and e["user"] == "diaodu" for e in final["events"])
