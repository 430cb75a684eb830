"""/analytics: 警情统计 (counts with 同比/环比) and 处警时效 KPIs, as JSON or CSV for Excel."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy import select

from zhihui.analytics import forecast, stats
from zhihui.api.deps import attachment, db_of, require
from zhihui.core.auth import Actor, Role
from zhihui.core.clock import utcnow
from zhihui.core.errors import InvalidInput
from zhihui.incidents.models import Incident

router = APIRouter(prefix="/analytics", tags=["analytics"])
ANALYSTS = (Role.ANALYST, Role.LEADER, Role.COMMANDER, Role.INSPECTOR, Role.ADMIN)
MAX_WINDOW = timedelta(days=400)  # a year and its edges; longer series belong to the offline reports


def _window(since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(name, f"{name} must carry a UTC offset, e.g. 2026-11-23T00:00:00+08:00")
    if since is None and until is None:
        return stats.default_window(utcnow())
    until = until or utcnow()
    since = since or until - timedelta(days=1)
    if until <= since:
        raise InvalidInput("until", "until must be after since")
    if until - since > MAX_WINDOW:
        raise InvalidInput("since", f"the window may span at most {MAX_WINDOW.days} days")
    return since, until


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _export(rows: list[dict], name: str, fmt: str) -> Response:
    if fmt == "xlsx":
        return Response(stats.to_xlsx(rows, name), media_type=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'})
    return Response(stats.to_csv(rows), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


@router.get("/stats")
async def statistics(request: Request, _actor: Annotated[Actor, Depends(require(*ANALYSTS))],
                     since: datetime | None = None, until: datetime | None = None,
                     by: Annotated[str, Query(pattern="^(" + "|".join(stats.GROUPS) + ")$")] = "category",
                     police_only: bool = False, format: Literal["json", "csv", "xlsx"] = "json") -> object:
    """Counts in [since, until) (default: yesterday, Beijing time) grouped `by`, with 环比 and 同比."""
    a, b = _window(since, until)
    async with db_of(request).read() as session:
        out = await stats.statistics(session, a, b, by, police_only=police_only)  # type: ignore[arg-type]
    return out if format == "json" else _export(out["groups"], f"stats-{by}", format)


@router.get("/kpis")
async def kpis(request: Request, _actor: Annotated[Actor, Depends(require(*ANALYSTS))],
               since: datetime | None = None, until: datetime | None = None,
               by: Annotated[str, Query(pattern="^(" + "|".join(stats.KPI_GROUPS) + ")$")] = "overall",
               format: Literal["json", "csv", "xlsx"] = "json") -> object:
    """处警时效: p50/p90 of answer→dispatch, dispatch→sign-off, sign-off→arrival and received→arrival,
    feedback on time, overdue counts, closure rate and 12345 diversion share."""
    a, b = _window(since, until)
    async with db_of(request).read() as session:
        out = await stats.kpis(session, a, b, by)  # type: ignore[arg-type]
    return out if format == "json" else _export(out["groups"], f"kpis-{by}", format)


@router.get("/warnings")
async def warnings(request: Request, _actor: Annotated[Actor, Depends(require(*ANALYSTS))],
                   week: datetime | None = None) -> dict:
    """四色预警 per 辖区 and category for the Beijing week holding `week` (default: last week), each grade
    explained (observed, baseline, ratio, p-value, trend), with rule-based 打防对策."""
    if week is not None and week.tzinfo is None:
        raise InvalidInput("week", "week must carry a UTC offset, e.g. 2026-11-23T00:00:00+08:00")
    at = week or stats.week_start(utcnow()) - timedelta(days=7)
    async with db_of(request).read() as session:
        return await stats.area_warnings(session, at)


@router.get("/hotspots")
async def hotspots(request: Request, _actor: Annotated[Actor, Depends(require(*ANALYSTS, Role.DISPATCHER))],
                   start: date | None = None, method: forecast.Method = "prospective",
                   category: Annotated[str | None, Query(pattern="^[0-9]{2,6}$")] = None,
                   horizon_days: Annotated[int, Query(ge=1, le=28)] = 7,
                   coverage: Annotated[float, Query(gt=0, le=0.5)] = 0.05,
                   cell_m: Annotated[float, Query(ge=50, le=1000)] = 150.0) -> dict:
    """警情热点与预测: the top `coverage` share of grid cells for the Beijing days from `start` (default
    today), as GeoJSON, with the same method's backtest one horizon earlier (hit rate, PAI)."""
    first = start or (utcnow() + forecast.CST_OFFSET).date()
    begin = datetime.combine(first, datetime.min.time(), tzinfo=UTC) - forecast.CST_OFFSET
    since = begin - timedelta(days=forecast.history_needed(method, horizon_days))
    stmt = select(Incident.lat, Incident.lon, Incident.received_at).where(
        Incident.received_at >= since, Incident.received_at < begin,
        Incident.status.notin_(("merged", "diverted", "cancelled")), Incident.lat.is_not(None))
    if category:
        stmt = stmt.where(Incident.category_code.startswith(category))
    async with db_of(request).read() as session:
        rows = (await session.execute(stmt)).all()
    out = forecast.forecast(forecast.frame(rows), first, method=method, horizon_days=horizon_days,
                            cell_m=cell_m, coverage=coverage).geojson()
    out["category"] = category
    return out


@router.get("/report")
async def situation_report(request: Request, _actor: Annotated[Actor, Depends(require(*ANALYSTS))],
                           period: Literal["daily", "monthly"] = "daily",
                           day: Annotated[str | None, Query(alias="date")] = None,
                           format: Literal["html", "pdf", "json"] = "html") -> object:
    """治安形势评估报告 of the Beijing day `date` (YYYY-MM-DD, default yesterday) or of the month holding it:
    totals with 环比/同比, categories, 辖区 and map, hours, 四色预警, 处警时效 and rule-based 打防对策; as one
    self-contained HTML page, an A4 PDF (attachment) or the figures as JSON."""
    import asyncio

    from zhihui.analytics import report as situation
    from zhihui.core.clock import SHANGHAI

    if day is None:
        wanted = (utcnow().astimezone(SHANGHAI) - timedelta(days=1)).date()
    else:
        try:
            wanted = datetime.strptime(day, "%Y-%m-%d").date()
        except ValueError:
            raise InvalidInput("date", "date must be a calendar day as YYYY-MM-DD, e.g. 2026-03-02") from None
        if not 1971 <= wanted.year <= 9998:  # 同比 looks a year back, the windows a month ahead
            raise InvalidInput("date", "date must lie between 1971 and 9998")
    async with db_of(request).read() as session:
        rep = await situation.build_report(session, period=period, day=wanted)
    if format == "json":
        return rep.as_dict()
    # Charts and PDF layout are CPU-bound (a second or so): keep them off the event loop.
    if format == "pdf":
        body = await asyncio.to_thread(rep.pdf)
        zh = f"治安形势评估报告-{situation.PERIOD_ZH[period]}-{rep.filename('pdf').split('-', 2)[2]}"
        return Response(body, media_type="application/pdf", headers=attachment(rep.filename("pdf"), zh))
    page = await asyncio.to_thread(rep.html)
    return Response(page, media_type="text/html; charset=utf-8",
                    headers={"Content-Disposition": f'inline; filename="{rep.filename("html")}"'})
