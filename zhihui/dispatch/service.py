"""派警 use cases: units, positions, and sending units to an incident."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from zhihui.core import audit, events
from zhihui.core.auth import Actor
from zhihui.core.clock import utcnow
from zhihui.core.config import Settings
from zhihui.core.errors import DomainError, InvalidInput
from zhihui.core.store import fetch
from zhihui.dispatch.domain import UNIT_STATUS_LABELS, UnitStatus, require_available
from zhihui.dispatch.models import Unit, UnitPosition
from zhihui.dispatch.schemas import UnitCreate
from zhihui.incidents import service as incidents
from zhihui.incidents.categories import categories
from zhihui.incidents.domain import DISPATCHABLE, IncidentStatus
from zhihui.instructions import service as instructions
from zhihui.instructions.domain import InstructionKind
from zhihui.instructions.models import Instruction

COMPONENT = "dispatch"


async def create_unit(session: AsyncSession, actor: Actor, body: UnitCreate) -> Unit:
    exists = (await session.execute(select(Unit.id).where(Unit.call_sign == body.call_sign))).first()
    if exists:
        raise DomainError(f"unit '{body.call_sign}' already exists", code="duplicate")
    unit = Unit(
        call_sign=body.call_sign, name=body.name or body.call_sign, type=body.type, org_id=body.org_id,
        status=body.status.value, lat=body.lat, lon=body.lon,
        position_at=utcnow() if body.lat is not None else None,
    )
    session.add(unit)
    await session.flush()
    events.record(session, actor, "unit.created", unit_id=unit.id,
                  data={"unit": unit.call_sign, "type": unit.type, "status": unit.status})
    audit.append(session, actor, "unit.create", component=COMPONENT, target_type="unit", target_id=unit.id)
    return unit


async def get_unit(session: AsyncSession, unit_id: int, *, lock: bool = False) -> Unit:
    return await fetch(session, Unit, unit_id, "unit", lock=lock)


async def list_units(session: AsyncSession, *, status: str | None = None, type_: str | None = None) -> list[Unit]:
    stmt = select(Unit).order_by(Unit.call_sign)
    if status:
        stmt = stmt.where(Unit.status == status)
    if type_:
        stmt = stmt.where(Unit.type == type_)
    return list((await session.execute(stmt)).scalars())


async def update_position(session: AsyncSession, unit_id: int, lat: float, lon: float, at: datetime | None,
                          *, speed_kmh: float | None = None, heading: float | None = None) -> Unit:
    """Append the fix to the unit's track and move the unit if the fix is its newest. Positions are
    not timeline events (they would drown it); they are streamed live instead."""
    unit = await get_unit(session, unit_id)
    now = utcnow()
    # A device clock running ahead would otherwise pin the unit to this fix until real time caught
    # up (newer fixes would look older): a fix is never later than its arrival.
    at = min(at, now) if at is not None else now
    session.add(UnitPosition(unit_id=unit_id, at=at, lat=lat, lon=lon, speed_kmh=speed_kmh, heading=heading,
                             received_at=now))
    if unit.position_at is None or at >= unit.position_at:
        unit.lat, unit.lon, unit.position_at = lat, lon, at
    return unit


async def track(session: AsyncSession, unit_id: int, since: datetime | None, until: datetime | None,
                limit: int = 10000) -> list[UnitPosition]:
    await get_unit(session, unit_id)
    stmt = select(UnitPosition).where(UnitPosition.unit_id == unit_id)
    if since is not None:
        stmt = stmt.where(UnitPosition.at >= since)
    if until is not None:
        stmt = stmt.where(UnitPosition.at <= until)
    stmt = stmt.order_by(UnitPosition.at, UnitPosition.id).limit(limit)
    return list((await session.execute(stmt)).scalars())


async def set_unit_status(session: AsyncSession, actor: Actor, unit_id: int, status: UnitStatus) -> Unit:
    """On/off duty by hand. Busy states follow instructions and cannot be set here."""
    if status not in (UnitStatus.AVAILABLE, UnitStatus.OFF_DUTY):
        raise InvalidInput("status", "only available or off_duty can be set by hand")
    unit = await get_unit(session, unit_id, lock=True)
    if unit.status not in (UnitStatus.AVAILABLE, UnitStatus.OFF_DUTY):
        raise DomainError(f"unit {unit.call_sign} is '{unit.status}' on an instruction", state=unit.status,
                          code="unit_busy")
    if unit.status != status:
        events.record(session, actor, "unit.status", unit_id=unit.id,
                      data={"unit": unit.call_sign, "from": unit.status, "to": status.value})
        audit.append(session, actor, "unit.status", component=COMPONENT, target_type="unit",
                     target_id=unit.id, detail={"to": status.value})
        unit.status = status.value
    return unit


async def dispatch(
    session: AsyncSession, actor: Actor, settings: Settings, incident_id: int, unit_ids: list[int],
    content: str | None = None,
) -> list[Instruction]:
    """Send units point-to-point: one 处警指令 per unit; every unit must be available."""
    incident = await incidents.get_incident(session, incident_id, lock=True)
    if IncidentStatus(incident.status) not in DISPATCHABLE:
        raise DomainError(f"incident is '{incident.status}' and cannot be dispatched", state=incident.status,
                          code="illegal_transition")
    units = []
    for unit_id in sorted(unit_ids):  # a fixed lock order: no deadlocks between two dispatchers
        unit = await get_unit(session, unit_id, lock=True)
        require_available(unit.call_sign, unit.status)
        units.append(unit)
    text = content or f"{categories().label(incident.category_code)}：{incident.address or ''} {incident.description}"
    created = await instructions.issue(
        session, actor, settings, kind=InstructionKind.DISPATCH, units=units, content=text.strip(),
        urgent=incident.urgent or incident.level == 1, incident_id=incident.id,
    )
    for unit in units:
        events.record(session, actor, "unit.status", unit_id=unit.id, incident_id=incident.id,
                      data={"unit": unit.call_sign, "from": unit.status, "to": UnitStatus.ASSIGNED.value})
        unit.status = UnitStatus.ASSIGNED.value
    await incidents.mark_dispatched(session, actor, incident)
    return created


def unit_out(unit: Unit) -> dict[str, object]:
    return {
        "id": unit.id, "call_sign": unit.call_sign, "name": unit.name, "type": unit.type,
        "org_id": unit.org_id, "status": unit.status, "status_label": UNIT_STATUS_LABELS[UnitStatus(unit.status)],
        "lat": unit.lat, "lon": unit.lon, "position_at": unit.position_at,
    }
