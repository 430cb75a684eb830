"""Overdue orders turn red on every desk by themselves: the server's deadline timer marks them and
the screens follow the live stream (short deadlines for the test)."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.web.client import TIMEOUT, call, log_in, record_call, token
from zhihui.core.config import Deadlines

LIVE_SETTINGS = {"deadlines": Deadlines(sign_urgent=2, sign_normal=2, feedback_urgent=600, feedback_normal=600),
                 "scheduler_interval_s": 0.5}


def test_unsigned_order_goes_red_on_the_desk(live_server: Any, new_page: Any, shot: Any) -> None:
    base = live_server.url
    desk = new_page(1280, 720)
    log_in(desk, base, "zhihui")
    desk.get_by_test_id("queue-tab-orders").click()
    expect(desk.get_by_test_id("stat-overdue")).to_contain_text("0")

    incident = record_call(base, {"category_code": "0201", "description": "商场门口有人打架",
                                  "caller_phone": "13800138001", "address": "深圳市福田区农林路20号",
                                  "lat": 22.5420, "lon": 114.0110}, username="diaodu")
    instruction = call(base, "POST", f"/incidents/{incident['id']}/dispatch", token(base, "diaodu"),
                       json={"recommended": 1})[0]

    row = desk.locator(f"[data-testid=order-row][data-instruction-id='{instruction['id']}']")
    expect(row).to_be_visible(timeout=TIMEOUT)
    expect(row).to_have_attribute("data-status", "sent")
    # Nobody signs: two seconds later the server flags it and the desk shows it without a reload.
    expect(row).to_have_class(re.compile(r"\boverdue\b"), timeout=TIMEOUT)
    expect(row).to_contain_text("签收超时")
    expect(desk.get_by_test_id("stat-overdue")).to_contain_text("1", timeout=TIMEOUT)
    expect(desk.get_by_test_id("stat-overdue")).to_have_class(re.compile(r"\balarm\b"))
    desk.get_by_test_id("queue-tab-overdue").click()
    queue_row = desk.locator(f"[data-testid=queue-row][data-incident-id='{incident['id']}']")
    expect(queue_row).to_have_class(re.compile(r"\boverdue\b"))
    expect(desk.get_by_test_id("overdue-list")).to_contain_text(instruction["unit_call_sign"])
    shot(desk, "12-overdue-order")
