"""Hotspot-prediction benchmark on real Toronto Police MCI data: ours vs the open_cp baselines.

Method
------
1. Load ``toronto_mci_2014_2021.csv.gz`` from the shared data folder (real Toronto Police Service
   Major Crime Indicators, 2014-2021), drop rows without valid coordinates, project to metres
   (local equirectangular about the data's centre) and lay a 150 m grid; the study area is the cells
   with any incident dated 2014-2016.
2. Forecast periods in the test year (2019 by default): 52 weekly periods (Monday starts, the first
   being the week holding 1 January, i.e. 2018-12-31 .. 2019-12-29), their first 13 weeks as
   "weekly Q1" (2018-12-31 .. 2019-03-31, the open_cp reference setting), and 90 daily periods
   (1 January .. 31 March).
3. Methods, per category: naive (last 365 days' counts), retrospective (56 days, quartic 200 m),
   prospective (8 weeks, 1/((1+s)(1+t)), s < 400/150 cells, i.e. s <= 2; and, as a sensitivity row,
   s <= 3), ETAS (fitted on the training periods) and ours (multi-scale non-negative Poisson intensity,
   fitted on the training periods). Training periods = those of the two years before the test year
   (2017-2018 for 2019) that end before the first test period; nothing of the test year is seen.
4. Hit rate and PAI at 1 %, 5 %, 10 % coverage of the study cells, hits and events summed over the
   periods before dividing. ``best baseline`` is the best of the open_cp baselines at each coverage.

``--quick``: Break and Enter, weekly Q1 only (a smoke test). The last printed line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from zhihui.analytics import hotspots as hs
from zhihui.core.config import shared_data

DATA_FILE = "toronto_mci_2014_2021.csv.gz"
COVERAGES = (0.01, 0.05, 0.10)
BASELINES = ("naive", "retrospective", "prospective", "prospective_s3")
METHODS = (*BASELINES, "etas", "ours")
REFERENCES = {"naive": [11.0, 5.6], "prospective": [10.5, 5.3], "retrospective": [9.9, 4.8]}
HEADLINE = ("weekly_q1", "Break and Enter")


def week_start(year: int) -> int:
    """Monday of the week holding 1 January of ``year`` (day number)."""
    jan1 = hs.day_number(f"{year}-01-01")
    return jan1 - (jan1 - hs.day_number("1970-01-05")) % 7  # 1970-01-05 was a Monday


def periods(test_year: int, quick: bool) -> dict[str, Any]:
    first_week = week_start(test_year)
    weekly = [first_week + 7 * k for k in range(13 if quick else 52)]
    jan1 = hs.day_number(f"{test_year}-01-01")
    daily = list(range(jan1, hs.day_number(f"{test_year}-04-01")))
    train_years = [y for y in (test_year - 2, test_year - 1) if y >= 2017]
    train_from = hs.day_number(f"{train_years[0]}-01-01")
    # Training periods end on or before the day the first test period starts: no overlap with the test.
    train_weekly = [d for d in range(week_start(train_years[0]), first_week - 6, 7) if d >= train_from]
    train_daily = list(range(train_from, first_week))
    return {
        "weekly": weekly,
        "daily": [] if quick else daily,
        "train_weekly": train_weekly,
        "train_daily": train_daily,
        "train_years": train_years,
    }


def summarise(res: dict[str, Any]) -> dict[str, Any]:
    return {
        "events": res["events"],
        "periods": res["n_periods"],
        "pai": {f"{round(c * 100)}": round(v, 3) for c, v in res["pai"].items()},
        "hit_rate": {f"{round(c * 100)}": round(v, 4) for c, v in res["hit_rate"].items()},
    }


def run_category(
    hist: hs.History, category: str, plan: dict[str, Any], log: list[str]
) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """Risks of every method for every test period of one category, evaluated per setting."""
    grid = hist.grid
    ev = hist.categories[category]
    out: dict[str, dict[str, Any]] = {}
    fitted: dict[str, Any] = {}
    for kind, length, starts, train in (
        ("weekly", 7, plan["weekly"], plan["train_weekly"]),
        ("daily", 1, plan["daily"], plan["train_daily"]),
    ):
        if not starts:
            continue
        t = time.perf_counter()
        etas_params = hs.fit_etas(ev, grid, train, length)
        ours = hs.fit_ours(hist, category, train, length)
        fitted[kind] = {
            "etas": {k: round(v, 6) if isinstance(v, float) else v for k, v in vars(etas_params).items()},
            "ours_top_weights": {k: round(v, 5) for k, v in list(ours.weights().items())[:8]},
            "ours_blend": ours.blend,
            "train_periods": len(train),
            "fit_s": round(time.perf_counter() - t, 2),
        }
        predictors = {
            "naive": lambda s: hs.naive_counts(ev, grid, s),
            "retrospective": lambda s: hs.retro_hotspot(ev, grid, s),
            "prospective": lambda s: hs.prospective_hotspot(ev, grid, s),
            "prospective_s3": lambda s: hs.prospective_hotspot(ev, grid, s, space_bandwidth=4.0),
            "etas": lambda s, p=etas_params, n=length: hs.etas(ev, grid, s, n, p),
            "ours": lambda s, m=ours: hs.predict_ours(m, hist, s),
        }
        events = [hs.period_events(ev, grid, s, length) for s in starts]
        risks = {name: [f(s) for s in starts] for name, f in predictors.items()}
        if kind == "weekly":
            subsets = {"weekly_q1": slice(0, 13)}
            if len(starts) > 13:
                subsets["weekly"] = slice(None)
        else:
            subsets = {"daily_q1": slice(None)}
        for setting, sel in subsets.items():
            out[setting] = {m: summarise(hs.evaluate(risks[m][sel], events[sel], COVERAGES)) for m in METHODS}
        log.append(f"  {category:16s} {kind:6s} fitted in {fitted[kind]['fit_s']:5.1f} s on {len(train)} periods")
    return out, fitted


def comparison(res: dict[str, Any]) -> dict[str, Any]:
    best = {}
    for cov in ("1", "5", "10"):
        name = max(BASELINES, key=lambda m: res[m]["pai"][cov])
        best[cov] = (name, res[name]["pai"][cov])
    ours = {cov: res["ours"]["pai"][cov] for cov in best}
    return {
        **{f"best_baseline_pai_{c}": best[c][1] for c in best},
        **{f"best_baseline_{c}": best[c][0] for c in best},
        **{f"ours_pai_{c}": ours[c] for c in best},
        **{f"ratio_pai_{c}": round(ours[c] / best[c][1], 3) if best[c][1] > 0 else None for c in best},
    }


SETTING_TITLES = {
    "weekly": "weekly {y} (52 weeks, Mondays {a} .. {b})",
    "weekly_q1": "weekly {y} Q1 (13 weeks, Mondays {a} .. {b})",
    "daily_q1": "daily {y} Q1 (90 days, {a} .. {b})",
}


def print_table(results: dict[str, Any], plan: dict[str, Any], year: int) -> None:
    def iso(d: int) -> str:
        return str(np.datetime64(d, "D"))

    spans = {
        "weekly": (plan["weekly"][0], plan["weekly"][-1]),
        "weekly_q1": (plan["weekly"][0], plan["weekly"][min(12, len(plan["weekly"]) - 1)]),
        "daily_q1": (plan["daily"][0], plan["daily"][-1]) if plan["daily"] else (0, 0),
    }
    for setting in ("weekly", "weekly_q1", "daily_q1"):
        if setting not in results:
            continue
        a, b = spans[setting]
        print(f"\n== {SETTING_TITLES[setting].format(y=year, a=iso(a), b=iso(b))} ==")
        print(f"{'category':16s} {'method':15s} {'events':>6s}  {'PAI@1%':>7s} {'PAI@5%':>7s} {'PAI@10%':>7s}"
              f"  {'HR@1%':>6s} {'HR@5%':>6s} {'HR@10%':>6s}  ours/best@1% @5%")
        for cat, by_method in results[setting].items():
            cmp = comparison(by_method)
            for m in METHODS:
                r = by_method[m]
                p, h = r["pai"], r["hit_rate"]
                tail = f"  {cmp['ratio_pai_1']:.3f} {cmp['ratio_pai_5']:.3f}" if m == "ours" else ""
                print(f"{cat:16s} {m:15s} {r['events']:6d}  {p['1']:7.2f} {p['5']:7.2f} {p['10']:7.2f}"
                      f"  {h['1']:6.1%} {h['5']:6.1%} {h['10']:6.1%}{tail}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="Break and Enter, weekly Q1 only (smoke test)")
    ap.add_argument("--test-year", type=int, default=2019, help="2019 (default); 2018 = validation year")
    ap.add_argument("--cell", type=float, default=150.0, help="grid cell size in metres")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()

    path = shared_data(DATA_FILE)
    if path is None:
        print(f"data file {DATA_FILE} not found in the shared data folder", file=sys.stderr)
        return 2
    df = hs.load_toronto(path)
    grid = hs.build_grid(df, cell_m=args.cell)
    hist = hs.make_history(df, grid)
    plan = periods(args.test_year, args.quick)
    categories = ["Break and Enter"] if args.quick else list(hs.CATEGORIES)
    proj = grid.projection
    print(f"data: {path} (real Toronto Police Service Major Crime Indicators, occurrence dates)")
    print(f"rows: {df.attrs['rows_read']} read, {df.attrs['rows_dropped_coords']} dropped (no valid coordinates), "
          f"{df.attrs['rows_before_2014']} dated before 2014 (kept; enter only whole-history features)")
    print(f"grid: {args.cell:g} m cells, {grid.nx} x {grid.ny} = {grid.n_cells} cells, local equirectangular "
          f"projection about ({proj.lat0:.5f}, {proj.lon0:.5f}); study area (any incident 2014-2016): "
          f"{grid.n_study} cells")
    print(f"training periods ({'-'.join(map(str, plan['train_years']))}): {len(plan['train_weekly'])} weekly, "
          f"{len(plan['train_daily'])} daily; test year {args.test_year}")

    results: dict[str, dict[str, Any]] = {}
    fits: dict[str, Any] = {}
    log: list[str] = []
    for cat in categories:
        res, fitted = run_category(hist, cat, plan, log)
        fits[cat] = fitted
        for setting, by_method in res.items():
            results.setdefault(setting, {})[cat] = by_method
    print("\n".join(log))
    print_table(results, plan, args.test_year)

    setting, cat = HEADLINE
    head = comparison(results[setting][cat])
    print(f"\nopen_cp reference (Break and Enter, weekly {args.test_year} Q1, 150 m) vs this re-implementation:")
    print(f"{'method':15s} {'ref PAI@1%':>10s} {'ours-impl':>9s} {'ref PAI@5%':>10s} {'ours-impl':>9s}")
    for m, (r1, r5) in REFERENCES.items():
        p = results[setting][cat][m]["pai"]
        print(f"{m:15s} {r1:10.1f} {p['1']:9.2f} {r5:10.1f} {p['5']:9.2f}")
    print(f"ours vs best baseline: PAI@1% {head['ours_pai_1']:.2f} / {head['best_baseline_pai_1']:.2f} "
          f"({head['best_baseline_1']}) = {head['ratio_pai_1']:.3f}x; PAI@5% {head['ours_pai_5']:.2f} / "
          f"{head['best_baseline_pai_5']:.2f} ({head['best_baseline_5']}) = {head['ratio_pai_5']:.3f}x "
          f"(target 1.15x)")
    wall = time.perf_counter() - t0
    print(f"wall time {wall:.1f} s")
    summary = {
        "data": str(path),
        "test_year": args.test_year,
        "quick": args.quick,
        "grid_m": args.cell,
        "grid_shape": [grid.ny, grid.nx],
        "study_cells": grid.n_study,
        "rows_read": df.attrs["rows_read"],
        "rows_dropped_coords": df.attrs["rows_dropped_coords"],
        "rows_before_2014": df.attrs["rows_before_2014"],
        "reference_setting": f"Break and Enter, weekly, 13 weeks from {np.datetime64(plan['weekly'][0], 'D')}",
        **{k: head[k] for k in ("best_baseline_pai_1", "best_baseline_pai_5", "ours_pai_1", "ours_pai_5",
                                "ratio_pai_1", "ratio_pai_5", "best_baseline_1", "best_baseline_5")},
        "target_ratio": 1.15,
        "meets_target": bool(head["ratio_pai_1"] >= 1.15 and head["ratio_pai_5"] >= 1.15),
        "references": REFERENCES,
        "comparison": {s: {c: comparison(r) for c, r in by_cat.items()} for s, by_cat in results.items()},
        "results": results,
        "fits": fits,
        "wall_s": round(wall, 1),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
