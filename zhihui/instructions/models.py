"""指令 tables: one row per receiving unit; a multi-unit order shares a batch id."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from zhihui.core.clock import utcnow
from zhihui.core.store import Base, UTCDateTime


class Instruction(Base):
    __tablename__ = "instructions"
    __table_args__ = (
        Index("ix_instructions_status_sign", "status", "sign_deadline"),
        Index("ix_instructions_incident", "incident_id"),
        Index("ix_instructions_unit_status", "unit_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    batch_id: Mapped[str] = mapped_column(String(36))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    org_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"))  # receiving station for 核查指令
    content: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    urgent: Mapped[bool] = mapped_column(default=False)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    issued_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    sign_deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    feedback_deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    signed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    signed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    en_route_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    on_scene_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    feedback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result_code: Mapped[str | None] = mapped_column(String(32))
    feedback_text: Mapped[str | None] = mapped_column(Text)
    sign_overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    feedback_overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
