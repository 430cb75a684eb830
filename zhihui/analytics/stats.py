"""警情统计 and 处警时效 KPIs over the platform's own incident timelines.

Statistics count recorded incidents (merged repeat calls are not incidents of their own) in a window
[since, until), grouped by category (top / middle / finest level of the 类别 tree), 警情级别,
jurisdiction, channel, or by Beijing-time day / ISO week / month / hour / weekday; each group carries
环比 (the window just before, of the same length) and 同比 (the same window a year earlier).

KPIs come from the incident and instruction timestamps (NENA/NFPA-style: percentiles, not means):
answer→dispatch (received → dispatched), dispatch→sign-off (order issued → signed), sign-off→arrival
(signed → on scene), received→arrival, feedback on time, overdue sign-offs and feedback, closure
rate and the 12345 diversion share; overall, per station, per unit or per shift (白班 08–20 / 夜班
20–08 Beijing time, by when the call came in).

The windows of a leader's question (a day, a month) hold thousands of rows, so rows are read with
one narrow SELECT per window and aggregated here; the same code runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from zhihui.core.clock import SHANGHAI, as_utc
from zhihui.core.orgs import Org
from zhihui.dispatch.models import Unit
from zhihui.incidents.categories import categories
from zhihui.incidents.models import Incident
from zhihui.instructions.models import Instruction

GroupBy = Literal["category", "category2", "category3", "level", "jurisdiction", "channel", "day", "week", "month",
                  "hour", "weekday"]
GROUPS: tuple[str, ...] = GroupBy.__args__  # type: ignore[attr-defined]
KpiBy = Literal["overall", "station", "unit", "shift"]
KPI_GROUPS: tuple[str, ...] = KpiBy.__args__  # type: ignore[attr-defined]
WEEKDAYS_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
DAY_SHIFT = (8, 20)  # 白班 08:00–20:00 Beijing time; the rest is 夜班


def _local(at: datetime) -> datetime:
    return as_utc(at).astimezone(SHANGHAI)


def year_earlier(at: datetime) -> datetime:
    try:
        return at.replace(year=at.year - 1)
    except ValueError:  # 29 February
        return at.replace(year=at.year - 1, day=28)


def _change(now: int, before: int) -> float | None:
    return None if before == 0 else round((now - before) / before, 4)


async def _incident_rows(session: AsyncSession, since: datetime, until: datetime) -> list[Any]:
    stmt = (select(Incident.category_code, Incident.level, Incident.jurisdiction_org_id, Incident.channel,
                   Incident.received_at, Incident.status)
            .where(Incident.received_at >= since, Incident.received_at < until, Incident.status != "merged"))
    return list((await session.execute(stmt)).all())


def _key(row: Any, by: str) -> str:
    if by in ("category", "category2", "category3"):
        return str(row.category_code)[: {"category": 2, "category2": 4, "category3": 6}[by]]
    if by == "level":
        return str(row.level)
    if by == "jurisdiction":
        return str(row.jurisdiction_org_id) if row.jurisdiction_org_id is not None else "none"
    if by == "channel":
        return str(row.channel)
    local = _local(row.received_at)
    if by == "day":
        return local.strftime("%Y-%m-%d")
    if by == "week":
        y, w, _ = local.isocalendar()
        return f"{y}-W{w:02d}"
    if by == "month":
        return local.strftime("%Y-%m")
    if by == "hour":
        return f"{local.hour:02d}"
    return str(local.isoweekday())  # weekday, 1 = Monday


async def _labels(session: AsyncSession, by: str, keys: Iterable[str]) -> dict[str, str]:
    tree = categories()
    if by.startswith("category"):
        return {k: "/".join(c.name for c in tree.path(k)) if tree.get(k) else k for k in keys}
    if by == "level":
        return {k: f"{'一二三'[int(k) - 1]}类" if k in ("1", "2", "3") else k for k in keys}
    if by == "jurisdiction":
        ids = [int(k) for k in keys if k.isdigit()]
        names = dict((await session.execute(select(Org.id, Org.name).where(Org.id.in_(ids)))).all()) if ids else {}
        return {k: names.get(int(k), k) if k.isdigit() else "辖区外/未定位" for k in keys}
    if by == "weekday":
        return {k: WEEKDAYS_ZH[int(k) - 1] for k in keys}
    if by == "hour":
        return {k: f"{k}时" for k in keys}
    return {k: k for k in keys}


def _shift_key(row: Any, by: str) -> str | None:
    """The same group in the comparison window: a date bucket moves with the window, the rest stays."""
    return None if by in ("day", "week", "month") else _key(row, by)


async def statistics(session: AsyncSession, since: datetime, until: datetime, by: GroupBy = "category",
                     *, police_only: bool = False) -> dict[str, Any]:
    """Counts per group in [since, until) with 环比 (previous window) and 同比 (a year earlier).

    police_only leaves out calls diverted to 12345 (非警务). Date groups (day/week/month) get no
    per-group comparison — their keys do not recur — only the totals do."""
    if by not in GROUPS:
        raise ValueError(f"by must be one of {', '.join(GROUPS)}")
    since, until = as_utc(since), as_utc(until)
    if until <= since:
        raise ValueError("until must be after since")
    length = until - since
    windows = {"now": (since, until), "mom": (since - length, since),
               "yoy": (year_earlier(since), year_earlier(until))}
    counts: dict[str, Counter[str]] = {}
    totals: dict[str, int] = {}
    for name, (a, b) in windows.items():
        rows = [r for r in await _incident_rows(session, a, b) if not (police_only and r.status == "diverted")]
        totals[name] = len(rows)
        key = _key if name == "now" else _shift_key
        counts[name] = Counter(k for r in rows if (k := key(r, by)) is not None)
    keys = sorted(counts["now"]) if by in ("day", "week", "month", "hour") else \
        sorted(counts["now"], key=lambda k: (-counts["now"][k], k))
    labels = await _labels(session, by, keys)
    groups = []
    for k in keys:
        n = counts["now"][k]
        g: dict[str, Any] = {"key": k, "label": labels.get(k, k), "count": n,
                             "share": round(n / totals["now"], 4) if totals["now"] else None}
        if by not in ("day", "week", "month"):
            g |= {"previous": counts["mom"][k], "mom_change": _change(n, counts["mom"][k]),
                  "year_before": counts["yoy"][k], "yoy_change": _change(n, counts["yoy"][k])}
        groups.append(g)
    return {
        "since": since, "until": until, "by": by, "police_only": police_only,
        "total": totals["now"], "previous_total": totals["mom"], "mom_change": _change(totals["now"], totals["mom"]),
        "year_before_total": totals["yoy"], "yoy_change": _change(totals["now"], totals["yoy"]),
        "groups": groups,
    }


def _pcts(values: Sequence[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50_s": None, "p90_s": None}
    arr = np.asarray(values, dtype=float)
    return {"n": int(arr.size), "p50_s": round(float(np.percentile(arr, 50)), 1),
            "p90_s": round(float(np.percentile(arr, 90)), 1)}


def _seconds(a: datetime | None, b: datetime | None) -> float | None:
    if a is None or b is None:
        return None
    d = (as_utc(b) - as_utc(a)).total_seconds()
    return d if d >= 0 else None


def shift_of(at: datetime) -> str:
    h = _local(at).hour
    return "day" if DAY_SHIFT[0] <= h < DAY_SHIFT[1] else "night"


async def kpis(session: AsyncSession, since: datetime, until: datetime, by: KpiBy = "overall") -> dict[str, Any]:
    """处警时效 KPIs of the incidents received in [since, until), grouped `by`."""
    if by not in KPI_GROUPS:
        raise ValueError(f"by must be one of {', '.join(KPI_GROUPS)}")
    since, until = as_utc(since), as_utc(until)
    if until <= since:
        raise ValueError("until must be after since")
    tree = categories()
    incidents = {r.id: r for r in (await session.execute(
        select(Incident.id, Incident.category_code, Incident.status, Incident.received_at, Incident.dispatched_at,
               Incident.on_scene_at, Incident.closed_at)
        .where(Incident.received_at >= since, Incident.received_at < until, Incident.status != "merged"))).all()}
    orders = list((await session.execute(
        select(Instruction.incident_id, Instruction.unit_id, Instruction.issued_at, Instruction.signed_at,
               Instruction.on_scene_at, Instruction.feedback_at, Instruction.feedback_deadline,
               Instruction.sign_overdue_at, Instruction.feedback_overdue_at, Instruction.status)
        .where(Instruction.kind == "dispatch", Instruction.incident_id.in_(list(incidents)))))
        .all()) if incidents else []
    units = {u.id: u for u in (await session.execute(select(Unit.id, Unit.call_sign, Unit.org_id))).all()}
    org_names = dict((await session.execute(select(Org.id, Org.name))).all())

    def group_of_order(o: Any) -> str:
        if by == "overall":
            return "all"
        if by == "shift":
            return shift_of(incidents[o.incident_id].received_at)
        u = units.get(o.unit_id)
        if by == "unit":
            return u.call_sign if u else "unknown"
        return org_names.get(u.org_id, "unknown") if u and u.org_id else "unknown"

    acc: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    flags: dict[str, Counter[str]] = defaultdict(Counter)
    for o in orders:
        g = group_of_order(o)
        if (s := _seconds(o.issued_at, o.signed_at)) is not None:
            acc[g]["dispatch_to_sign"].append(s)
        if (s := _seconds(o.signed_at, o.on_scene_at)) is not None:
            acc[g]["sign_to_arrival"].append(s)
        f = flags[g]
        f["orders"] += 1
        f["sign_overdue"] += o.sign_overdue_at is not None
        f["feedback_overdue"] += o.feedback_overdue_at is not None
        if o.feedback_at is not None:
            f["feedback"] += 1
            f["feedback_on_time"] += as_utc(o.feedback_at) <= as_utc(o.feedback_deadline)
    # Incident-level measures go to the group of the incident's first order (overall/shift: their own).
    first_order: dict[int, Any] = {}
    for o in sorted(orders, key=lambda o: as_utc(o.issued_at)):
        first_order.setdefault(o.incident_id, o)
    inc_flags: dict[str, Counter[str]] = defaultdict(Counter)
    for iid, i in incidents.items():
        if by == "overall":
            g = "all"
        elif by == "shift":
            g = shift_of(i.received_at)
        elif iid in first_order:
            g = group_of_order(first_order[iid])
        else:
            continue  # never dispatched: no unit or station to charge it to
        c = inc_flags[g]
        cat = tree.get(i.category_code)
        c["incidents"] += 1
        c["diverted"] += i.status == "diverted"
        police = cat.police if cat else True
        if police and i.status not in ("diverted", "cancelled"):
            c["police"] += 1
            c["closed"] += i.status == "closed"
        if (s := _seconds(i.received_at, i.dispatched_at)) is not None:
            acc[g]["answer_to_dispatch"].append(s)
        if (s := _seconds(i.received_at, i.on_scene_at)) is not None:
            acc[g]["received_to_arrival"].append(s)
    out = []
    for g in sorted(set(acc) | set(flags) | set(inc_flags)):
        f, c = flags[g], inc_flags[g]
        out.append({
            "group": g, "label": {"day": "白班 08–20", "night": "夜班 20–08", "all": "全部"}.get(g, g),
            **{m: _pcts(acc[g][m]) for m in ("answer_to_dispatch", "dispatch_to_sign", "sign_to_arrival",
                                             "received_to_arrival")},
            "orders": f["orders"], "sign_overdue": f["sign_overdue"], "feedback_overdue": f["feedback_overdue"],
            "feedback_on_time_rate": round(f["feedback_on_time"] / f["feedback"], 4) if f["feedback"] else None,
            "incidents": c["incidents"], "closure_rate": round(c["closed"] / c["police"], 4) if c["police"] else None,
            "diversion_share": round(c["diverted"] / c["incidents"], 4) if c["incidents"] else None,
        })
    return {"since": since, "until": until, "by": by, "groups": out}


def _flat(rows: Sequence[dict[str, Any]],
          fields: Sequence[str] | None = None) -> tuple[list[str], list[dict[str, Any]]]:
    # Nested percentile dicts become `<name>_p50_s` columns; the header is the union in first-seen order.
    flat = []
    for r in rows:
        row: dict[str, Any] = {}
        for k, v in r.items():
            if isinstance(v, dict):
                for kk, vv in v.items():
                    row[f"{k}_{kk}"] = vv
            else:
                row[k] = v
        flat.append(row)
    if fields is not None:  # a fixed header (kept when there are no rows)
        return list(fields), flat
    names: list[str] = []
    for r in flat:
        names += [k for k in r if k not in names]
    return names, flat


def to_csv(rows: Sequence[dict[str, Any]], fields: Sequence[str] | None = None) -> str:
    """Flat CSV of result groups (nested percentile dicts become `<name>_p50_s` columns); UTF-8 with a
    BOM so Excel opens the Chinese labels correctly. `fields`: a fixed header instead of the rows' keys."""
    fields, flat = _flat(rows, fields)
    if not fields:
        return "\ufeff"  # nothing to report: no header either
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields)
    w.writeheader()
    w.writerows(flat)
    return "\ufeff" + buf.getvalue()


def to_xlsx(rows: Sequence[dict[str, Any]], sheet: str = "统计", fields: Sequence[str] | None = None) -> bytes:
    """The same flat table as :func:`to_csv`, as an Excel workbook (numbers stay numbers, header frozen)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    fields, flat = _flat(rows, fields)
    wb = Workbook()
    ws = wb.active
    ws.title = sheet[:31]  # Excel's sheet-name limit
    if fields:
        ws.append(fields)
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for r in flat:
            ws.append([_xlsx_cell(r.get(f)) for f in fields])
        ws.freeze_panes = "A2"
        for i, f in enumerate(fields, start=1):
            width = max(len(str(f)), *(len(str(r.get(f) or "")) for r in flat)) if flat else len(str(f))
            ws.column_dimensions[ws.cell(row=1, column=i).column_letter].width = min(40, width + 2)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _xlsx_cell(v: Any) -> Any:
    if isinstance(v, datetime):
        return _local(v).replace(tzinfo=None)  # Excel has no zones: Beijing wall time, as the CSV's readers expect
    if isinstance(v, list | tuple | set):
        return "、".join(map(str, v))
    return v


def default_window(now: datetime, days: int = 1) -> tuple[datetime, datetime]:
    """The last `days` whole Beijing-time days before `now` (yesterday, for a daily report)."""
    local = _local(now).replace(hour=0, minute=0, second=0, microsecond=0)
    return (local - timedelta(days=days)).astimezone(as_utc(now).tzinfo), local.astimezone(as_utc(now).tzinfo)


# 四色预警 over the platform's incidents -------------------------------------------------------------

WARNING_HISTORY = timedelta(weeks=3 * 52 + 3)  # the seasonal baseline looks back up to three years ±1 week


def week_start(at: datetime) -> datetime:
    """Monday 00:00 Beijing time of the week holding `at` (as UTC)."""
    local = _local(at).replace(hour=0, minute=0, second=0, microsecond=0)
    return (local - timedelta(days=local.weekday())).astimezone(as_utc(at).tzinfo)


async def area_warnings(session: AsyncSession, week: datetime) -> dict[str, Any]:
    """Four-colour grades per (辖区, top-level category) for the Beijing week starting `week` (a Monday),
    with the reasons, a summary and the rule-based countermeasures (zhihui.analytics.warnings)."""
    import pandas as pd

    from zhihui.analytics import warnings as fourcolour

    start = week_start(week)
    rows = await _incident_rows(session, start - WARNING_HISTORY, start + timedelta(days=7))
    tree = categories()
    names = dict((await session.execute(select(Org.id, Org.name))).all())
    records, hours = [], defaultdict(lambda: [0] * 24)
    for r in rows:
        cat = tree.get(str(r.category_code)[:2])
        if r.status == "diverted" or (cat is not None and not cat.police):
            continue  # 12345 matters are not part of the security situation
        area = names.get(r.jurisdiction_org_id, "辖区外/未定位") if r.jurisdiction_org_id else "辖区外/未定位"
        label = cat.name if cat else str(r.category_code)[:2]
        local = _local(r.received_at)
        records.append((area, label, (local - timedelta(days=local.weekday())).date()))
        if as_utc(r.received_at) < start:
            hours[(area, label)][local.hour] += 1
    frame = pd.DataFrame(records, columns=["area", "category", "period_start"])
    if frame.empty:
        return {"week_start": start, "warnings": [], "summary": fourcolour.summarise([]), "countermeasures": []}
    counts = frame.groupby(["area", "category", "period_start"]).size().rename("count").reset_index()
    try:
        graded = fourcolour.assess_all(counts, _local(start).date())
    except ValueError as exc:  # a young installation: too few weeks before this one for a baseline
        return {"week_start": start, "warnings": [], "summary": fourcolour.summarise([]), "countermeasures": [],
                "note": f"历史数据不足，暂不评定（{exc}）"}
    return {"week_start": start, "rule": fourcolour.__doc__.strip().splitlines()[0] if fourcolour.__doc__ else None,
            "warnings": [w.to_dict() for w in graded], "summary": fourcolour.summarise(graded),
            "countermeasures": fourcolour.countermeasures_zh(graded, dict(hours))}
