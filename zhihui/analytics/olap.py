"""Statistics and KPIs as DuckDB SQL over a Parquet export of the incident tables (the 统计分析 warehouse).

:mod:`zhihui.analytics.stats` answers the live screens from the transactional database, which is right
for a day or a month of one bureau. Years of a city (10^7 incidents) are answered here instead: the
incidents and their dispatch orders are exported to Parquet (:func:`export`, e.g. nightly), and the same
groupings — by category level, jurisdiction, channel, day/week/month, hour × weekday, with 环比 and 同比 —
and the p50/p90 timeliness figures are computed by DuckDB. :func:`counts` and :func:`kpi_percentiles`
give the same numbers as :func:`stats.statistics` and :func:`stats.kpis` on the same data (tested); the
speed is measured in ``bench/stats_latency.py``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from zhihui.analytics.stats import GROUPS, _change, year_earlier
from zhihui.core.clock import as_utc
from zhihui.dispatch.models import Unit
from zhihui.incidents.models import Incident
from zhihui.instructions.models import Instruction

INCIDENTS = pa.schema([
    ("id", pa.int64()), ("category_code", pa.string()), ("level", pa.int16()), ("jurisdiction_org_id", pa.int64()),
    ("channel", pa.string()), ("status", pa.string()), ("received_at", pa.timestamp("us", tz="UTC")),
    ("dispatched_at", pa.timestamp("us", tz="UTC")), ("on_scene_at", pa.timestamp("us", tz="UTC")),
    ("closed_at", pa.timestamp("us", tz="UTC")),
])
# Orders carry their incident's received time and status, so the order KPIs need no join back to incidents.
ORDERS = pa.schema([
    ("incident_id", pa.int64()), ("incident_received_at", pa.timestamp("us", tz="UTC")),
    ("incident_status", pa.string()), ("unit_id", pa.int64()), ("station_org_id", pa.int64()),
    ("issued_at", pa.timestamp("us", tz="UTC")), ("signed_at", pa.timestamp("us", tz="UTC")),
    ("on_scene_at", pa.timestamp("us", tz="UTC")),
])
CHUNK = 50_000
ROW_GROUP = 122_880  # DuckDB's own row-group size: a day of a big city is a few groups, the rest is skipped

# Group keys in SQL, mirroring stats._key; `lt` is the Beijing wall time (UTC+8, no DST since 1991). Keys are
# grouped as numbers or dates and formatted afterwards: strftime over millions of rows costs seconds.
_KEY_SQL = {
    "category": "substr(category_code, 1, 2)",
    "category2": "substr(category_code, 1, 4)",
    "category3": "substr(category_code, 1, 6)",
    "level": "CAST(level AS VARCHAR)",
    "jurisdiction": "coalesce(CAST(jurisdiction_org_id AS VARCHAR), 'none')",
    "channel": "channel",
    "day": "CAST(lt AS DATE)",
    "week": "isoyear(lt) * 100 + week(lt)",
    "month": "CAST(date_trunc('month', lt) AS DATE)",
    "hour": "(lt_us // 3600000000) % 24",
    "weekday": "(lt_us // 86400000000 + 3) % 7 + 1",  # 1970-01-01 was a Thursday (ISO day 4)
}
_KEY_FORMAT: dict[str, Any] = {
    "day": lambda d: d.isoformat(),
    "week": lambda n: f"{n // 100}-W{n % 100:02d}",
    "month": lambda d: d.isoformat()[:7],
    "hour": lambda h: f"{h:02d}",
    "weekday": str,
}


async def export(session: AsyncSession, out_dir: Path) -> dict[str, Path]:
    """Write incidents.parquet and orders.parquet (dispatch orders with the unit's station) to `out_dir`."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"incidents": out_dir / "incidents.parquet", "orders": out_dir / "orders.parquet"}
    inc_cols = [getattr(Incident, f.name) for f in INCIDENTS]
    stmt_o = (select(Instruction.incident_id, Incident.received_at, Incident.status, Instruction.unit_id, Unit.org_id,
                     Instruction.issued_at, Instruction.signed_at, Instruction.on_scene_at)
              .join(Incident, Incident.id == Instruction.incident_id)
              .join(Unit, Unit.id == Instruction.unit_id, isouter=True)
              .where(Instruction.kind == "dispatch", Instruction.incident_id.is_not(None)))
    # In received order: Parquet row groups then hold narrow time ranges, so a day's query skips the rest.
    stmt_i = select(*inc_cols).order_by(Incident.received_at, Incident.id)
    stmt_o = stmt_o.order_by(Instruction.issued_at, Instruction.id)
    for name, stmt, schema in (("incidents", stmt_i, INCIDENTS), ("orders", stmt_o, ORDERS)):
        with pq.ParquetWriter(paths[name], schema) as writer:
            result = await session.stream(stmt.execution_options(yield_per=CHUNK))
            async for part in result.partitions(CHUNK):
                cols = list(zip(*part, strict=True)) if part else [[] for _ in schema]
                writer.write_table(row_group_size=ROW_GROUP, table=pa.Table.from_arrays(
                    [pa.array([_ts(v) for v in c] if schema.field(i).type == pa.timestamp("us", tz="UTC") else c,
                              type=schema.field(i).type) for i, c in enumerate(cols)], schema=schema))
    return paths


def _ts(v: datetime | None) -> datetime | None:
    return None if v is None else as_utc(v)


def connect(incidents: str | Path, orders: str | Path | None = None, *, threads: int | None = None
            ) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with views `incidents` (+ Beijing time `lt`) and `orders` over the Parquet files."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    # Beijing wall time from the UTC micros by arithmetic: casting TIMESTAMPTZ goes through ICU per row (3× slower).
    con.execute(f"""CREATE VIEW incidents AS
                    SELECT *, epoch_us(received_at) + 28800000000 AS lt_us,
                           make_timestamp(epoch_us(received_at) + 28800000000) AS lt
                    FROM read_parquet('{_q(incidents)}')""")
    if orders is not None:
        con.execute(f"""CREATE VIEW orders AS SELECT *, epoch_us(incident_received_at) + 28800000000 AS lt_us
                        FROM read_parquet('{_q(orders)}')""")
    return con


def _q(path: str | Path) -> str:
    return str(path).replace("'", "''")


def counts(con: duckdb.DuckDBPyConnection, since: datetime, until: datetime, by: str = "category",
           *, police_only: bool = False) -> dict[str, Any]:
    """:func:`stats.statistics` without labels: counts per group in [since, until) with 环比 and 同比."""
    if by not in GROUPS:
        raise ValueError(f"by must be one of {', '.join(GROUPS)}")
    since, until = as_utc(since), as_utc(until)
    length = until - since
    windows = {"now": (since, until), "mom": (since - length, since),
               "yoy": (year_earlier(since), year_earlier(until))}
    dated = by in ("day", "week", "month")
    key = _KEY_SQL[by]
    status = "status <> 'merged'" + (" AND status <> 'diverted'" if police_only else "")
    # One scan for the three windows: each row is tagged with the window(s) it falls in.
    parts = []
    params: list[Any] = []
    for name, (a, b) in windows.items():
        k = key if name == "now" or not dated else "NULL"
        parts.append(f"SELECT '{name}' AS w, {k} AS k, count(*) AS n FROM incidents "
                     f"WHERE received_at >= ? AND received_at < ? AND {status} GROUP BY ALL")
        params += [a, b]
    rows = con.execute(" UNION ALL ".join(parts), params).fetchall()
    got: dict[str, dict[str | None, int]] = {"now": {}, "mom": {}, "yoy": {}}
    fmt = _KEY_FORMAT.get(by)
    for w, k, n in rows:
        key = fmt(k) if fmt is not None and k is not None else k
        got[w][key] = got[w].get(key, 0) + int(n)
    totals = {w: sum(v.values()) for w, v in got.items()}
    now = got["now"]
    keys = sorted(now) if by in ("day", "week", "month", "hour") else sorted(now, key=lambda k: (-now[k], k))
    groups = []
    for k in keys:
        g: dict[str, Any] = {"key": k, "count": now[k], "share": round(now[k] / totals["now"], 4)}
        if not dated:
            prev, yb = got["mom"].get(k, 0), got["yoy"].get(k, 0)
            g |= {"previous": prev, "mom_change": _change(now[k], prev), "year_before": yb,
                  "yoy_change": _change(now[k], yb)}
        groups.append(g)
    return {"since": since, "until": until, "by": by, "police_only": police_only, "total": totals["now"],
            "previous_total": totals["mom"], "mom_change": _change(totals["now"], totals["mom"]),
            "year_before_total": totals["yoy"], "yoy_change": _change(totals["now"], totals["yoy"]), "groups": groups}


def kpi_percentiles(con: duckdb.DuckDBPyConnection, since: datetime, until: datetime, by: str = "overall"
                    ) -> list[dict[str, Any]]:
    """p50/p90 (linear interpolation, as numpy's default) of 接警→派警 and 接警→到场 per incident, and of
    派警→签收 per order, grouped overall / by station (of the first order's unit) / by shift."""
    if by not in ("overall", "station", "shift"):
        raise ValueError("by must be one of overall, station, shift")
    # Orders of incidents received in the window were issued after its start: the bound prunes older row groups.
    first = """(SELECT incident_id, arg_min(station_org_id, issued_at) AS station FROM orders
                WHERE issued_at >= $since GROUP BY incident_id)"""
    shift = "CASE WHEN ({t}.lt_us // 3600000000) % 24 BETWEEN 8 AND 19 THEN 'day' ELSE 'night' END"
    group_inc = {"overall": "'all'", "shift": shift.format(t="i"), "station": "CAST(f.station AS VARCHAR)"}[by]
    group_ord = {"overall": "'all'", "shift": shift.format(t="o"), "station": "CAST(o.station_org_id AS VARCHAR)"}[by]
    join = f"LEFT JOIN {first} f ON f.incident_id = i.id" if by == "station" else ""
    where = "i.received_at >= $since AND i.received_at < $until AND i.status <> 'merged'"
    params = {"since": as_utc(since), "until": as_utc(until)}
    inc = con.execute(f"""
        SELECT {group_inc} AS g,
               quantile_cont((epoch_us(i.dispatched_at) - epoch_us(i.received_at)) / 1e6, [0.5, 0.9])
                 FILTER (WHERE i.dispatched_at >= i.received_at) AS a2d,
               count(*) FILTER (WHERE i.dispatched_at >= i.received_at) AS n_a2d,
               quantile_cont((epoch_us(i.on_scene_at) - epoch_us(i.received_at)) / 1e6, [0.5, 0.9])
                 FILTER (WHERE i.on_scene_at >= i.received_at) AS r2a,
               count(*) FILTER (WHERE i.on_scene_at >= i.received_at) AS n_r2a,
               count(*) AS incidents
        FROM incidents i {join} WHERE {where} {"AND f.station IS NOT NULL" if by == "station" else ""}
        GROUP BY ALL ORDER BY g""", params).fetchall()
    ords = con.execute(f"""
        SELECT {group_ord} AS g,
               quantile_cont((epoch_us(o.signed_at) - epoch_us(o.issued_at)) / 1e6, [0.5, 0.9])
                 FILTER (WHERE o.signed_at >= o.issued_at) AS d2s,
               count(*) FILTER (WHERE o.signed_at >= o.issued_at) AS n_d2s,
               count(*) AS n
        FROM orders o
        WHERE o.incident_received_at >= $since AND o.incident_received_at < $until AND o.incident_status <> 'merged'
        GROUP BY ALL""", params).fetchall()
    ords = {g: (d2s, n_d2s, n) for g, d2s, n_d2s, n in ords}

    def pc(q: list[float] | None, n: int) -> dict[str, Any]:
        return {"n": int(n), "p50_s": round(q[0], 1), "p90_s": round(q[1], 1)} if q and n else \
            {"n": 0, "p50_s": None, "p90_s": None}

    out = []
    for g, a2d, n_a2d, r2a, n_r2a, n_inc in inc:
        d2s, n_d2s, n_ord = ords.get(g, (None, 0, 0))
        out.append({"group": g, "incidents": int(n_inc), "orders": int(n_ord), "answer_to_dispatch": pc(a2d, n_a2d),
                    "dispatch_to_sign": pc(d2s, n_d2s), "received_to_arrival": pc(r2a, n_r2a)})
    return out
