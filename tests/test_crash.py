"""Nothing lost: SIGKILL the server mid-load, restart, retry unanswered requests with their keys;
every incident that was ever answered is present exactly once, and no retry made a second one."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import BACKEND, PG_SERVER, _pg_admin, pg_url
from zhihui.core.config import sqlite_url

pytestmark = pytest.mark.slow
CLIENTS = 6
KILL_AFTER = 150
PASSWORD = "Crash#Test2026"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "-m", "zhihui.cli", *args], env=env, check=True, capture_output=True)


def _start(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    out = log.open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "zhihui.cli", "serve", "--port", str(port), "--no-access-log",
         "--log-level", "warning"], env=env, stdout=out, stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("server did not start: " + log.read_text(errors="replace")[-2000:])


@pytest.fixture
def crash_env(tmp_path: Path) -> Any:
    env = {**os.environ, "ZHIHUI_SECRET_FILE": str(tmp_path / "secret.key")}
    if BACKEND == "postgresql":
        name = f"zhihui_crash_{os.getpid()}"
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}"'))
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
        env["ZHIHUI_DATABASE_URL"] = pg_url(name)
        yield env
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    else:
        env["ZHIHUI_DATABASE_URL"] = sqlite_url(tmp_path / "crash.db")
        yield env
    assert PG_SERVER  # keeps the import honest on both backends


def test_sigkill_mid_load_loses_nothing(crash_env: dict[str, str], tmp_path: Path) -> None:
    _cli(crash_env, "db", "upgrade")
    _cli(crash_env, "user", "add", "ct", "--role", "call_taker", "--password", PASSWORD)
    port = _free_port()
    log = tmp_path / "server.log"
    server = _start(crash_env, port, log)
    base = f"http://127.0.0.1:{port}/api/v1"
    token = httpx.post(f"{base}/auth/token", data={"username": "ct", "password": PASSWORD}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    answered: dict[str, dict[str, Any]] = {}  # key -> incident as answered
    bodies: dict[str, dict[str, Any]] = {}  # every key ever sent
    killed = asyncio.Event()

    async def client(n: int, http: httpx.AsyncClient) -> None:
        i = 0
        while not killed.is_set():
            i += 1
            key = f"crash-{n}-{i}-{uuid.uuid4().hex[:8]}"
            body = {"channel": "110", "caller_phone": f"139{n:02d}{i:06d}", "category_code": "02",
                    "description": f"客户端{n}第{i}次报警", "lat": 22.54, "lon": 114.05}
            bodies[key] = body
            try:
                r = await http.post(f"{base}/incidents", json=body, headers={**headers, "Idempotency-Key": key})
            except httpx.HTTPError:
                continue  # unanswered: retried after the restart
            assert r.status_code == 201, r.text
            answered[key] = r.json()
            if len(answered) >= KILL_AFTER and not killed.is_set():
                server.send_signal(signal.SIGKILL)
                killed.set()

    async def load() -> None:
        async with httpx.AsyncClient(timeout=5) as http:
            await asyncio.wait_for(asyncio.gather(*(client(n, http) for n in range(CLIENTS))), 60)

    asyncio.run(load())
    server.wait(10)
    unanswered = [k for k in bodies if k not in answered]

    server = _start(crash_env, port, log)
    replayed_unanswered = 0
    try:
        with httpx.Client(timeout=10) as http:
            # Retry every unanswered request with its key, and replay a few answered ones too.
            for key in unanswered + list(answered)[:10]:
                r = http.post(f"{base}/incidents", json=bodies[key], headers={**headers, "Idempotency-Key": key})
                assert r.status_code == 201, r.text
                if key in answered:
                    assert r.json()["id"] == answered[key]["id"]
                    assert r.headers.get("Idempotent-Replayed") == "true"
                elif r.headers.get("Idempotent-Replayed") == "true":
                    replayed_unanswered += 1  # committed before the kill, answer lost with the process
                answered.setdefault(key, r.json())
            listed = http.get(f"{base}/incidents", params={"limit": 1000}, headers=headers).json()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(15)

    ids = [i["id"] for i in listed]
    numbers = [i["number"] for i in listed]
    assert len(ids) == len(set(ids)) and len(numbers) == len(set(numbers))
    # Exactly one incident per key ever sent: nothing lost, nothing doubled.
    assert len(listed) == len(bodies), (len(listed), len(bodies))
    by_id = {i["id"]: i for i in listed}
    for key, inc in answered.items():
        assert by_id[inc["id"]]["description"] == bodies[key]["description"]
    assert len(answered) >= KILL_AFTER
    print(f"crash test ({BACKEND}): {len(bodies)} keys sent, {len(unanswered)} unanswered at the kill, "
          f"{replayed_unanswered} of those had been committed, {len(listed)} incidents after recovery")
