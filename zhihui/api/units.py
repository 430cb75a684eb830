"""/units: 警力, positions (AVL) and on/off duty."""

from __future__ import annotations

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
from zhihui.dispatch.schemas import PositionUpdate, UnitCreate, UnitOut, UnitStatusUpdate

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
        unit = await service.update_position(session, unit_id, body.lat, body.lon, body.at)
        out = service.unit_out(unit)
    bus_of(request).ephemeral({"type": "unit.position", "unit_id": unit_id, "lat": out["lat"],
                               "lon": out["lon"], "at": unit.position_at.isoformat() if unit.position_at else None})
    return out


@router.post("/units/{unit_id}/status", response_model=UnitOut)
async def set_status(request: Request, unit_id: int, body: UnitStatusUpdate,
                     actor: Annotated[Actor, Depends(require(*DISPATCHERS, Role.OFFICER))]) -> dict:
    if actor.role == Role.OFFICER and actor.unit_id != unit_id:
        raise Forbidden("an officer may only change the status of their own unit")
    async with unit_of_work(request) as session:
        unit = await service.set_unit_status(session, actor, unit_id, body.status)
    return service.unit_out(unit)
