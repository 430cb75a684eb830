"""Intake tables: 12345 hand-offs (非警务分流) and their lifecycle."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from zhihui.core.clock import utcnow
from zhihui.core.store import Base, UTCDateTime


class Handoff(Base):
    """One non-police matter handed to the 12345 government hotline, followed until 12345 answers.

    sent → accepted (12345 took it, work-order number) → answered (12345's feedback) → closed;
    or sent/accepted → returned (12345 says it is a police matter: the incident is reopened)."""

    __tablename__ = "handoffs"
    __table_args__ = (Index("ix_handoffs_status_sent", "status", "sent_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"), index=True)
    target: Mapped[str] = mapped_column(String(16), default="12345")
    department: Mapped[str | None] = mapped_column(String(64))  # 承办部门 suggested by the rule
    rule_id: Mapped[str | None] = mapped_column(String(64))  # diversion rule that advised it, if any
    status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text)
    external_ref: Mapped[str | None] = mapped_column(String(64))  # 12345 工单号
    result: Mapped[str | None] = mapped_column(String(32))
    feedback_text: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
