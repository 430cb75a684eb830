"""What the browser tests do over plain HTTP beside the screens: log on, read, record a call."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from playwright.sync_api import Page, expect

PASSWORD = "Zhihui@2026"  # every demo account's
TIMEOUT = 15_000


def token(base: str, username: str) -> str:
    r = httpx.post(f"{base}/api/v1/auth/token", data={"username": username, "password": PASSWORD}, timeout=10)
    r.raise_for_status()
    return str(r.json()["access_token"])


def call(base: str, method: str, path: str, tok: str, **kw: Any) -> Any:
    headers = {"Authorization": f"Bearer {tok}", **kw.pop("headers", {})}
    r = httpx.request(method, f"{base}/api/v1{path}", headers=headers, timeout=20, **kw)
    assert r.status_code < 300, f"{method} {path}: {r.status_code} {r.text}"
    return r.json() if r.content else None


def get(base: str, path: str, tok: str, **params: Any) -> Any:
    return call(base, "GET", path, tok, params=params)


def officers(base: str) -> dict[int, str]:
    """unit id → the demo officer account bound to that unit."""
    return {u["unit_id"]: u["username"] for u in get(base, "/users", token(base, "admin")) if u["role"] == "officer"}


def record_call(base: str, body: dict[str, Any], *, username: str = "jiejing") -> dict[str, Any]:
    """POST /incidents with a fresh Idempotency-Key; the recorded incident."""
    return call(base, "POST", "/incidents", token(base, username), json=body,  # type: ignore[no-any-return]
                headers={"Idempotency-Key": str(uuid.uuid4())})


def log_in(page: Page, base: str, username: str, path: str = "/") -> None:
    """Sign in on the console (`/`) or the phone page (`/m`) and wait for the live stream."""
    page.goto(base + path)
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(PASSWORD)
    page.get_by_test_id("login-submit").click()
    # A fresh browser context starts in Chinese.
    expect(page.get_by_test_id("conn-state")).to_have_text("实时", timeout=TIMEOUT)
