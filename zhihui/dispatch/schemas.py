"""API shapes for 警力 and 派警."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from zhihui.core.schemas import StrictModel
from zhihui.dispatch.domain import UnitStatus
from zhihui.incidents.categories import UNIT_TYPES
from zhihui.incidents.domain import checked_point

CRS = Literal["wgs84", "gcj02", "bd09"]
UnitType = Annotated[str, Field(pattern="^(" + "|".join(UNIT_TYPES) + ")$")]


class Point(StrictModel):
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]

    @model_validator(mode="after")
    def _china(self) -> Point:
        checked_point(self.lat, self.lon)
        return self


class UnitCreate(StrictModel):
    call_sign: Annotated[str, Field(min_length=1, max_length=32)]
    name: Annotated[str | None, Field(max_length=64)] = None
    type: UnitType = "patrol"
    org_id: int | None = None
    status: UnitStatus = UnitStatus.AVAILABLE
    lat: Annotated[float | None, Field(ge=-90, le=90)] = None
    lon: Annotated[float | None, Field(ge=-180, le=180)] = None
    crs: CRS = "wgs84"

    @model_validator(mode="after")
    def _point(self) -> UnitCreate:
        self.lat, self.lon = checked_point(self.lat, self.lon, self.crs)
        self.crs = "wgs84"
        return self


class PositionUpdate(Point):
    """A GPS fix. Phones running Chinese map apps report GCJ-02 (crs="gcj02"); it is stored as WGS-84."""

    at: datetime | None = None
    crs: CRS = "wgs84"
    speed_kmh: Annotated[float | None, Field(ge=0, le=400)] = None
    heading: Annotated[float | None, Field(ge=0, lt=360)] = None

    @model_validator(mode="after")
    def _to_wgs84(self) -> PositionUpdate:
        if self.at is not None and self.at.tzinfo is None:
            raise ValueError("at must carry a UTC offset")
        lat, lon = checked_point(self.lat, self.lon, self.crs)
        self.lat, self.lon, self.crs = lat, lon, "wgs84"  # type: ignore[assignment]
        return self


class UnitPositionReport(PositionUpdate):
    unit_id: int


class PositionBatch(StrictModel):
    positions: Annotated[list[UnitPositionReport], Field(min_length=1, max_length=1000)]


class UnitStatusUpdate(StrictModel):
    status: Annotated[UnitStatus, Field()]


class DispatchRequest(StrictModel):
    """Either name the units, or take the `recommended` fastest available ones by road."""

    unit_ids: Annotated[list[int] | None, Field(min_length=1, max_length=50)] = None
    recommended: Annotated[int | None, Field(ge=1, le=10)] = None
    content: Annotated[str | None, Field(max_length=2000)] = None

    @model_validator(mode="after")
    def _one_way(self) -> DispatchRequest:
        if (self.unit_ids is None) == (self.recommended is None):
            raise ValueError("give either unit_ids or recommended")
        if self.unit_ids is not None and len(set(self.unit_ids)) != len(self.unit_ids):
            raise ValueError("unit_ids contains duplicates")
        return self


class UnitOut(BaseModel):
    id: int
    call_sign: str
    name: str
    type: str
    org_id: int | None
    status: str
    status_label: str
    lat: float | None
    lon: float | None
    position_at: datetime | None
