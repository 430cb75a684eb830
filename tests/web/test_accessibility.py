"""Accessibility of the screens, checked by axe-core (WCAG 2.x A and AA rules: contrast, labels,
names, roles) in the real browser. axe is injected for the test only; the product never loads it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.web.client import TIMEOUT, call, log_in, officers, record_call, token

AXE = Path(__file__).parent / "vendor" / "axe.min.js"


def violations(page: Page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("""async () => {
        const r = await axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21aa"]}});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.slice(0, 3).map(n => n.target.join(" "))}));
    }""")
    return [f"{v['impact']} {v['id']}: {v['help']} at {v['nodes']}" for v in found
            if v["impact"] in ("serious", "critical")]


def make_incident(base: str, *, dispatch: bool) -> dict[str, Any]:
    incident = record_call(base, {"category_code": "0201", "description": "小区门口有人打架，约五人",
                                  "caller_phone": "13800138002", "address": "深圳市福田区香梅路30号",
                                  "lat": 22.5440, "lon": 114.0350}, username="diaodu")
    if dispatch:
        incident["instruction"] = call(base, "POST", f"/incidents/{incident['id']}/dispatch",
                                       token(base, "diaodu"), json={"recommended": 1})[0]
    return incident


def test_console_screens_pass_axe(live_server: Any, new_page: Any) -> None:
    base = live_server.url
    page = new_page(1280, 720, bypass_csp=True)
    page.goto(base + "/")
    assert violations(page) == [], "login screen"
    incident = make_incident(base, dispatch=False)
    log_in(page, base, "diaodu")
    page.get_by_test_id("intake-description").fill("深南大道有人抢包")
    expect(page.get_by_test_id("type-suggestion").first).to_be_visible(timeout=TIMEOUT)
    assert violations(page) == [], "intake form with analysis"
    page.locator(f"[data-testid=queue-row][data-incident-id='{incident['id']}']").click()
    expect(page.get_by_test_id("recommendation").first).to_be_visible(timeout=TIMEOUT)
    assert violations(page) == [], "incident detail with recommendations"


def test_phone_page_passes_axe(live_server: Any, new_page: Any) -> None:
    base = live_server.url
    incident = make_incident(base, dispatch=True)
    officer = officers(base)[incident["instruction"]["unit_id"]]
    page = new_page(390, 844, mobile=True, bypass_csp=True)
    page.goto(base + "/m")
    assert violations(page) == [], "phone login"
    log_in(page, base, officer, "/m")
    expect(page.get_by_test_id("order-card").first).to_be_visible(timeout=TIMEOUT)
    assert violations(page) == [], "phone orders"
