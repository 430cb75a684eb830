"""/intake/analyze (智能接警), 12345 hand-offs and the diversion KPI."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, FastAPI, Query, Request

from zhihui.api.deps import ADMINS, ALL_ROLES, INTAKE, SUPERVISORS, db_of, require, unit_of_work
from zhihui.core.auth import Actor, Role
from zhihui.core.clock import utcnow
from zhihui.core.errors import InvalidInput
from zhihui.intake import analyze as analysis
from zhihui.intake import handoffs
from zhihui.intake.duplicates import DupParams
from zhihui.intake.handoffs import HandoffStatus
from zhihui.intake.schemas import AnalyzeRequest, HandoffAccept, HandoffAnswer, HandoffReturn

router = APIRouter(tags=["intake"])
HANDOFF_DESK = (*INTAKE, *ADMINS)  # the desk, or the 12345 interface's service account


async def ensure_warm(app: FastAPI) -> None:
    """The gazetteer and type model load once per process, off the event loop (at start-up, and
    again on first use if that failed)."""
    state = app.state
    if not getattr(state, "intake_warm", False):
        async with state.intake_warm_lock:
            if not getattr(state, "intake_warm", False):
                await anyio.to_thread.run_sync(analysis.warm)
                state.intake_warm = True


@router.post("/intake/analyze")
async def analyze(request: Request, body: AnalyzeRequest,
                  _actor: Annotated[Actor, Depends(require(*INTAKE, Role.LEADER))]) -> dict:
    """Everything the intake form shows while the call-taker types: caller attribution, address
    candidates on the map, suggested type and level, 12345 advice, duplicates and risk flags."""
    await ensure_warm(request.app)
    params: DupParams = request.app.state.dup_params
    async with db_of(request).read() as session:
        return await analysis.analyze(session, body, params)


@router.get("/handoffs")
async def list_handoffs(
    request: Request, _actor: Annotated[Actor, Depends(require(*HANDOFF_DESK, *SUPERVISORS))],
    status: Annotated[list[HandoffStatus] | None, Query()] = None,
    incident_id: int | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict]:
    async with db_of(request).read() as session:
        rows = await handoffs.list_handoffs(session, status=[s.value for s in status or []], incident_id=incident_id,
                                            limit=limit, offset=offset)
    return [handoffs.handoff_out(h) for h in rows]


@router.post("/handoffs/{handoff_id}/accept")
async def accept(request: Request, handoff_id: int, body: HandoffAccept,
                 actor: Annotated[Actor, Depends(require(*HANDOFF_DESK))]) -> dict:
    async with unit_of_work(request) as session:
        return handoffs.handoff_out(await handoffs.accept(session, actor, handoff_id, body.external_ref))


@router.post("/handoffs/{handoff_id}/answer")
async def answer(request: Request, handoff_id: int, body: HandoffAnswer,
                 actor: Annotated[Actor, Depends(require(*HANDOFF_DESK))]) -> dict:
    """12345's feedback on the matter."""
    async with unit_of_work(request) as session:
        return handoffs.handoff_out(
            await handoffs.answer(session, actor, handoff_id, body.result, body.text, body.external_ref))


@router.post("/handoffs/{handoff_id}/close")
async def close(request: Request, handoff_id: int, actor: Annotated[Actor, Depends(require(*HANDOFF_DESK))]) -> dict:
    async with unit_of_work(request) as session:
        return handoffs.handoff_out(await handoffs.close(session, actor, handoff_id))


@router.post("/handoffs/{handoff_id}/return")
async def send_back(request: Request, handoff_id: int, body: HandoffReturn,
                    actor: Annotated[Actor, Depends(require(*HANDOFF_DESK))]) -> dict:
    """12345 sends it back as a police matter: the incident waits for dispatch again."""
    async with unit_of_work(request) as session:
        return handoffs.handoff_out(await handoffs.send_back(session, actor, handoff_id, body.reason))


@router.get("/intake/kpi/diversion")
async def diversion_kpi(
    request: Request, _actor: Annotated[Actor, Depends(require(*ALL_ROLES))],
    since: datetime | None = None, until: datetime | None = None,
) -> dict:
    """非警务分流率 over a period (default: the last 30 days)."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(name, f"{name} must carry a UTC offset, e.g. 2026-11-23T08:00:00+08:00")
    until = until or utcnow()
    since = since or until - timedelta(days=30)
    async with db_of(request).read() as session:
        return await handoffs.diversion_kpi(session, since, until)

