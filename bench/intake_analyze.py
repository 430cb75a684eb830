"""智能接警 benchmark: /intake/analyze latency on a warm server, type-classifier quality on the
hand-written held-out set, duplicate-detector precision/recall on simulated multi-caller streams.

Method
------
1. Latency. A fresh SQLite database is migrated and filled with 30 days of history (``--history``
   incidents at road nodes of the real Futian graph, some repeat callers), so the duplicate and
   risk queries read a realistically sized table. ``zhihui serve`` starts on a free port; after a
   warm-up (gazetteer load, model load/training) one keep-alive client sends ``--requests``
   analyse calls with varied text, phone, address and position, one at a time (a call-taker's
   form). The baseline in the same run is ``GET /api/v1/health`` on the same server and connection
   (the HTTP floor); ``ratio_vs_health`` = analyze p50 / health p50.
2. Classifier. ``zhihui.intake.classify.evaluate()``: trained on the generated corpus, scored on the
   hand-written held-out set (other phrasing, court-style facts, typos, 繁體); macro-F1 over the
   nine top-level categories, per category before the JSON line.
3. Duplicates. ``zhihui.sim.multicall``: generated streams (descriptions from the classifier's
   corpus, positions from the real graph) at a normal and a busy rate; the detector runs online and
   its top suggestion is scored against the true event.

The last line is one JSON object: p50_ms, p99_ms, macro_f1_heldout, dup_precision, dup_recall, ...
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

USERNAME, PASSWORD = "bench", "Bench#Pass2026"


def log(msg: str) -> None:
    print(f"[bench] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    v = sorted(values)
    return round(v[min(len(v) - 1, int(q * len(v)))], 3) if v else float("nan")


def road_points() -> list[tuple[float, float]]:
    from zhihui.dispatch.recommend import default_graph_path
    from zhihui.geo.roads import load_graphml

    path = default_graph_path()
    if path is None or not Path(path).exists():
        rng = random.Random(3)
        return [(22.52 + rng.random() * 0.03, 114.0 + rng.random() * 0.04) for _ in range(500)]
    g = load_graphml(path)
    return list(zip(g.lat.tolist(), g.lon.tolist(), strict=True))


def corpus_texts(seed: int = 5) -> dict[str, list[str]]:
    """Descriptions by 类型 from the classifier's generated corpus (not its held-out set)."""
    from zhihui.intake.classify import corpus

    by_type: dict[str, list[str]] = {}
    for ex in corpus.generate(seed=seed):
        by_type.setdefault(ex.label[:4], []).append(ex.text)
    return by_type


def seed_history(db_path: Path, n: int, points: list[tuple[float, float]], texts: dict[str, list[str]]) -> None:
    import asyncio

    from sqlalchemy import insert

    from zhihui.core.config import sqlite_url
    from zhihui.core.store import Database
    from zhihui.incidents.models import Incident

    rng = random.Random(11)
    now = datetime.now(UTC)
    phones = [f"139{rng.randrange(10**8):08d}" for _ in range(max(1, n // 4))]  # some numbers call often
    types = sorted(texts)
    rows = []
    for i in range(n):
        lat, lon = points[rng.randrange(len(points))]
        code = rng.choice(types)
        at = now - timedelta(seconds=rng.uniform(60, 30 * 86400))
        rows.append({
            "number": f"JH{i:010d}", "channel": "110", "caller_phone": rng.choice(phones), "address": None,
            "lat": lat, "lon": lon, "category_code": code, "level": 3, "urgent": False,
            "description": rng.choice(texts[code]), "status": "closed", "received_at": at,
            "close_deadline": at + timedelta(hours=24), "updated_at": at,
        })

    async def run() -> None:
        db = Database(sqlite_url(db_path))
        async with db.tx() as session:
            await session.execute(insert(Incident), rows)
        await db.dispose()

    asyncio.run(run())


def analyze_bodies(n: int, points: list[tuple[float, float]], texts: dict[str, list[str]]) -> list[dict]:
    rng = random.Random(7)
    streets = ["深南大道", "红荔路", "香蜜湖路", "侨香路", "农林路", "泰然九路", "车公庙"]
    types = sorted(texts)
    bodies = []
    for _ in range(n):
        body: dict = {"text": rng.choice(texts[rng.choice(types)]), "phone": f"135{rng.randrange(10**8):08d}"}
        roll = rng.random()
        if roll < 0.5:
            body["lat"], body["lon"] = points[rng.randrange(len(points))]
        if roll > 0.3:
            a, b = rng.sample(streets, 2)
            body["address"] = rng.choice([f"福田区{a}{rng.randint(1, 300)}号", f"{a}和{b}交叉口", f"{a}附近"])
        bodies.append(body)
    return bodies


def latency(requests: int, history: int, points: list[tuple[float, float]], texts: dict[str, list[str]]) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="zhihui-analyze-"))
    db_path = tmp / "bench.db"
    env = {**os.environ, "ZHIHUI_DATABASE_URL": f"sqlite:///{db_path}", "ZHIHUI_SECRET_FILE": str(tmp / "secret")}
    exe = [sys.executable, "-m", "zhihui.cli"]
    subprocess.run([*exe, "db", "upgrade"], env=env, check=True, cwd=ROOT, capture_output=True)
    subprocess.run([*exe, "user", "add", USERNAME, "--role", "call_taker"], env={**env, "ZHIHUI_PASSWORD": PASSWORD},
                   check=True, cwd=ROOT, capture_output=True)
    t = time.perf_counter()
    seed_history(db_path, history, points, texts)
    log(f"history: {history} incidents in {time.perf_counter() - t:.1f} s")
    port = free_port()
    cmd = [*exe, "serve", "--host", "127.0.0.1", "--port", str(port), "--no-access-log"]
    server_log = open(tmp / "server.log", "w")
    server = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=server_log)
    try:
        base = f"http://127.0.0.1:{port}/api/v1"
        with httpx.Client(base_url=base, timeout=120) as c:
            for _ in range(300):
                try:
                    if c.get("/health").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            token = c.post("/auth/token", data={"username": USERNAME, "password": PASSWORD}).json()["access_token"]
            h = {"Authorization": f"Bearer {token}"}
            bodies = analyze_bodies(requests, points, texts)
            t = time.perf_counter()
            for b in bodies[:50]:  # warm-up: first call loads the gazetteer and the model
                r = c.post("/intake/analyze", json=b, headers=h)
                r.raise_for_status()
            log(f"warm-up {time.perf_counter() - t:.1f} s")
            health: list[float] = []
            for _ in range(requests):
                t = time.perf_counter()
                c.get("/health")
                health.append((time.perf_counter() - t) * 1000)
            lat: list[float] = []
            stages: dict[str, list[float]] = {}
            errors = 0
            for b in bodies:
                t = time.perf_counter()
                r = c.post("/intake/analyze", json=b, headers=h)
                lat.append((time.perf_counter() - t) * 1000)
                if r.status_code != 200:
                    errors += 1
                    continue
                for k, v in r.json()["timings_ms"].items():
                    stages.setdefault(k, []).append(v)
    finally:
        server.terminate()
        server.wait(timeout=30)
        server_log.close()
    return {
        "requests": requests, "errors": errors, "history_incidents": history,
        "p50_ms": percentile(lat, 0.5), "p99_ms": percentile(lat, 0.99), "max_ms": round(max(lat), 3),
        "health_p50_ms": percentile(health, 0.5), "health_p99_ms": percentile(health, 0.99),
        "ratio_vs_health": round(percentile(lat, 0.5) / percentile(health, 0.5), 2),
        "stage_p50_ms": {k: percentile(v, 0.5) for k, v in stages.items()},
        "stage_p99_ms": {k: percentile(v, 0.99) for k, v in stages.items()},
    }


def duplicates(texts: dict[str, list[str]], points: list[tuple[float, float]], hours: float) -> dict:
    from zhihui.intake import classify
    from zhihui.intake.duplicates import DupParams
    from zhihui.sim.multicall import evaluate, generate_stream

    def suggested(text: str) -> str | None:
        # Each call carries the type the call-taker would take from the suggestion, not the truth.
        s = classify.suggest(text, k=1)
        return s.candidates[0].code if s.candidates else None

    out = {}
    for name, rate, seed in (("normal", 20.0, 1), ("busy", 60.0, 2)):
        calls = generate_stream(texts, points, events_per_hour=rate, hours=hours, seed=seed, categorise=suggested)
        out[name] = {"events_per_hour": rate, **evaluate(calls, DupParams())}
        log(f"duplicates {name}: {out[name]}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--history", type=int, default=20000, help="incidents in the last 30 days")
    ap.add_argument("--hours", type=float, default=72.0, help="simulated hours per duplicate stream")
    ap.add_argument("--quick", action="store_true", help="small sizes, for the smoke test")
    args = ap.parse_args(argv)
    if args.quick:
        args.requests, args.history, args.hours = 60, 500, 6.0

    from zhihui.intake.classify.evaluate import evaluate as evaluate_classifier

    points = road_points()
    texts = corpus_texts()
    t = time.perf_counter()
    cls = evaluate_classifier()
    log(f"classifier evaluated in {time.perf_counter() - t:.1f} s")
    heldout = cls["heldout"]
    for code, m in sorted(heldout["per_category"].items()):
        log(f"  {code} {m.get('name', '')}: P={m['precision']:.3f} R={m['recall']:.3f} F1={m['f1']:.3f} "
            f"n={m['support']}")
    dups = duplicates(texts, points, args.hours)
    lat = latency(args.requests, args.history, points, texts)
    log(f"analyze: p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms; health p50 {lat['health_p50_ms']} ms")
    result = {
        **{k: lat[k] for k in ("p50_ms", "p99_ms", "max_ms", "health_p50_ms", "ratio_vs_health", "requests",
                               "errors", "history_incidents")},
        "stage_p99_ms": lat["stage_p99_ms"],
        "macro_f1_heldout": heldout["macro_f1"],
        "heldout_items": heldout.get("n"),
        "type_top1_heldout": heldout.get("type_top1"), "type_top3_heldout": heldout.get("type_top3"),
        "macro_f1_corpus_split": cls.get("corpus_split", {}).get("macro_f1"),
        "dup_precision": dups["normal"]["precision"], "dup_recall": dups["normal"]["recall"],
        "dup_busy_precision": dups["busy"]["precision"], "dup_busy_recall": dups["busy"]["recall"],
        "dup_calls": dups["normal"]["calls"] + dups["busy"]["calls"],
    }
    print(json.dumps(result, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
