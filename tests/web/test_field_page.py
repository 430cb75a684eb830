"""The officers' phone page (民警移动端, `/m`) in a real browser at phone size (390×844).

A desk user records and dispatches calls through the HTTP API; the officer of the unit works the
order on the phone: 签收, 出发, 到场, 处置完毕, 反馈 with a result code, while the phone shares its
position. New orders and withdrawals arrive live; refusals from the server are shown, not swallowed.
Screenshots go to test-artifacts/screens/field-*.png.
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.sync_api import Page, expect

from tests.web.client import PASSWORD, TIMEOUT, call, log_in, record_call, token
from tests.web.test_accessibility import violations

PHONE = {"width": 390, "height": 844}
HERE = {"latitude": 22.5330, "longitude": 114.0270}  # 车公庙, WGS-84 as a phone's GPS reports it


def officer(base: str, username: str) -> int:
    """The unit the demo officer account is bound to."""
    users = call(base, "GET", "/users", token(base, "admin"))
    return int(next(u["unit_id"] for u in users if u["username"] == username))


def police_category(base: str, tok: str) -> str:
    """A leaf 警情 type the police handle (not a 12345 referral)."""
    def leaves(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for n in nodes:
            out.extend(leaves(n["children"]) if n["children"] else [n])
        return out

    found = [c for c in leaves(call(base, "GET", "/meta/categories", tok)) if c.get("police", True)]
    assert found, "no police category in the tree"
    return str(next((c for c in found if "盗窃" in c["name"]), found[0])["code"])


def dispatch_to(base: str, unit_id: int, description: str, *, lon: float = 114.0553) -> tuple[dict[str, Any], int]:
    """Record a call as the call-taker and send the unit as the dispatcher: (incident, instruction id)."""
    incident = record_call(base, {"category_code": police_category(base, token(base, "jiejing")),
                                  "description": description, "address": "深圳市福田区深南大道1000号",
                                  "lat": 22.5405, "lon": lon, "caller_phone": "13800138000"})
    sent = call(base, "POST", f"/incidents/{incident['id']}/dispatch", token(base, "diaodu"),
                json={"unit_ids": [unit_id]})
    assert [i["unit_id"] for i in sent] == [unit_id]
    return incident, int(sent[0]["id"])


def phone(new_page: Any, geolocation: dict[str, float] | None = None, *, axe: bool = False) -> Page:
    """A phone-sized page; axe=True lets the test inject axe-core (the page's CSP would refuse it)."""
    return new_page(PHONE["width"], PHONE["height"], mobile=True,  # type: ignore[no-any-return]
                    geolocation=geolocation, bypass_csp=axe)


def fits_the_phone(page: Page) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page is {width}px wide on a {PHONE['width']}px phone"


def small_targets(page: Page) -> list[str]:
    """Visible buttons, inputs and links smaller than 44px in either direction."""
    return page.evaluate("""() => [...document.querySelectorAll('button, input, select, textarea, a[href], summary')]
        .filter((el) => el.offsetParent !== null)
        .map((el) => [el, el.closest('label') || el])
        .filter(([el, hit]) => { const r = hit.getBoundingClientRect(); return r.height < 44 || r.width < 44; })
        .map(([el]) => el.outerHTML.slice(0, 80))""")


def test_officer_works_an_order_from_sign_to_feedback(live_server: Any, new_page: Any, shot: Any) -> None:
    base = live_server.url
    unit_id = officer(base, "mj101")
    started = datetime.now(UTC) - timedelta(seconds=5)
    incident, instruction_id = dispatch_to(base, unit_id, "超市门口电动车被盗，报警人在现场等候")

    page = phone(new_page, HERE)
    page.goto(base + "/m")
    expect(page.get_by_test_id("login-submit")).to_be_visible()
    fits_the_phone(page)
    shot(page, "field-01-login")
    log_in(page, base, "mj101", "/m")

    unit = call(base, "GET", f"/units/{unit_id}", token(base, "diaodu"))
    expect(page.get_by_test_id("unit-call-sign")).to_have_text(unit["call_sign"])
    card = page.locator(f"[data-testid=order-card][data-instruction-id='{instruction_id}']")
    expect(card).to_be_visible(timeout=TIMEOUT)
    expect(card.get_by_test_id("order-status")).to_have_text("待签收")
    expect(card.get_by_test_id("order-address")).to_have_text("深圳市福田区深南大道1000号", timeout=TIMEOUT)
    expect(card).to_contain_text("超市门口电动车被盗")
    expect(card.get_by_test_id("caller-phone")).to_have_attribute("href", "tel:13800138000")
    expect(card.get_by_test_id("countdown")).to_contain_text(re.compile(r"签收剩余 \d+:\d\d"))
    # Only 签收 is offered before signing.
    expect(card.get_by_test_id("btn-en-route")).to_have_count(0)
    expect(card.get_by_test_id("btn-feedback")).to_have_count(0)
    # The phone shares its position (at most one PUT every 10 s) and says when it last did.
    expect(page.get_by_test_id("share-position")).to_be_checked()
    expect(page.get_by_test_id("share-state")).to_contain_text("上次发送", timeout=TIMEOUT)
    fits_the_phone(page)
    assert small_targets(page) == [], "touch targets under 44px"
    shot(page, "field-02-order")

    steps = [("btn-ack", "已签收", "signed"), ("btn-en-route", "已出发", "en_route"),
             ("btn-on-scene", "已到场", "on_scene"), ("btn-handled", "处置完毕", "handled")]
    for n, (button, label, status) in enumerate(steps, start=3):
        card.get_by_test_id(button).click()
        expect(card.get_by_test_id("order-status")).to_have_text(label, timeout=TIMEOUT)
        expect(card).to_have_attribute("data-status", status)
        expect(card.get_by_test_id("order-error")).to_have_count(0)
        if status == "signed":
            expect(card.get_by_test_id("countdown")).to_contain_text("反馈剩余")
        shot(page, f"field-{n:02d}-{status}")
    expect(page.get_by_test_id("unit-status")).to_have_text("现场", timeout=TIMEOUT)

    card.get_by_test_id("btn-feedback").click()
    codes = call(base, "GET", "/instructions/result-codes", token(base, "mj101"))
    options = page.get_by_test_id("feedback-code").locator("option:not([disabled])")
    expect(options).to_have_count(len(codes))
    expect(page.get_by_test_id("feedback-submit")).to_be_disabled()  # nothing chosen yet
    page.get_by_test_id("feedback-code").select_option("case_filed")
    page.get_by_test_id("feedback-text").fill("车辆未找回，已告知报警人到派出所报案，已受案")
    fits_the_phone(page)
    shot(page, "field-07-feedback-form")
    page.get_by_test_id("feedback-submit").click()

    # The finished order leaves the current list for the collapsed 已完成 section.
    expect(page.get_by_test_id("no-orders")).to_be_visible(timeout=TIMEOUT)
    expect(card).to_have_count(0)
    done = page.get_by_test_id("done-orders")
    expect(done).to_contain_text("已完成 (1)")
    done.locator("summary").click()
    expect(card.get_by_test_id("order-status")).to_have_text("已反馈")
    expect(card).to_contain_text("已受案/立案")
    shot(page, "field-08-done")

    desk = token(base, "diaodu")
    final = call(base, "GET", f"/instructions/{instruction_id}", desk)
    assert final["status"] == "feedback" and final["result_code"] == "case_filed"
    assert final["feedback_text"].startswith("车辆未找回")
    assert all(final[k] for k in ("signed_at", "en_route_at", "on_scene_at", "handled_at", "feedback_at"))
    assert call(base, "GET", f"/incidents/{incident['id']}", desk)["status"] == "handled"
    unit = call(base, "GET", f"/units/{unit_id}", desk)
    assert unit["position_at"] is not None and datetime.fromisoformat(unit["position_at"]) >= started
    assert abs(unit["lat"] - HERE["latitude"]) < 1e-5 and abs(unit["lon"] - HERE["longitude"]) < 1e-5, \
        "the phone's WGS-84 fix is stored as sent"

    # The officer drives on: the newest fix goes out once the 10-second window has passed.
    page.context.set_geolocation({"latitude": 22.5400, "longitude": 114.0500})
    deadline = datetime.now(UTC) + timedelta(seconds=25)
    while datetime.now(UTC) < deadline:
        unit = call(base, "GET", f"/units/{unit_id}", desk)
        if abs(unit["lat"] - 22.54) < 1e-5:
            break
        page.wait_for_timeout(500)
    assert abs(unit["lat"] - 22.54) < 1e-5 and abs(unit["lon"] - 114.05) < 1e-5, "the moved phone's fix was sent"
    track = call(base, "GET", f"/units/{unit_id}/track", desk)
    mine = [p for p in track if datetime.fromisoformat(p["at"]) >= started]
    gaps = [(datetime.fromisoformat(b["at"]) - datetime.fromisoformat(a["at"])).total_seconds()
            for a, b in itertools.pairwise(mine)]
    # Sent at most every 10 s (arrival jitter on a loaded machine allowed for).
    assert len(mine) >= 2 and min(gaps) >= 8, f"at most one fix every ~10 s: {gaps}"


def test_new_order_arrives_live_and_a_withdrawal_is_announced(live_server: Any, new_page: Any, shot: Any) -> None:
    base = live_server.url
    unit_id = officer(base, "mj102")
    page = phone(new_page, axe=True)
    page.add_init_script("navigator.vibrate = (p) => { (window.__buzz = window.__buzz || []).push(p); return true; }")
    log_in(page, base, "mj102", "/m")
    expect(page.get_by_test_id("no-orders")).to_be_visible()
    expect(page.get_by_test_id("new-order-alert")).to_have_count(0)

    _, first = dispatch_to(base, unit_id, "小区楼下有人吵架，声音很大", lon=114.0560)
    card = page.locator(f"[data-testid=order-card][data-instruction-id='{first}']")
    expect(card).to_be_visible(timeout=TIMEOUT)  # no reload: it came over the live stream
    alert = page.get_by_test_id("new-order-alert")
    expect(alert).to_contain_text("新指令")
    assert page.evaluate("() => (window.__buzz || []).length") >= 1, "the phone vibrates on a new order"
    fits_the_phone(page)
    shot(page, "field-09-new-order-live")
    alert.get_by_role("button").click()
    expect(alert).to_have_count(0)

    # The centre withdraws it: the phone says so and the order leaves the current list.
    call(base, "POST", f"/instructions/{first}/cancel", token(base, "diaodu"), json={"reason": "报警人称已自行解决"})
    expect(page.get_by_test_id("withdrawn-alert")).to_be_visible(timeout=TIMEOUT)
    expect(card).to_have_count(0)
    expect(page.get_by_test_id("no-orders")).to_be_visible()
    expect(page.get_by_test_id("done-orders")).to_contain_text("已完成 (1)")
    shot(page, "field-10-withdrawn")

    # The unit is free again and gets the next call, live as well.
    _, second = dispatch_to(base, unit_id, "路口两车剐蹭，双方争执", lon=114.0570)
    cards = page.get_by_test_id("order-card")
    expect(cards).to_have_count(1, timeout=TIMEOUT)
    expect(cards.first).to_have_attribute("data-instruction-id", str(second))
    expect(page.get_by_test_id("new-order-alert")).to_be_visible()

    # English on the switch, and back.
    page.get_by_test_id("lang-switch").click()
    expect(page.get_by_test_id("conn-state")).to_have_text("Live")
    expect(cards.first.get_by_test_id("order-status")).to_have_text("Awaiting sign-off")
    expect(cards.first.get_by_test_id("btn-ack")).to_have_text("Sign for it")
    fits_the_phone(page)
    shot(page, "field-11-english")
    assert violations(page) == [], "alerts, live order, English"
    page.get_by_test_id("lang-switch").click()
    expect(cards.first.get_by_test_id("btn-ack")).to_have_text("签收")


def test_refusals_are_shown_to_the_officer(live_server: Any, new_page: Any, shot: Any) -> None:
    """With the live stream cut, the desk signs on the unit's behalf (代签收 after a radio call); the
    phone still offers 签收, and the server's 409 is shown and the card corrected."""
    base = live_server.url
    unit_id = officer(base, "mj103")
    _, instruction_id = dispatch_to(base, unit_id, "商铺卷帘门被撬", lon=114.0580)
    page = phone(new_page, axe=True)
    page.clock.install()  # runs at the normal pace until the test jumps ahead
    page.route("**/api/v1/events**", lambda route: route.abort())
    page.goto(base + "/m")
    page.get_by_test_id("login-username").fill("mj103")
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("conn-state")).to_have_text("重连中…", timeout=TIMEOUT)
    card = page.locator(f"[data-testid=order-card][data-instruction-id='{instruction_id}']")
    expect(card.get_by_test_id("btn-ack")).to_be_visible(timeout=TIMEOUT)

    call(base, "POST", f"/instructions/{instruction_id}/acknowledge", token(base, "diaodu"))
    card.get_by_test_id("btn-ack").click()
    expect(card.get_by_test_id("order-error")).to_contain_text("该指令当前为「已签收」", timeout=TIMEOUT)
    expect(card.get_by_test_id("order-error")).to_contain_text("cannot go to")  # the server's own words too
    expect(card.get_by_test_id("order-status")).to_have_text("已签收", timeout=TIMEOUT)
    expect(card.get_by_test_id("btn-en-route")).to_be_visible()
    shot(page, "field-12-refused")

    # Two hours later without feedback the countdown has run out: it turns red and counts up.
    expect(card.get_by_test_id("countdown")).to_contain_text("反馈剩余 1:5")
    page.clock.fast_forward("02:01:00")
    expect(card.get_by_test_id("countdown")).to_contain_text(re.compile(r"反馈超时 \+\d:\d\d"))
    expect(card.get_by_test_id("countdown")).to_have_class(re.compile(r"\blate\b"))
    expect(card).to_have_class(re.compile(r"\boverdue\b"))
    color = card.get_by_test_id("countdown").evaluate("el => getComputedStyle(el).backgroundColor")
    assert color == "rgb(176, 0, 0)", f"overdue is red, not {color}"
    shot(page, "field-13-overdue")
    card.get_by_test_id("btn-feedback").click()
    expect(page.get_by_test_id("feedback-code")).to_be_visible()
    assert violations(page) == [], "error message and feedback form"

    # A wrong password is named on the login form.
    page.get_by_test_id("logout").click()
    page.get_by_test_id("login-username").fill("mj103")
    page.get_by_test_id("login-password").fill("wrong-password")
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("login-error")).to_contain_text("登录失败", timeout=TIMEOUT)
