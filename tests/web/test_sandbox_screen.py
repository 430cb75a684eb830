"""A sandbox server's console reads in simulated time: badge, header clock and waiting times follow
the simulator's clock, not the workstation's, and nobody is logged out while it races ahead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.sync_api import expect

from tests.web.client import call, log_in, record_call, token

START = datetime(2026, 3, 2, 0, 30, tzinfo=UTC)  # 08:30 Beijing time, months before the wall clock
LIVE_SETTINGS = {"sandbox": True, "sandbox_start": START}


def test_console_follows_the_simulated_clock(live_server: Any, new_page: Any, shot: Any) -> None:
    base = live_server.url
    page = new_page(1280, 720)
    log_in(page, base, "diaodu")
    expect(page.get_by_test_id("sandbox-badge")).to_be_visible()
    expect(page.get_by_test_id("clock")).to_contain_text("2026/03/02 08:3")

    incident = record_call(base, {"channel": "110", "caller_phone": "13800138000", "category_code": "02",
                                  "address": "深圳市福田区深南大道6008号", "lat": 22.5405, "lon": 114.0253,
                                  "description": "商场门口有人打架"})
    assert incident["received_at"].startswith("2026-03-02T00:30")
    row = page.locator(f'[data-testid="queue-row"][data-incident-id="{incident["id"]}"]')
    expect(row).to_be_visible()

    # The simulator moves the clock on two hours (in steps, as it does): the screen follows.
    admin = token(base, "admin")
    for minutes in range(10, 121, 10):
        call(base, "PUT", "/sandbox/clock", admin, json={"now": (START + timedelta(minutes=minutes)).isoformat()})
    expect(page.get_by_test_id("clock")).to_contain_text("2026/03/02 10:3")
    # The call has now been waiting about two simulated hours.
    expect(row.get_by_test_id("queue-timer")).to_contain_text("2:0")
    shot(page, "15-sandbox-console")
    expect(page.get_by_test_id("conn-state")).to_have_text("实时")
