"""Screen latency benchmark: how long after a call is recorded does it show on a dispatcher's screen?

Method
------
A fresh SQLite database is migrated and seeded with the demo bureau; ``zhihui serve`` runs it on a
free port (its own process). Two observers watch the live stream:

* baseline: a raw Server-Sent-Events client (httpx, no browser) that notes when the
  ``incident.created`` event for each call arrives;
* the screen: the real console in headless chromium (Debian's /usr/bin/chromium, via Playwright),
  logged in as the dispatcher, where a MutationObserver notes when the incident's row is in the
  queue (the console re-reads the incident after a 150 ms coalescing delay, then renders).

``--calls`` incidents are recorded one at a time over HTTP by the call-taker account. For each,
latency is measured from just before the POST to the moment each observer has it (wall clock on
one machine). The figures are p50/p95 in ms for the POST itself, the raw stream and the screen, and
``screen_vs_stream`` = screen p50 / raw-stream p50 (same run, same server).

The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "Zhihui@2026"
CHROMIUM = os.environ.get("ZHIHUI_CHROMIUM", "/usr/bin/chromium")


def log(msg: str) -> None:
    print(f"[bench] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    v = sorted(values)
    return round(v[min(len(v) - 1, int(q * len(v)))], 1) if v else float("nan")


def token(base: str, username: str) -> str:
    r = httpx.post(f"{base}/api/v1/auth/token", data={"username": username, "password": PASSWORD}, timeout=10)
    r.raise_for_status()
    return str(r.json()["access_token"])


def sse_watch(base: str, tok: str, seen: dict[int, float], stop: threading.Event, ready: threading.Event) -> None:
    """Note the wall-clock arrival of each incident.created event (the baseline observer)."""
    with httpx.Client(timeout=None) as c, c.stream("GET", f"{base}/api/v1/events", params={"access_token": tok}) as r:
        event = None
        for line in r.iter_lines():
            if stop.is_set():
                return
            if line.startswith("event: "):
                event = line[7:]
                if event == "stream.open":
                    ready.set()
            elif line.startswith("data: ") and event == "incident.created":
                data = json.loads(line[6:])
                seen.setdefault(int(data["incident_id"]), time.time() * 1000)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--calls", type=int, default=40)
    ap.add_argument("--quick", action="store_true", help="a handful of calls (smoke test)")
    args = ap.parse_args()
    calls = 4 if args.quick else args.calls

    import asyncio

    from playwright.sync_api import sync_playwright

    from zhihui.core.config import sqlite_url
    from zhihui.sim.demo import prepare_database

    tmp = Path(tempfile.mkdtemp(prefix="zhihui-web-bench-"))
    url = sqlite_url(tmp / "bench.db")
    asyncio.run(prepare_database(url))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "ZHIHUI_DATABASE_URL": url, "ZHIHUI_SECRET_FILE": str(tmp / "secret.key")}
    server = subprocess.Popen([sys.executable, "-m", "zhihui.cli", "serve", "--port", str(port)], env=env,
                              cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("server did not start")
            time.sleep(0.2)
        taker = token(base, "jiejing")
        stream_seen: dict[int, float] = {}
        stop, ready = threading.Event(), threading.Event()
        threading.Thread(target=sse_watch, args=(base, token(base, "diaodu"), stream_seen, stop, ready),
                         daemon=True).start()
        ready.wait(10)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                        args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
            page = browser.new_context(viewport={"width": 1280, "height": 720}).new_page()
            page.goto(base + "/")
            page.fill("[data-testid=login-username]", "diaodu")
            page.fill("[data-testid=login-password]", PASSWORD)
            page.click("[data-testid=login-submit]")
            page.wait_for_function("() => document.querySelector('[data-testid=conn-state]')?.textContent === '实时'",
                                   timeout=30000)
            page.evaluate("""() => {
                window.__seen = {};
                new MutationObserver(() => {
                  for (const row of document.querySelectorAll('[data-testid=queue-row]')) {
                    const id = row.dataset.incidentId;
                    if (!(id in window.__seen)) window.__seen[id] = performance.timeOrigin + performance.now();
                  }
                }).observe(document.body, {subtree: true, childList: true});
            }""")
            post_ms, stream_ms, screen_ms = [], [], []
            with httpx.Client(timeout=10) as c:
                for k in range(calls):
                    t0 = time.time() * 1000
                    r = c.post(f"{base}/api/v1/incidents",
                               headers={"Authorization": f"Bearer {taker}", "Idempotency-Key": str(uuid.uuid4())},
                               json={"category_code": "0201", "description": f"基准测试警情{k}",
                                     "caller_phone": "13800138000", "address": "深圳市福田区香梅路1号",
                                     "lat": 22.538, "lon": 114.03})
                    r.raise_for_status()
                    post_ms.append(time.time() * 1000 - t0)
                    iid = r.json()["id"]
                    page.wait_for_function(f"() => '{iid}' in window.__seen", timeout=15000)
                    until = time.monotonic() + 10
                    while iid not in stream_seen and time.monotonic() < until:
                        time.sleep(0.005)
                    screen_ms.append(page.evaluate(f"() => window.__seen['{iid}']") - t0)
                    stream_ms.append(stream_seen[iid] - t0)
                    time.sleep(0.3)
            browser.close()
        stop.set()
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
    result = {
        "bench": "web_latency", "calls": calls, "db": "sqlite",
        "post_p50_ms": pct(post_ms, 0.5), "post_p95_ms": pct(post_ms, 0.95),
        "stream_p50_ms": pct(stream_ms, 0.5), "stream_p95_ms": pct(stream_ms, 0.95),
        "screen_p50_ms": pct(screen_ms, 0.5), "screen_p95_ms": pct(screen_ms, 0.95),
        "screen_vs_stream": round(pct(screen_ms, 0.5) / max(pct(stream_ms, 0.5), 0.001), 2),
    }
    log(f"POST p50 {result['post_p50_ms']} ms; raw stream p50 {result['stream_p50_ms']} ms; "
        f"screen p50 {result['screen_p50_ms']} ms (p95 {result['screen_p95_ms']})")
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
