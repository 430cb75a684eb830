"""/incidents: intake, queries, dispatch, close, cancel, divert, merge, 警情清零."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from sqlalchemy import select

from zhihui.api.deps import (
    ALL_ROLES,
    CLOSERS,
    DISPATCHERS,
    INTAKE,
    SUPERVISORS,
    bus_of,
    db_of,
    require,
    settings_of,
    unit_of_work,
)
from zhihui.core import events
from zhihui.core.auth import Actor, Role
from zhihui.core.clock import utcnow
from zhihui.core.errors import DomainError, InvalidInput
from zhihui.dispatch import service as dispatch
from zhihui.dispatch.domain import UnitStatus
from zhihui.dispatch.models import Unit
from zhihui.dispatch.recommend import RoadNetwork, recommend, wanted_types
from zhihui.dispatch.schemas import DispatchRequest, UnitType
from zhihui.incidents import service
from zhihui.incidents.domain import OPEN_STATUSES, IncidentStatus
from zhihui.incidents.schemas import (
    IncidentCancel,
    IncidentClose,
    IncidentCreate,
    IncidentDetail,
    IncidentDivert,
    IncidentMerge,
    IncidentOut,
)
from zhihui.instructions import service as instructions
from zhihui.intake import handoffs
from zhihui.intake.diversion import diversion_rules
from zhihui.intake.duplicates import CallFeatures
from zhihui.intake.risk import duplicate_candidates, duplicate_out
from zhihui.intake.schemas import Unmerge
from zhihui.intake.text import normalise

router = APIRouter(tags=["incidents"])
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=128, min_length=8)]


@router.post("/incidents", status_code=201, response_model=IncidentOut)
async def create(request: Request, response: Response, body: IncidentCreate,
                 actor: Annotated[Actor, Depends(require(*INTAKE))], idempotency_key: IdemKey = None) -> dict:
    incident, replayed = await service.create_incident(
        db_of(request), settings_of(request), actor, body, idempotency_key
    )
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    else:
        bus_of(request).committed()
    response.headers["Location"] = f"/api/v1/incidents/{incident.id}"
    return service.incident_out(incident)


@router.get("/incidents", response_model=list[IncidentOut])
async def list_(
    request: Request,
    _actor: Annotated[Actor, Depends(require(*ALL_ROLES))],
    status: Annotated[list[IncidentStatus] | None, Query()] = None,
    category: Annotated[str | None, Query(max_length=8, pattern=r"^\d{2,8}$")] = None,
    since: datetime | None = None,
    open_only: bool = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict]:
    statuses = list(status or [])
    if open_only:
        statuses = [s for s in OPEN_STATUSES if not statuses or s in statuses]
    async with db_of(request).read() as session:
        rows = await service.list_incidents(session, status=statuses or None, category=category, since=since,
                                            limit=limit, offset=offset)
    return [service.incident_out(i) for i in rows]


@router.get("/incidents/backlog", response_model=list[IncidentOut])
async def backlog(request: Request, _actor: Annotated[Actor, Depends(require(*SUPERVISORS))]) -> list[dict]:
    """警情清零: open incidents past their closing deadline or with an overdue instruction."""
    async with db_of(request).read() as session:
        rows = await service.backlog(session, utcnow())
    return [service.incident_out(i) for i in rows]


@router.get("/incidents/{incident_id}", response_model=IncidentDetail)
async def get(request: Request, incident_id: int,
              _actor: Annotated[Actor, Depends(require(*ALL_ROLES))]) -> dict:
    async with db_of(request).read() as session:
        incident = await service.get_incident(session, incident_id)
        timeline = await session.execute(
            select(events.Event).where(events.Event.incident_id == incident_id).order_by(events.Event.id)
        )
        instrs = await instructions.for_incident(session, incident_id)
        callers = await service.callers(session, incident)
        handoff_rows = await handoffs.list_handoffs(session, incident_id=incident_id)
        units = {u.id: u for u in (await session.execute(
            select(Unit).where(Unit.id.in_([i.unit_id for i in instrs if i.unit_id])))).scalars()}
    out = service.incident_out(incident)
    out["callers"] = callers
    out["handoffs"] = [handoffs.handoff_out(h) for h in handoff_rows]
    out["events"] = [events.event_dict(e) for e in timeline.scalars()]
    out["instructions"] = [instructions.instruction_out(i, units.get(i.unit_id or 0)) for i in instrs]
    return out


async def _road_network(request: Request) -> RoadNetwork:
    """Loaded on first use (about 0.2 s for Futian), once per process."""
    state = request.app.state
    if getattr(state, "road_network", None) is None:
        async with state.road_network_lock:
            if getattr(state, "road_network", None) is None:
                state.road_network = await anyio.to_thread.run_sync(RoadNetwork.load)
    return state.road_network


@router.get("/incidents/{incident_id}/recommendations")
async def recommendations(
    request: Request, incident_id: int,
    _actor: Annotated[Actor, Depends(require(*DISPATCHERS, Role.CALL_TAKER, Role.LEADER))],
    k: Annotated[int, Query(ge=1, le=20)] = 5,
    type: Annotated[list[UnitType] | None, Query()] = None,
    routes: bool = True,
) -> dict:
    """The k available units of the needed types that reach the incident fastest by road."""
    network = await _road_network(request)
    async with db_of(request).read() as session:
        incident = await service.get_incident(session, incident_id)
        units = await dispatch.list_units(session, status=UnitStatus.AVAILABLE.value)
    method, recs = await anyio.to_thread.run_sync(
        lambda: recommend(network, incident, units, k=k, types=type, with_routes=routes))
    return {"incident_id": incident_id, "method": method, "types": wanted_types(incident, type),
            "units": [r.as_dict() for r in recs]}


@router.post("/incidents/{incident_id}/dispatch", status_code=201)
async def dispatch_units(request: Request, incident_id: int, body: DispatchRequest,
                         actor: Annotated[Actor, Depends(require(*DISPATCHERS))]) -> list[dict]:
    unit_ids = body.unit_ids
    if body.recommended is not None:
        # Take the recommended units in the same call (the dispatch itself re-checks availability).
        network = await _road_network(request)
        async with db_of(request).read() as session:
            incident = await service.get_incident(session, incident_id)
            units = await dispatch.list_units(session, status=UnitStatus.AVAILABLE.value)
        _method, recs = await anyio.to_thread.run_sync(
            lambda: recommend(network, incident, units, k=body.recommended or 1, with_routes=False))
        unit_ids = [r.unit.id for r in recs if r.status in ("ok", "straight_line")]
        if not unit_ids:
            raise DomainError("no available unit of the needed type can reach this incident",
                              state=incident.status, code="no_unit")
    assert unit_ids is not None
    async with unit_of_work(request) as session:
        created = await dispatch.dispatch(session, actor, settings_of(request), incident_id, unit_ids, body.content)
        units_by_id = {u.id: u for u in (await session.execute(select(Unit).where(Unit.id.in_(unit_ids)))).scalars()}
        out = [instructions.instruction_out(i, units_by_id.get(i.unit_id or 0)) for i in created]
    return out


@router.post("/incidents/{incident_id}/close", response_model=IncidentOut)
async def close(request: Request, incident_id: int, body: IncidentClose,
                actor: Annotated[Actor, Depends(require(*CLOSERS))]) -> dict:
    async with unit_of_work(request) as session:
        open_n = await instructions.open_count(session, incident_id)
        incident = await service.close_incident(session, actor, incident_id, body.result, open_n)
    return service.incident_out(incident)


@router.post("/incidents/{incident_id}/cancel", response_model=IncidentOut)
async def cancel(request: Request, incident_id: int, body: IncidentCancel,
                 actor: Annotated[Actor, Depends(require(*INTAKE))]) -> dict:
    async with unit_of_work(request) as session:
        open_n = await instructions.open_count(session, incident_id)
        incident = await service.cancel_incident(session, actor, incident_id, body.reason, open_n)
    return service.incident_out(incident)


@router.post("/incidents/{incident_id}/divert", response_model=IncidentOut)
async def divert(request: Request, incident_id: int, body: IncidentDivert,
                 actor: Annotated[Actor, Depends(require(*INTAKE))]) -> dict:
    rules = diversion_rules()
    named = rules.by_id(body.rule_id) if body.rule_id is not None else None
    if body.rule_id is not None and named is None:
        raise InvalidInput("rule_id", f"unknown diversion rule '{body.rule_id}'")
    async with unit_of_work(request) as session:
        incident = await service.divert_incident(session, actor, incident_id, body.note)
        department, rule_id = body.department, body.rule_id
        if department is None and rule_id is None:
            # The desk decided to divert: take the department from the rules even for a police
            # category (the advice itself would say "keep it"), so the hand-off names someone.
            rule, _, _ = rules.rule_for(normalise(incident.description).text, incident.category_code)
            department = rule.department if rule else rules.default_department
            rule_id = rule.id if rule else None
        elif department is None and named is not None:
            department = named.department
        await handoffs.open_handoff(session, actor, incident, body.note, department=department, rule_id=rule_id)
    return service.incident_out(incident)


@router.get("/incidents/{incident_id}/duplicates")
async def duplicates(request: Request, incident_id: int,
                     _actor: Annotated[Actor, Depends(require(*INTAKE, *SUPERVISORS))]) -> list[dict]:
    """Open incidents that look like the same event as this one (candidates for a merge)."""
    async with db_of(request).read() as session:
        incident = await service.get_incident(session, incident_id)
        found = await duplicate_candidates(session, CallFeatures.of(incident), request.app.state.dup_params,
                                           exclude=incident_id)
    return [duplicate_out(s, i) for s, i in found]


@router.post("/incidents/{incident_id}/unmerge", response_model=IncidentOut)
async def unmerge(request: Request, incident_id: int, body: Unmerge,
                  actor: Annotated[Actor, Depends(require(*INTAKE))]) -> dict:
    """Undo a wrong merge: the call is an incident of its own again."""
    async with unit_of_work(request) as session:
        await service.get_incident(session, incident_id, lock=True)  # lock before reading its instructions
        own = [i.status for i in await instructions.for_incident(session, incident_id)]
        incident = await service.unmerge_incident(session, actor, incident_id, body.reason, own)
    return service.incident_out(incident)


@router.post("/incidents/{incident_id}/merge", response_model=IncidentOut)
async def merge(request: Request, incident_id: int, body: IncidentMerge,
                actor: Annotated[Actor, Depends(require(*INTAKE))]) -> dict:
    async with unit_of_work(request) as session:
        incident = await service.merge_incident(session, actor, incident_id, body.into_id)
    return service.incident_out(incident)
