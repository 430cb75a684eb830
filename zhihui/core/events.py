"""Domain events: the incident timeline and the outbox of the live stream, in one table.

Every state change writes its event in the same transaction as the change, so the timeline can
never disagree with the state and a stream that reconnects with its last id misses nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from zhihui.core.auth import Actor
from zhihui.core.clock import utcnow
from zhihui.core.store import Base, UTCDateTime


class Event(Base):
    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    type: Mapped[str] = mapped_column(String(48))  # incident.created, instruction.signed, ...
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    instruction_id: Mapped[int | None] = mapped_column(ForeignKey("instructions.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(20))
    seat: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)


def event_values(
    actor: Actor,
    type_: str,
    *,
    incident_id: int | None = None,
    instruction_id: int | None = None,
    unit_id: int | None = None,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Column values of one event (for a plain INSERT on hot paths)."""
    return {
        "at": at or utcnow(),
        "type": type_,
        "incident_id": incident_id,
        "instruction_id": instruction_id,
        "unit_id": unit_id,
        "user_id": actor.user_id,
        "username": actor.username,
        "role": actor.role,
        "seat": actor.seat,
        "data": data,
    }


def record(
    session: AsyncSession,
    actor: Actor,
    type_: str,
    *,
    incident_id: int | None = None,
    instruction_id: int | None = None,
    unit_id: int | None = None,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> Event:
    event = Event(**event_values(actor, type_, incident_id=incident_id, instruction_id=instruction_id,
                                 unit_id=unit_id, data=data, at=at))
    session.add(event)
    return event


def event_dict(e: Event) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": e.at.isoformat(),
        "type": e.type,
        "incident_id": e.incident_id,
        "instruction_id": e.instruction_id,
        "unit_id": e.unit_id,
        "user": e.username,
        "role": e.role,
        "seat": e.seat,
        "data": e.data or {},
    }


async def events_after(session: AsyncSession, after_id: int, *, limit: int = 500) -> list[Event]:
    rows = await session.execute(select(Event).where(Event.id > after_id).order_by(Event.id).limit(limit))
    return list(rows.scalars())


async def events_by_ids(session: AsyncSession, ids: list[int]) -> list[Event]:
    if not ids:
        return []
    rows = await session.execute(select(Event).where(Event.id.in_(ids)).order_by(Event.id))
    return list(rows.scalars())
