"""警情 tables."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from zhihui.core.clock import utcnow
from zhihui.core.store import Base, UTCDateTime


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        Index("ix_incidents_status_received", "status", "received_at"),
        Index("ix_incidents_category", "category_code"),
        # Risk flags at intake: repeat calls from a number or to a place in the last 30 days.
        Index("ix_incidents_caller_phone", "caller_phone", "received_at"),
        Index("ix_incidents_lat_lon", "lat", "lon"),
        Index("ix_incidents_address", "address"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    caller_phone: Mapped[str | None] = mapped_column(String(24))
    caller_name: Mapped[str | None] = mapped_column(String(64))
    recording_ref: Mapped[str | None] = mapped_column(String(64))  # 录音编号 of the call
    address: Mapped[str | None] = mapped_column(String(300))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    jurisdiction_org_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"))
    category_code: Mapped[str] = mapped_column(String(8))
    level: Mapped[int] = mapped_column(Integer)  # 1 = 一类 (most serious) .. 3 = 三类
    urgent: Mapped[bool] = mapped_column(Boolean)
    description: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    on_scene_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    close_deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    close_result: Mapped[str | None] = mapped_column(Text)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    seat: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class IdempotencyKey(Base):
    """Intake requests already answered: the same key returns the same incident."""

    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Counter(Base):
    """Named counters (daily incident sequence per centre)."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[int] = mapped_column(Integer)
