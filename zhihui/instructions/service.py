"""指令 use cases: issue, sign (签收), field status, feedback (反馈), withdraw, overdue escalation."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from zhihui.core import audit, events
from zhihui.core.auth import Actor, Role
from zhihui.core.clock import utcnow
from zhihui.core.config import Settings
from zhihui.core.errors import Forbidden, InvalidInput
from zhihui.core.store import fetch
from zhihui.dispatch.domain import UnitStatus, unit_status_for
from zhihui.dispatch.models import Unit
from zhihui.instructions.domain import (
    ACTIVE,
    KIND_LABELS,
    RESULT_CODES,
    InstructionKind,
    InstructionStatus,
    check_transition,
    deadlines_for,
)
from zhihui.instructions.models import Instruction

COMPONENT = "instructions"


async def issue(
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
    *,
    kind: InstructionKind,
    units: Sequence[Unit],
    content: str,
    urgent: bool,
    incident_id: int | None = None,
) -> list[Instruction]:
    """One instruction per receiving unit, sharing a batch id (point-to-point, 点对点)."""
    now = utcnow()
    sign_deadline, feedback_deadline = deadlines_for(kind, urgent, now, settings.deadlines)
    batch = str(uuid.uuid4())
    created = []
    for unit in units:
        instr = Instruction(
            kind=kind.value, batch_id=batch, incident_id=incident_id, unit_id=unit.id, org_id=unit.org_id,
            content=content, status=InstructionStatus.SENT.value, urgent=urgent, issued_at=now,
            issued_by=actor.user_id, sign_deadline=sign_deadline, feedback_deadline=feedback_deadline,
            escalation_level=0,
        )
        session.add(instr)
        created.append(instr)
    await session.flush()
    for instr, unit in zip(created, units, strict=True):
        events.record(
            session, actor, "instruction.sent", incident_id=incident_id, instruction_id=instr.id,
            unit_id=unit.id,
            data={"kind": kind.value, "kind_label": KIND_LABELS[kind], "unit": unit.call_sign,
                  "sign_deadline": sign_deadline.isoformat(),
                  "feedback_deadline": feedback_deadline.isoformat()},
        )
        audit.append(session, actor, "instruction.issue", component=COMPONENT, target_type="instruction",
                     target_id=instr.id, detail={"unit": unit.call_sign, "incident_id": incident_id})
    return created


async def issue_to_org(
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
    *,
    kind: InstructionKind,
    org_id: int,
    org_name: str,
    content: str,
    urgent: bool = False,
    feedback_seconds: int | None = None,
) -> Instruction:
    """An instruction to a station rather than a unit (研判/核查指令 go to 派出所): signed and answered by
    any of its officers or by a desk on its behalf, with the same deadlines and overdue escalation."""
    now = utcnow()
    sign_deadline, feedback_deadline = deadlines_for(kind, urgent, now, settings.deadlines)
    if feedback_seconds is not None:
        feedback_deadline = now + timedelta(seconds=feedback_seconds)
        sign_deadline = min(sign_deadline, feedback_deadline)
    instr = Instruction(
        kind=kind.value, batch_id=str(uuid.uuid4()), incident_id=None, unit_id=None, org_id=org_id,
        content=content, status=InstructionStatus.SENT.value, urgent=urgent, issued_at=now,
        issued_by=actor.user_id, sign_deadline=sign_deadline, feedback_deadline=feedback_deadline,
        escalation_level=0,
    )
    session.add(instr)
    await session.flush()
    events.record(
        session, actor, "instruction.sent", instruction_id=instr.id,
        data={"kind": kind.value, "kind_label": KIND_LABELS[kind], "org": org_name, "org_id": org_id,
              "sign_deadline": sign_deadline.isoformat(), "feedback_deadline": feedback_deadline.isoformat()},
    )
    audit.append(session, actor, "instruction.issue", component=COMPONENT, target_type="instruction",
                 target_id=instr.id, detail={"org": org_name})
    return instr


async def get_instruction(session: AsyncSession, instruction_id: int, *, lock: bool = False) -> Instruction:
    return await fetch(session, Instruction, instruction_id, "instruction", lock=lock)


def _check_actor(actor: Actor, instr: Instruction) -> None:
    # An officer acts only on instructions to their own unit; desk roles may act on a unit's behalf
    # (代签收 after radio confirmation), which the timeline records with their name and seat.
    if actor.role != Role.OFFICER:
        return
    if instr.unit_id is None:  # addressed to a station (核查指令): any of its officers answers
        if actor.org_id is None or actor.org_id != instr.org_id:
            raise Forbidden("this instruction is addressed to another station")
    elif actor.unit_id != instr.unit_id:
        raise Forbidden("this instruction is addressed to another unit")


async def _advance(
    session: AsyncSession, actor: Actor, instr: Instruction, target: InstructionStatus,
    data: dict[str, object] | None = None,
) -> Instruction:
    _check_actor(actor, instr)
    previous = instr.status
    check_transition(instr.kind, instr.status, target)
    now = utcnow()
    instr.status = target.value
    stamp = {
        InstructionStatus.SIGNED: "signed_at",
        InstructionStatus.EN_ROUTE: "en_route_at",
        InstructionStatus.ON_SCENE: "on_scene_at",
        InstructionStatus.HANDLED: "handled_at",
        InstructionStatus.FEEDBACK: "feedback_at",
    }.get(target)
    if stamp:
        setattr(instr, stamp, now)
    if target == InstructionStatus.SIGNED:
        instr.signed_by = actor.user_id
    if target == InstructionStatus.FEEDBACK and instr.handled_at is None:
        instr.handled_at = now
    unit = await session.get(Unit, instr.unit_id) if instr.unit_id else None
    events.record(
        session, actor, f"instruction.{target.value}", incident_id=instr.incident_id,
        instruction_id=instr.id, unit_id=instr.unit_id,
        data={"from": previous, "to": target.value, "unit": unit.call_sign if unit else None, **(data or {})},
    )
    audit.append(session, actor, f"instruction.{target.value}", component=COMPONENT,
                 target_type="instruction", target_id=instr.id)
    if instr.kind == InstructionKind.DISPATCH:
        await _follow_up_dispatch(session, actor, instr, unit, target)
    return instr


async def _follow_up_dispatch(
    session: AsyncSession, actor: Actor, instr: Instruction, unit: Unit | None, target: InstructionStatus
) -> None:
    from zhihui.incidents import service as incidents

    if unit is not None:
        new_status = unit_status_for(target)
        if new_status == UnitStatus.AVAILABLE and await _other_active(session, unit.id, instr.id):
            new_status = None  # still busy with another incident
        if new_status is not None and unit.status != new_status.value:
            events.record(session, actor, "unit.status", unit_id=unit.id, incident_id=instr.incident_id,
                          data={"unit": unit.call_sign, "from": unit.status, "to": new_status.value})
            unit.status = new_status.value
    if instr.incident_id is not None:
        siblings = await session.execute(
            select(Instruction.status).where(
                Instruction.incident_id == instr.incident_id,
                Instruction.kind == InstructionKind.DISPATCH.value,
            )
        )
        await incidents.on_instruction_changed(session, actor, instr.incident_id, list(siblings.scalars()))


async def _other_active(session: AsyncSession, unit_id: int, except_id: int) -> bool:
    row = await session.execute(
        select(Instruction.id).where(
            Instruction.unit_id == unit_id, Instruction.id != except_id,
            Instruction.kind == InstructionKind.DISPATCH.value,
            Instruction.status.in_([s.value for s in ACTIVE]),
        ).limit(1)
    )
    return row.first() is not None


async def acknowledge(session: AsyncSession, actor: Actor, instruction_id: int) -> Instruction:
    instr = await get_instruction(session, instruction_id, lock=True)
    return await _advance(session, actor, instr, InstructionStatus.SIGNED)


async def set_status(
    session: AsyncSession, actor: Actor, instruction_id: int, status: InstructionStatus
) -> Instruction:
    if status not in (InstructionStatus.EN_ROUTE, InstructionStatus.ON_SCENE, InstructionStatus.HANDLED):
        raise InvalidInput("status", "status must be en_route, on_scene or handled")
    instr = await get_instruction(session, instruction_id, lock=True)
    return await _advance(session, actor, instr, status)


async def feedback(
    session: AsyncSession, actor: Actor, instruction_id: int, result_code: str, text: str
) -> Instruction:
    if result_code not in RESULT_CODES:
        raise InvalidInput("result_code", f"unknown result code '{result_code}'")
    instr = await get_instruction(session, instruction_id, lock=True)
    instr.result_code = result_code
    instr.feedback_text = text
    return await _advance(session, actor, instr, InstructionStatus.FEEDBACK,
                          {"result_code": result_code, "result_label": RESULT_CODES[result_code],
                           "text": text})


async def cancel(session: AsyncSession, actor: Actor, instruction_id: int, reason: str) -> Instruction:
    instr = await get_instruction(session, instruction_id, lock=True)
    return await _advance(session, actor, instr, InstructionStatus.CANCELLED, {"reason": reason})


async def open_count(session: AsyncSession, incident_id: int) -> int:
    rows = await session.execute(
        select(Instruction.id).where(
            Instruction.incident_id == incident_id, Instruction.status.in_([s.value for s in ACTIVE])
        )
    )
    return len(rows.all())


async def for_incident(session: AsyncSession, incident_id: int) -> list[Instruction]:
    rows = await session.execute(
        select(Instruction).where(Instruction.incident_id == incident_id).order_by(Instruction.id)
    )
    return list(rows.scalars())


async def list_instructions(
    session: AsyncSession, *, unit_id: int | None = None, status: list[str] | None = None,
    overdue: bool = False, limit: int = 200, station_id: int | None = None, kind: str | None = None,
) -> list[Instruction]:
    """station_id (with unit_id): also the orders addressed to that station as a whole."""
    stmt = select(Instruction)
    if unit_id is not None and station_id is not None:
        stmt = stmt.where((Instruction.unit_id == unit_id)
                          | (Instruction.unit_id.is_(None) & (Instruction.org_id == station_id)))
    elif unit_id is not None:
        stmt = stmt.where(Instruction.unit_id == unit_id)
    elif station_id is not None:
        stmt = stmt.where(Instruction.unit_id.is_(None), Instruction.org_id == station_id)
    if kind is not None:
        stmt = stmt.where(Instruction.kind == kind)
    if status:
        stmt = stmt.where(Instruction.status.in_(status))
    if overdue:
        stmt = stmt.where(
            (Instruction.sign_overdue_at.is_not(None)) | (Instruction.feedback_overdue_at.is_not(None))
        ).where(Instruction.status.in_([s.value for s in ACTIVE]))
    stmt = stmt.order_by(Instruction.issued_at.desc(), Instruction.id.desc()).limit(limit)
    return list((await session.execute(stmt)).scalars())


ESCALATE_TO = {1: Role.DISPATCHER.value, 2: Role.COMMANDER.value}


async def scan_overdue(session: AsyncSession, now: datetime) -> int:
    """Mark instructions past their sign-off or feedback deadline and emit escalation events.

    Each deadline escalates once: first to the dispatcher seat, a second miss to the duty commander.
    """
    system = Actor.system()
    count = 0
    late_sign = await session.execute(
        select(Instruction).where(
            Instruction.status == InstructionStatus.SENT.value,
            Instruction.sign_deadline < now,
            Instruction.sign_overdue_at.is_(None),
        ).with_for_update(skip_locked=True)
    )
    late_feedback = await session.execute(
        select(Instruction).where(
            Instruction.status.in_([s.value for s in ACTIVE]),
            Instruction.feedback_deadline < now,
            Instruction.feedback_overdue_at.is_(None),
        ).with_for_update(skip_locked=True)
    )
    for which, rows in (("sign", late_sign.scalars().all()), ("feedback", late_feedback.scalars().all())):
        for instr in rows:
            setattr(instr, f"{which}_overdue_at", now)
            instr.escalation_level += 1
            deadline = instr.sign_deadline if which == "sign" else instr.feedback_deadline
            events.record(
                session, system, f"instruction.{which}_overdue", incident_id=instr.incident_id,
                instruction_id=instr.id, unit_id=instr.unit_id,
                data={"deadline": deadline.isoformat(), "escalation_level": instr.escalation_level,
                      "escalate_to": ESCALATE_TO.get(instr.escalation_level, Role.COMMANDER.value)},
            )
            audit.append(session, system, f"instruction.{which}_overdue", component=COMPONENT,
                         target_type="instruction", target_id=instr.id)
            count += 1
    return count


def instruction_out(instr: Instruction, unit: Unit | None = None) -> dict[str, object]:
    now = utcnow()
    active = instr.status in {s.value for s in ACTIVE}
    return {
        "id": instr.id,
        "kind": instr.kind,
        "kind_label": KIND_LABELS[InstructionKind(instr.kind)],
        "batch_id": instr.batch_id,
        "incident_id": instr.incident_id,
        "unit_id": instr.unit_id,
        "unit_call_sign": unit.call_sign if unit else None,
        "org_id": instr.org_id,
        "content": instr.content,
        "status": instr.status,
        "urgent": instr.urgent,
        "issued_at": instr.issued_at,
        "sign_deadline": instr.sign_deadline,
        "feedback_deadline": instr.feedback_deadline,
        "signed_at": instr.signed_at,
        "en_route_at": instr.en_route_at,
        "on_scene_at": instr.on_scene_at,
        "handled_at": instr.handled_at,
        "feedback_at": instr.feedback_at,
        "result_code": instr.result_code,
        "feedback_text": instr.feedback_text,
        "sign_overdue": instr.sign_overdue_at is not None
        or (instr.status == InstructionStatus.SENT and instr.sign_deadline < now),
        "feedback_overdue": instr.feedback_overdue_at is not None
        or (active and instr.feedback_deadline < now),
        "escalation_level": instr.escalation_level,
    }
