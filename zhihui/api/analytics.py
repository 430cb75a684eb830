"""/analytics: 警情统计 (counts with 同比/环比) and 处警时效 KPIs, as JSON or CSV for Excel."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from zhihui.analytics import stats
from zhihui.api.deps import db_of, require
from zhihui.core.auth import Actor, Role
from zhihui.core.clock import utcnow
from zhihui.core.errors import InvalidInput

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


def _csv(rows: list[dict], name: str) -> Response:
    return Response(stats.to_csv(rows), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


@router.get("/stats")
async def statistics(request: Request, _actor: Annotated[Actor, Depends(require(*ANALYSTS))],
                     since: datetime | None = None, until: datetime | None = None,
                     by: Annotated[str, Query(pattern="^(" + "|".join(stats.GROUPS) + ")$")] = "category",
                     police_only: bool = False, format: Literal["json", "csv"] = "json") -> object:
    """Counts in [since, until) (default: yesterday, Beijing time) grouped `by`, with 环比 and 同比."""
    a, b = _window(since, until)
    async with db_of(request).read() as session:
        out = await stats.statistics(session, a, b, by, police_only=police_only)  # type: ignore[arg-type]
    return _csv(out["groups"], f"stats-{by}") if format == "csv" else out


@router.get("/kpis")
async def kpis(request: Request, _actor: Annotated[Actor, Depends(require(*ANALYSTS))],
               since: datetime | None = None, until: datetime | None = None,
               by: Annotated[str, Query(pattern="^(" + "|".join(stats.KPI_GROUPS) + ")$")] = "overall",
               format: Literal["json", "csv"] = "json") -> object:
    """处警时效: p50/p90 of answer→dispatch, dispatch→sign-off, sign-off→arrival and received→arrival,
    feedback on time, overdue counts, closure rate and 12345 diversion share."""
    a, b = _window(since, until)
    async with db_of(request).read() as session:
        out = await stats.kpis(session, a, b, by)  # type: ignore[arg-type]
    return _csv(out["groups"], f"kpis-{by}") if format == "csv" else out


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
