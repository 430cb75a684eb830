"""/units: 警力, positions (AVL) and on/off duty."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from zhihui.api.deps import (
    ALL_ROLES,
    DISPATCHERS,
    POSITION_SENDERS,
    UNIT_ADMINS,
    bus_of,
    db_of,
    require,
    unit_of_work,
)
from zhihui.core.auth import Actor, Role
from zhihui.core.errors import Forbidden
from zhihui.dispatch import service
from zhihui.dispatch.domain import UnitStatus
from zhihui.dispatch.models import Unit
from zhihui.dispatch.schemas import PositionBatch, PositionUpdate, UnitCreate, UnitOut, UnitStatusUpdate

router = APIRouter(tags=["units"])


@router.post("/units", status_code=201, response_model=UnitOut)
async def create(request: Request, body: UnitCreate,
                 actor: Annotated[Actor, Depends(require(*UNIT_ADMINS))]) -> dict:
    async with unit_of_work(request) as session:
        unit = await service.create_unit(session, actor, body)
    return service.unit_out(unit)


@router.get("/units", response_model=list[UnitOut])
async def list_(request: Request, _actor: Annotated[Actor, Depends(require(*ALL_ROLES))],
                status: UnitStatus | None = None,
                type: Annotated[str | None, Query(max_length=16)] = None) -> list[dict]:
    async with db_of(request).read() as session:
        units = await service.list_units(session, status=status.value if status else None, type_=type)
    return [service.unit_out(u) for u in units]


@router.get("/units/{unit_id}", response_model=UnitOut)
async def get(request: Request, unit_id: int, _actor: Annotated[Actor, Depends(require(*ALL_ROLES))]) -> dict:
    async with db_of(request).read() as session:
        return service.unit_out(await service.get_unit(session, unit_id))


@router.put("/units/{unit_id}/position", response_model=UnitOut)
async def position(request: Request, unit_id: int, body: PositionUpdate,
                   actor: Annotated[Actor, Depends(require(*POSITION_SENDERS))]) -> dict:
    if actor.role == Role.OFFICER and actor.unit_id != unit_id:
        raise Forbidden("an officer may only report the position of their own unit")
    async with db_of(request).tx() as session:
        unit = await service.update_position(session, unit_id, body.lat, body.lon, body.at,
                                             speed_kmh=body.speed_kmh, heading=body.heading)
        out = service.unit_out(unit)
    _announce(request, [unit])
    return out


def _announce(request: Request, moved: list[Unit]) -> None:
    bus = bus_of(request)
    for unit in moved:
        bus.ephemeral({"type": "unit.position", "unit_id": unit.id, "lat": unit.lat, "lon": unit.lon,
                       "at": unit.position_at.isoformat() if unit.position_at else None})


@router.post("/units/positions", status_code=202)
async def positions(request: Request, body: PositionBatch,
                    actor: Annotated[Actor, Depends(require(*POSITION_SENDERS))]) -> dict:
    """A batch of fixes from the AVL gateway (or a phone catching up after losing signal)."""
    if actor.role == Role.OFFICER and any(p.unit_id != actor.unit_id for p in body.positions):
        raise Forbidden("an officer may only report the position of their own unit")
    moved: dict[int, Unit] = {}
    async with db_of(request).tx() as session:
        for p in body.positions:
            moved[p.unit_id] = await service.update_position(session, p.unit_id, p.lat, p.lon, p.at,
                                                             speed_kmh=p.speed_kmh, heading=p.heading)
    _announce(request, list(moved.values()))
    return {"accepted": len(body.positions), "units": len(moved)}


@router.get("/units/{unit_id}/track")
async def unit_track(request: Request, unit_id: int, _actor: Annotated[Actor, Depends(require(*ALL_ROLES))],
                     since: datetime | None = None, until: datetime | None = None,
                     limit: Annotated[int, Query(ge=1, le=100000)] = 10000) -> list[dict]:
    async with db_of(request).read() as session:
        rows = await service.track(session, unit_id, since, until, limit)
    return [{"at": p.at, "lat": p.lat, "lon": p.lon, "speed_kmh": p.speed_kmh, "heading": p.heading} for p in rows]


@router.post("/units/{unit_id}/status", response_model=UnitOut)
async def set_status(request: Request, unit_id: int, body: UnitStatusUpdate,
                     actor: Annotated[Actor, Depends(require(*DISPATCHERS, Role.OFFICER))]) -> dict:
    if actor.role == Role.OFFICER and actor.unit_id != unit_id:
        raise Forbidden("an officer may only change the status of their own unit")
    async with unit_of_work(request) as session:
        unit = await service.set_unit_status(session, actor, unit_id, body.status)
    return service.unit_out(unit)
