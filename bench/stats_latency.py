"""Statistics and KPI query latency over 10^7 incidents: DuckDB on Parquet vs pandas in memory.

Method
------
1. Generate (seed 1) ``--rows`` incidents over 2024-01-01 .. 2026-11-30 (UTC instants, Beijing-day
   seasonality ignored), written in received order like :func:`olap.export`: 9 top-level categories ×
   6-digit codes with a skewed mix, 3 levels, 12
   jurisdictions, 5 channels, statuses (2 % merged, 6 % diverted), answer→dispatch ~ lognormal(4.2, 0.6) s,
   received→arrival ~ dispatch + lognormal(6.3, 0.5) s; ~0.9 dispatch orders per incident with a station
   and sign-off ~ lognormal(3.6, 0.7) s. Written to ``var/bench/`` as Parquet once and reused.
2. Queries, each the platform's own (:mod:`zhihui.analytics.olap`, the warehouse path):
   day by category with 环比/同比; month by jurisdiction with 环比/同比; a year by hour; a year by
   week; p50/p90 KPIs of a month by station; of a year overall.
3. Baseline in the same run: the same answers with pandas on frames already in memory (loading them
   is not charged to pandas). Each query is run ``--repeat`` times; the median is reported, and the
   ratio pandas / DuckDB. The first DuckDB run of each query is the cold one (reported separately).

The last printed line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from zhihui.analytics import olap
from zhihui.analytics.stats import year_earlier

CACHE = Path(__file__).resolve().parent.parent / "var" / "bench"
T0 = datetime(2024, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 12, 1, tzinfo=UTC)
BJ = timedelta(hours=8)


def generate(rows: int, seed: int = 1) -> tuple[Path, Path]:
    inc_path, ord_path = CACHE / f"incidents_{rows}.parquet", CACHE / f"orders_{rows}.parquet"
    if inc_path.exists() and ord_path.exists():
        return inc_path, ord_path
    CACHE.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    span = int((T1 - T0).total_seconds())
    chunk = 2_000_000
    top = np.array(["01", "02", "03", "04", "05", "06", "07", "08", "09"])
    top_p = np.array([0.12, 0.2, 0.03, 0.18, 0.02, 0.2, 0.1, 0.12, 0.03])
    channels = np.array(["110", "122", "119", "sms", "web"])
    # In received order, as olap.export writes it: row groups then carry tight time ranges to prune on.
    recv_all = np.sort(rng.integers(0, span, rows)).astype("int64") * 1_000_000 + int(T0.timestamp() * 1e6)
    # Written under temporary names and renamed at the end: an interrupted run leaves no half file to reuse.
    tmp_i, tmp_o = inc_path.with_suffix(".part"), ord_path.with_suffix(".part")
    with pq.ParquetWriter(tmp_i, olap.INCIDENTS) as wi, pq.ParquetWriter(tmp_o, olap.ORDERS) as wo:
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            ids = np.arange(start + 1, start + n + 1, dtype=np.int64)
            recv = recv_all[start:start + n]
            code = np.char.add(np.char.add(top[rng.choice(9, n, p=top_p)], np.char.zfill(
                rng.integers(1, 12, n).astype(str), 2)), np.char.zfill(rng.integers(1, 6, n).astype(str), 2))
            status = rng.choice(np.array(["closed", "merged", "diverted", "handled"]), n, p=[0.8, 0.02, 0.06, 0.12])
            a2d = (rng.lognormal(4.2, 0.6, n) * 1e6).astype(np.int64)
            r2a = a2d + (rng.lognormal(6.3, 0.5, n) * 1e6).astype(np.int64)
            dispatched = status != "diverted"
            ts = pa.timestamp("us", tz="UTC")
            wi.write_table(row_group_size=olap.ROW_GROUP, table=pa.Table.from_arrays([
                pa.array(ids), pa.array(code), pa.array(rng.integers(1, 4, n).astype(np.int16)),
                pa.array(rng.integers(1, 13, n).astype(np.int64)),
                pa.array(channels[rng.choice(5, n, p=[0.6, 0.2, 0.05, 0.1, 0.05])]),
                pa.array(status), pa.array(recv, type=ts),
                pa.array(np.where(dispatched, recv + a2d, 0), type=ts, mask=~dispatched),
                pa.array(np.where(dispatched, recv + r2a, 0), type=ts, mask=~dispatched),
                pa.array(recv + r2a + 3_600_000_000, type=ts, mask=status != "closed"),
            ], schema=olap.INCIDENTS))
            has = dispatched & (rng.random(n) < 0.95)
            m = int(has.sum())
            issued = recv[has] + a2d[has]
            wo.write_table(row_group_size=olap.ROW_GROUP, table=pa.Table.from_arrays([
                pa.array(ids[has]), pa.array(recv[has], type=ts), pa.array(status[has]),
                pa.array(rng.integers(1, 400, m).astype(np.int64)),
                pa.array(rng.integers(1, 13, m).astype(np.int64)), pa.array(issued, type=ts),
                pa.array(issued + (rng.lognormal(3.6, 0.7, m) * 1e6).astype(np.int64), type=ts),
                pa.array(recv[has] + r2a[has], type=ts),
            ], schema=olap.ORDERS))
    tmp_i.replace(inc_path)
    tmp_o.replace(ord_path)
    return inc_path, ord_path


def bj_day(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=UTC) - BJ


QUERIES: list[tuple[str, str, datetime, datetime, str]] = [
    ("day × category (环比/同比)", "counts", bj_day(2026, 11, 30), bj_day(2026, 12, 1), "category"),
    ("month × jurisdiction (环比/同比)", "counts", bj_day(2026, 10, 1), bj_day(2026, 11, 1), "jurisdiction"),
    ("year × hour", "counts", bj_day(2025, 11, 1), bj_day(2026, 11, 1), "hour"),
    ("year × week", "counts", bj_day(2025, 11, 1), bj_day(2026, 11, 1), "week"),
    ("month KPIs × station (p50/p90)", "kpis", bj_day(2026, 10, 1), bj_day(2026, 11, 1), "station"),
    ("year KPIs overall (p50/p90)", "kpis", bj_day(2025, 11, 1), bj_day(2026, 11, 1), "overall"),
]


def pandas_counts(inc: pd.DataFrame, a: datetime, b: datetime, by: str) -> dict[str, Any]:
    length = b - a
    out = {}
    for name, (x, y) in {"now": (a, b), "mom": (a - length, a), "yoy": (year_earlier(a), year_earlier(b))}.items():
        sel = inc[(inc["received_at"] >= x) & (inc["received_at"] < y) & (inc["status"] != "merged")]
        if by == "category":
            key = sel["category_code"].str[:2]
        elif by == "jurisdiction":
            key = sel["jurisdiction_org_id"].astype(str)
        else:
            lt = sel["received_at"].dt.tz_localize(None) + BJ
            if by == "hour":  # the vectorised accessors, not strftime (which is ~50× slower in pandas)
                key = lt.dt.hour
            else:
                iso = lt.dt.isocalendar()
                key = iso["year"] * 100 + iso["week"]
        out[name] = key.value_counts()
    return {"total": int(out["now"].sum()), "groups": out["now"].to_dict()}


def pandas_kpis(inc: pd.DataFrame, orders: pd.DataFrame, a: datetime, b: datetime, by: str) -> dict[str, Any]:
    sel = inc[(inc["received_at"] >= a) & (inc["received_at"] < b) & (inc["status"] != "merged")]
    o = orders[(orders["incident_received_at"] >= a) & (orders["incident_received_at"] < b)
               & (orders["incident_status"] != "merged")]  # the same denormalised columns DuckDB reads
    d2s = (o["signed_at"] - o["issued_at"]).dt.total_seconds()
    q = [0.5, 0.9]
    if by == "overall":
        a2d = (sel["dispatched_at"] - sel["received_at"]).dt.total_seconds()
        r2a = (sel["on_scene_at"] - sel["received_at"]).dt.total_seconds()
        return {"a2d": a2d.quantile(q).tolist(), "r2a": r2a.quantile(q).tolist(), "d2s": d2s.quantile(q).tolist()}
    # Incident-level measures go to the station of the incident's first order, as in the platform.
    first = o.sort_values("issued_at").drop_duplicates("incident_id")[["incident_id", "station_org_id"]]
    s = sel.merge(first, left_on="id", right_on="incident_id")
    a2d = (s["dispatched_at"] - s["received_at"]).dt.total_seconds().groupby(s["station_org_id"]).quantile(q)
    r2a = (s["on_scene_at"] - s["received_at"]).dt.total_seconds().groupby(s["station_org_id"]).quantile(q)
    return {"a2d": a2d.to_dict(), "r2a": r2a.to_dict(), "d2s": d2s.groupby(o["station_org_id"]).quantile(q).to_dict()}


def timed(fn: Any, repeat: int) -> tuple[float, list[float], Any]:
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--quick", action="store_true", help="10^5 rows, 2 repeats")
    args = ap.parse_args()
    rows, repeat = (100_000, 2) if args.quick else (args.rows, args.repeat)
    t = time.perf_counter()
    inc_path, ord_path = generate(rows)
    gen_s = time.perf_counter() - t
    con = olap.connect(inc_path, ord_path)
    n_orders = con.execute("SELECT count(*) FROM orders").fetchone()[0]
    t = time.perf_counter()
    inc = pd.read_parquet(inc_path)
    orders = pd.read_parquet(ord_path)
    load_s = time.perf_counter() - t
    print(f"{rows:,} incidents, {n_orders:,} orders (generated/cached in {gen_s:.1f} s; pandas load {load_s:.1f} s)")
    print(f"{'query':<34} {'duckdb cold':>12} {'duckdb med':>11} {'pandas med':>11} {'ratio':>7}")
    results = []
    for label, kind, a, b, by in QUERIES:
        if kind == "counts":
            def duck(a: datetime = a, b: datetime = b, by: str = by) -> Any:
                return olap.counts(con, a, b, by)

            def pdq(a: datetime = a, b: datetime = b, by: str = by) -> Any:
                return pandas_counts(inc, a, b, by)
        else:
            def duck(a: datetime = a, b: datetime = b, by: str = by) -> Any:
                return olap.kpi_percentiles(con, a, b, by)

            def pdq(a: datetime = a, b: datetime = b, by: str = by) -> Any:
                return pandas_kpis(inc, orders, a, b, by)
        d_med, d_times, d_res = timed(duck, repeat)
        p_med, _, p_res = timed(pdq, repeat)
        if kind == "counts":  # both engines must agree before either is timed meaningfully
            assert d_res["total"] == p_res["total"], (label, d_res["total"], p_res["total"])
        ratio = p_med / d_med
        results.append({"query": label, "duckdb_cold_ms": round(d_times[0] * 1e3, 1),
                        "duckdb_median_ms": round(d_med * 1e3, 1), "pandas_median_ms": round(p_med * 1e3, 1),
                        "ratio": round(ratio, 2)})
        print(f"{label:<34} {d_times[0] * 1e3:>10.1f}ms {d_med * 1e3:>9.1f}ms {p_med * 1e3:>9.1f}ms {ratio:>6.1f}×")
    print(json.dumps({"rows": rows, "orders": int(n_orders), "repeat": repeat,
                      "max_duckdb_median_ms": max(r["duckdb_median_ms"] for r in results),
                      "min_ratio_pandas_over_duckdb": min(r["ratio"] for r in results), "queries": results},
                     ensure_ascii=False))


if __name__ == "__main__":
    main()
