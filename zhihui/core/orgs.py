"""Organisations: bureau, command centre, police stations (派出所), brigades."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, String, select
from sqlalchemy.orm import Mapped, mapped_column

from zhihui.core.store import Base
from zhihui.geo.areas import JurisdictionIndex

ORG_KINDS = ("bureau", "command_center", "station", "brigade", "fire_station")


class Org(Base):
    __tablename__ = "orgs"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)  # 12-digit 公安机关机构代码
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("orgs.id"))
    # Station position and its 辖区 (jurisdiction) as a GeoJSON geometry in WGS-84.
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    boundary: Mapped[dict[str, Any] | None] = mapped_column(JSON)


JURISDICTION_CACHE_S = 60.0


async def jurisdiction_index(db: Any) -> JurisdictionIndex:
    """The station 辖区 index, rebuilt at most once a minute (boundaries change rarely; intake is hot)."""
    cached = db.cache.get("jurisdictions")
    if cached is not None and time.monotonic() - cached[0] < JURISDICTION_CACHE_S:
        return cached[1]
    async with db.read() as session:
        rows = (await session.execute(select(Org.id, Org.boundary).where(Org.boundary.is_not(None)))).all()
    index = JurisdictionIndex((r.id, r.boundary) for r in rows if r.boundary)  # JSON null is no area
    db.cache["jurisdictions"] = (time.monotonic(), index)
    return index


def forget_jurisdictions(db: Any) -> None:
    db.cache.pop("jurisdictions", None)
