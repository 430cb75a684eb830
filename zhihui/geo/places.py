"""Cameras and key places (警务要素): indexed points near an incident."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from zhihui.core.clock import utcnow
from zhihui.core.store import Base, UTCDateTime


class Camera(Base):
    __tablename__ = "cameras"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  # 点位编号
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16), default="road")  # road, checkpoint (卡口), public, building
    lat: Mapped[float] = mapped_column(Float, index=True)
    lon: Mapped[float] = mapped_column(Float)
    org_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"))
    stream_url: Mapped[str | None] = mapped_column(String(300))  # on the video private network
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
