"""/intel: 重点人员库, 情报线索库, activity ingestion and the tactics (技战法). Every person look-up states
its purpose (查询事由) and is audited."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field
from sqlalchemy import select

from zhihui.api.deps import db_of, require, settings_of, unit_of_work
from zhihui.core.auth import Actor, Role
from zhihui.core.errors import InvalidInput, NotFound
from zhihui.core.orgs import Org
from zhihui.core.schemas import StrictModel
from zhihui.instructions import service as instructions
from zhihui.instructions.domain import InstructionKind
from zhihui.intel import persons
from zhihui.intel.models import Lead

router = APIRouter(prefix="/intel", tags=["intel"])
ANALYSTS = (Role.ANALYST, Role.COMMANDER, Role.LEADER, Role.ADMIN)
EDITORS = (Role.ANALYST, Role.ADMIN)
PurposeQ = Annotated[str, Query(min_length=4, max_length=200, description="查询事由 (audited)")]


async def _org_names(session: Any) -> dict[int, str]:
    return dict((await session.execute(select(Org.id, Org.name))).all())


@router.post("/persons", status_code=201)
async def create_person(request: Request, body: persons.PersonIn,
                        actor: Annotated[Actor, Depends(require(*EDITORS))]) -> dict:
    async with unit_of_work(request) as session:
        p = await persons.create_person(session, actor, body)
        return persons.person_out(p, await _org_names(session))


@router.get("/persons")
async def search_persons(request: Request, actor: Annotated[Actor, Depends(require(*ANALYSTS))],
                         purpose: PurposeQ, q: Annotated[str | None, Query(max_length=64)] = None,
                         category: str | None = None, org_id: int | None = None,
                         status: Literal["active", "archived"] = "active",
                         limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict]:
    async with unit_of_work(request) as session:  # writes the audit row of the search
        rows = await persons.search_persons(session, actor, purpose=purpose, q=q, category=category,
                                            org_id=org_id, status=status, limit=limit)
        names = await _org_names(session)
        return [persons.person_out(p, names) for p in rows]


@router.get("/persons/{person_id}")
async def view_person(request: Request, person_id: int, purpose: PurposeQ,
                      actor: Annotated[Actor, Depends(require(*ANALYSTS))]) -> dict:
    # The look-up is logged even when the record does not exist, so the audit row is committed first.
    async with unit_of_work(request) as session:
        try:
            p = await persons.view_person(session, actor, person_id, purpose)
        except NotFound:
            p = None
        out = persons.person_out(p, await _org_names(session)) if p else None
    if out is None:
        raise NotFound("key_person", person_id)
    return out


@router.patch("/persons/{person_id}")
async def update_person(request: Request, person_id: int, body: persons.PersonPatch,
                        actor: Annotated[Actor, Depends(require(*EDITORS))]) -> dict:
    async with unit_of_work(request) as session:
        p = await persons.update_person(session, actor, person_id, body)
        return persons.person_out(p, await _org_names(session))


@router.post("/leads", status_code=201)
async def create_lead(request: Request, body: persons.LeadIn,
                      actor: Annotated[Actor, Depends(require(*EDITORS))]) -> dict:
    async with unit_of_work(request) as session:
        return persons.lead_out(await persons.create_lead(session, actor, body))


@router.get("/leads")
async def list_leads(request: Request, _actor: Annotated[Actor, Depends(require(*ANALYSTS))],
                     status: str | None = None, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[dict]:
    stmt = select(Lead).order_by(Lead.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(Lead.status == status)
    async with db_of(request).read() as session:
        return [persons.lead_out(x) for x in (await session.execute(stmt)).scalars()]


class LeadStatusBody(StrictModel):
    status: Literal["new", "verifying", "confirmed", "dismissed"]
    note: str = Field(default="", max_length=2000)


@router.post("/leads/{lead_id}/status")
async def lead_status(request: Request, lead_id: int, body: LeadStatusBody,
                      actor: Annotated[Actor, Depends(require(*EDITORS))]) -> dict:
    async with unit_of_work(request) as session:
        return persons.lead_out(await persons.set_lead_status(session, actor, lead_id, body.status, body.note))


class VerifyBody(StrictModel):
    org_id: int
    content: str | None = Field(default=None, max_length=4000)
    feedback_minutes: int = Field(default=60, ge=10, le=7 * 24 * 60)


@router.post("/leads/{lead_id}/verify", status_code=201)
async def verify_lead(request: Request, lead_id: int, body: VerifyBody,
                      actor: Annotated[Actor, Depends(require(*EDITORS))]) -> dict:
    """核查指令 from a lead to a station, answered through the instruction loop (default within the hour)."""
    async with unit_of_work(request) as session:
        lead = await session.get(Lead, lead_id, with_for_update=True)
        if lead is None:
            raise NotFound("lead", lead_id)
        org = await session.get(Org, body.org_id)
        if org is None:
            raise InvalidInput("org_id", f"no organ with id {body.org_id}")
        content = body.content or (f"【研判核查指令】线索#{lead.id}（{lead.source}，可信度{lead.credibility}）："
                                   f"{lead.title}。{lead.content[:500]} 请于{body.feedback_minutes}分钟内核查反馈。")
        instr = await instructions.issue_to_org(
            session, actor, settings_of(request), kind=InstructionKind.VERIFY, org_id=org.id, org_name=org.name,
            content=content, feedback_seconds=body.feedback_minutes * 60)
        lead.instruction_id = instr.id
        await persons.set_lead_status(session, actor, lead.id, "verifying", f"核查指令 #{instr.id}")
        return {"lead": persons.lead_out(lead), "instruction": instructions.instruction_out(instr)}
