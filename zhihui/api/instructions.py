"""/instructions: 签收, field status, 反馈, withdraw."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession

from zhihui.api.deps import ALL_ROLES, DISPATCHERS, FIELD, db_of, require, unit_of_work
from zhihui.core.auth import Actor, Role
from zhihui.core.schemas import StrictModel
from zhihui.dispatch.models import Unit
from zhihui.instructions import service
from zhihui.instructions.domain import RESULT_CODES, InstructionKind, InstructionStatus
from zhihui.instructions.models import Instruction

router = APIRouter(tags=["instructions"])


class StatusBody(StrictModel):
    status: InstructionStatus


class FeedbackBody(StrictModel):
    result_code: Annotated[str, Field(min_length=1, max_length=32)]
    text: Annotated[str, Field(min_length=1, max_length=4000)]


class CancelBody(StrictModel):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


async def _out(session: AsyncSession, instr: Instruction) -> dict:
    unit = await session.get(Unit, instr.unit_id) if instr.unit_id else None
    return service.instruction_out(instr, unit)


@router.get("/instructions")
async def list_(request: Request, actor: Annotated[Actor, Depends(require(*ALL_ROLES))],
                unit_id: int | None = None, status: Annotated[list[InstructionStatus] | None, Query()] = None,
                overdue: bool = False, limit: Annotated[int, Query(ge=1, le=1000)] = 200,
                station_id: int | None = None, kind: InstructionKind | None = None) -> list[dict]:
    if actor.role == Role.OFFICER:
        # An officer sees the orders of their own unit and those addressed to their station as a whole.
        unit_id, station_id = actor.unit_id, actor.org_id
    async with db_of(request).read() as session:
        rows = await service.list_instructions(session, unit_id=unit_id,
                                               status=[s.value for s in status] if status else None,
                                               overdue=overdue, limit=limit, station_id=station_id,
                                               kind=kind.value if kind else None)
        return [await _out(session, i) for i in rows]


@router.get("/instructions/result-codes")
async def result_codes() -> dict[str, str]:
    return RESULT_CODES


@router.get("/instructions/{instruction_id}")
async def get(request: Request, instruction_id: int,
              _actor: Annotated[Actor, Depends(require(*ALL_ROLES))]) -> dict:
    async with db_of(request).read() as session:
        return await _out(session, await service.get_instruction(session, instruction_id))


@router.post("/instructions/{instruction_id}/acknowledge")
async def acknowledge(request: Request, instruction_id: int,
                      actor: Annotated[Actor, Depends(require(*FIELD))]) -> dict:
    async with unit_of_work(request) as session:
        instr = await service.acknowledge(session, actor, instruction_id)
        return await _out(session, instr)


@router.post("/instructions/{instruction_id}/status")
async def set_status(request: Request, instruction_id: int, body: StatusBody,
                     actor: Annotated[Actor, Depends(require(*FIELD))]) -> dict:
    async with unit_of_work(request) as session:
        instr = await service.set_status(session, actor, instruction_id, body.status)
        return await _out(session, instr)


@router.post("/instructions/{instruction_id}/feedback")
async def feedback(request: Request, instruction_id: int, body: FeedbackBody,
                   actor: Annotated[Actor, Depends(require(*FIELD))]) -> dict:
    async with unit_of_work(request) as session:
        instr = await service.feedback(session, actor, instruction_id, body.result_code, body.text)
        return await _out(session, instr)


@router.post("/instructions/{instruction_id}/cancel")
async def cancel(request: Request, instruction_id: int, body: CancelBody,
                 actor: Annotated[Actor, Depends(require(*DISPATCHERS))]) -> dict:
    async with unit_of_work(request) as session:
        instr = await service.cancel(session, actor, instruction_id, body.reason)
        return await _out(session, instr)
