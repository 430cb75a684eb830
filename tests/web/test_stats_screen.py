"""研判统计 (/stats) in a real browser: counts with 环比/同比 and the KPI table from the live server, a CSV
download, access refused for a role without it, the English switch."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
from playwright.sync_api import expect

from tests.web.client import PASSWORD, call, record_call, token


def test_statistics_page(live_server: Any, new_page: Any, shot: Any) -> None:
    base = live_server.url
    made = [record_call(base, {"channel": "110", "caller_phone": f"1390013{9000 + i}", "category_code": code,
                               "address": "深圳市福田区深南大道6008号", "lat": 22.5405, "lon": 114.0253,
                               "description": "测试统计页面的警情"})
            for i, code in enumerate(("0201", "0201", "04"))]
    call(base, "POST", f"/incidents/{made[0]['id']}/dispatch", token(base, "diaodu"), json={"recommended": 1})
    # Last week (Beijing): nine knife attacks at one place after twelve weeks of one a week → a red/orange warning.
    bj = ZoneInfo("Asia/Shanghai")
    today = datetime.now(bj).replace(hour=0, minute=0, second=0, microsecond=0)
    last_monday = today - timedelta(days=today.weekday() + 7)
    times = [last_monday - timedelta(weeks=k) + timedelta(days=2, hours=21) for k in range(1, 13)]
    times += [last_monday + timedelta(days=k % 5, hours=21, minutes=k) for k in range(9)]
    for i, at in enumerate(times):
        record_call(base, {"channel": "110", "caller_phone": f"1370013{7000 + i}", "category_code": "010201",
                           "address": "深圳市福田区深南大道6008号", "lat": 22.5405, "lon": 114.0253,
                           "description": "有人持刀伤人", "received_at": at.isoformat()})

    page = new_page(1280, 900)
    page.goto(base + "/stats")
    page.get_by_test_id("login-username").fill("lingdao")
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    page.get_by_test_id("preset-today").click()
    expect(page.get_by_test_id("total")).to_have_text("3")
    row = page.locator('[data-testid=count-row][data-key="02"]')
    expect(row).to_contain_text("治安")
    expect(row).to_contain_text("2")
    kpi = page.locator('[data-testid=kpi-row][data-group="all"]')
    expect(kpi).to_contain_text("3")  # incidents
    page.get_by_test_id("by").select_option("hour")
    expect(page.locator("[data-testid=count-row]").first).to_be_visible()
    with page.expect_download() as dl:
        page.get_by_test_id("csv-counts").click()
    text = open(dl.value.path(), encoding="utf-8-sig").read()
    assert text.startswith("key,label,count") and "时" in text
    with page.expect_download() as dl:
        page.get_by_test_id("xlsx-counts").click()
    assert dl.value.suggested_filename.endswith(".xlsx")
    with open(dl.value.path(), "rb") as fh:  # Playwright saves downloads without an extension
        rows = list(openpyxl.load_workbook(io.BytesIO(fh.read())).active.iter_rows(values_only=True))
    assert rows[0][:3] == ("key", "label", "count") and len(rows) >= 2
    # 警情热点与预测: the knife attacks' block is the top cell of the long-run map, with its backtest shown.
    page.get_by_test_id("hot-method").select_option("naive")
    top = page.locator("[data-testid=hot-row]").first
    expect(top).to_contain_text("22.54")
    expect(page.get_by_test_id("hot-backtest")).to_contain_text("PAI")
    expect(page.get_by_test_id("hot-map")).to_have_attribute("data-cells", re.compile(r"^[1-9]"))
    expect(page.locator("[data-testid=hot-map] canvas").first).to_be_attached()
    warning = page.locator("[data-testid=warning]").first
    expect(warning).to_contain_text("刑事")
    assert warning.get_attribute("data-level") in ("orange", "red")
    expect(page.get_by_test_id("countermeasures")).to_contain_text("加强巡逻")
    shot(page, "16-stats")
    page.get_by_test_id("lang-switch").click()
    expect(page.get_by_test_id("counts")).to_contain_text("Incident counts")


def test_statistics_need_an_analytic_role(live_server: Any, new_page: Any) -> None:
    page = new_page(1280, 720)
    page.goto(live_server.url + "/stats")
    page.get_by_test_id("login-username").fill("jiejing")
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    expect(page.get_by_test_id("stats-error")).to_contain_text("无权查看统计")
