"""City-simulator benchmark: road-ETA vs straight-line dispatch on the same day, and simulator speed.

Method
------
1. Per seed (`--seeds`, default 1,2,3), one call stream (zhihui.sim.callgen, GENERATED: time-of-day
   profile, hotspots, near-repeat thefts, repeat callers) over the REAL Futian road graph, `--hours` from a
   Monday 00:00 Beijing time.
2. For each policy, a fresh sandbox server on SQLite (the real app, in this process, on loopback), seeded
   with the same city (`--units-per-station`), driven by the discrete-event simulator over HTTP
   (zhihui.sim.des) as fast as the server answers. Human delays, scene times and traffic luck are drawn per
   call from the seed, so the two runs differ only in which unit the dispatcher picks.
3. Arrival time = received → first unit on scene, read back from the server's own timeline.
   p50/p90 pool the incidents of every seed (one day's ~250 incidents give a noisy p90; `per_seed` lists
   each seed's own); `improvement` = 1 − p90_road / p90_straight.
4. Speed: `sim_hours_per_wall_minute` = simulated hours the event loops covered (the window plus working off
   the calls taken in it) per wall minute of those loops; setup — migrations, seeding, logons — is excluded
   and reported as `setup_s`. Baseline in the same run: `GET /health` round trips on the same
   kind of server and connection (`health_calls_per_s`); `api_calls_per_s / health_calls_per_s` says how
   close the simulator runs to the bare HTTP floor.
5. The LAST line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

from zhihui.api.app import create_app
from zhihui.core.config import load_settings, sqlite_url
from zhihui.dispatch.recommend import default_graph_path
from zhihui.geo.roads import load_graphml
from zhihui.sim.callgen import generate_calls
from zhihui.sim.report import summarise
from zhihui.sim.study import DEFAULT_START, prepare, run_one, served


async def health_rate(workdir: Path, n: int = 500) -> float:
    url = sqlite_url(workdir / "health.db")
    await prepare(url, 1, 1)
    app = create_app(load_settings(database_url=url, sandbox=True, sandbox_start=DEFAULT_START))
    async with served(app) as base, httpx.AsyncClient(base_url=base) as c:
        for _ in range(20):
            await c.get("/api/v1/health")
        t = time.perf_counter()
        for _ in range(n):
            (await c.get("/api/v1/health")).raise_for_status()
        return n / (time.perf_counter() - t)


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


async def main_async(args: argparse.Namespace) -> dict:
    path = default_graph_path()
    if path is None or not path.exists():
        raise SystemExit("no road graph: keep ../shared/data beside the checkout or set ZHIHUI_ROAD_GRAPH")
    graph = load_graphml(path)
    seeds = [int(x) for x in str(args.seeds).split(",") if x.strip()]
    out: dict = {"seeds": seeds, "hours": args.hours, "calls_per_day": args.calls_per_day,
                 "units_per_station": args.units_per_station, "network": "real (OSM Futian)",
                 "calls_source": "generated", "per_seed": []}
    arrivals: dict[str, list[float]] = {"road": [], "straight": []}
    drives: dict[str, list[float]] = {"road": [], "straight": []}
    counts = {"road": [0, 0], "straight": [0, 0]}  # incidents, not reached
    loop_s = setup_s = sim_s = 0.0
    api_calls = calls_total = 0
    with tempfile.TemporaryDirectory(prefix="zhihui-bench-sim-") as tmp:
        for seed in seeds:
            calls = generate_calls(seed=seed, start=DEFAULT_START, hours=args.hours,
                                   calls_per_day=args.calls_per_day)
            calls_total += len(calls)
            print(f"seed {seed}: {len(calls)} calls over {args.hours:g} h (generated), {args.units_per_station} "
                  f"units/station, road graph {path.name} (real OSM)", flush=True)
            row: dict = {"seed": seed, "calls": len(calls)}
            for policy in ("road", "straight"):
                t0 = time.perf_counter()
                run = await run_one(calls, graph, policy=policy, units_per_station=args.units_per_station,
                                    start=DEFAULT_START, hours=args.hours, seed=seed,
                                    url=sqlite_url(Path(tmp) / f"{policy}-{seed}.db"))
                total = time.perf_counter() - t0
                m = summarise(run)
                loop_s += run["wall_s"]
                sim_s += run["simulated_s"]
                setup_s += total - run["wall_s"]
                api_calls += run["api_calls"]
                arrivals[policy] += [i["arrival_s"] for i in run["incidents"] if i["arrival_s"] is not None]
                drives[policy] += [i["drive_s"] for i in run["incidents"] if i["drive_s"] is not None]
                counts[policy][0] += m["n_incidents"]
                counts[policy][1] += m["n_not_arrived"]
                row[f"p90_{policy}_s"] = round(m["p90_arrival_s"], 1)
                print(f"  {policy:>8}: p50 {m['p50_arrival_s']:.0f} s, p90 {m['p90_arrival_s']:.0f} s, "
                      f"≤5 min {m['share_within_5min']:.1%}, utilisation {m['mean_utilisation']:.1%}, "
                      f"{run['api_calls']} API calls, loop {run['wall_s']:.1f} s, setup {total - run['wall_s']:.1f} s",
                      flush=True)
            row["improvement"] = round(1 - row["p90_road_s"] / row["p90_straight_s"], 4)
            out["per_seed"].append(row)
        out["health_calls_per_s"] = round(await health_rate(Path(tmp)), 1)
    out["calls"] = calls_total
    for policy in ("road", "straight"):
        a = arrivals[policy]
        out[f"p50_{policy}_s"] = round(_pct(a, 50), 1)
        out[f"p90_{policy}_s"] = round(_pct(a, 90), 1)
        out[f"within_5min_{policy}"] = round(sum(x <= 300 for x in a) / len(a), 4) if a else None
        out[f"p90_drive_{policy}_s"] = round(_pct(drives[policy], 90), 1)
        out[f"incidents_{policy}"], out[f"not_arrived_{policy}"] = counts[policy]
    # Pooled over every seed's incidents: one p90 over ~250 incidents a day is noisy.
    out["improvement"] = round(1 - out["p90_road_s"] / out["p90_straight_s"], 4)
    out["setup_s"] = round(setup_s, 1)
    out["simulated_hours"] = round(sim_s / 3600, 2)
    out["loop_s"] = round(loop_s, 1)
    out["sim_hours_per_wall_minute"] = round(sim_s / 3600 / (loop_s / 60), 2)
    out["speedup_vs_real_time"] = round(sim_s / loop_s, 1)
    out["api_calls_per_s"] = round(api_calls / loop_s, 1)
    out["api_vs_health_rate"] = round(out["api_calls_per_s"] / out["health_calls_per_s"], 3)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", default="1,2,3", help="comma-separated seeds; p90s are pooled over all of them")
    p.add_argument("--hours", type=float, default=24.0)
    p.add_argument("--calls-per-day", type=float, default=300.0)
    p.add_argument("--units-per-station", type=int, default=4)
    p.add_argument("--quick", action="store_true", help="one seed, 4 simulated hours (smoke test)")
    args = p.parse_args()
    if args.quick:
        args.hours, args.seeds = 4.0, "1"
    logging.basicConfig(level=logging.WARNING)
    print(json.dumps(asyncio.run(main_async(args)), ensure_ascii=False))


if __name__ == "__main__":
    main()
